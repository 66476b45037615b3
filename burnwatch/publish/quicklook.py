"""PNG quicklooks of scenes and fire masks, ready to lay over a web map.

A quicklook is a percentile-stretched colour composite: true colour (red/green/blue) when
the scene has those bands, otherwise a SWIR false colour in which active fires show bright
red/orange (swir2/nir/red, or swir2/swir1/nir-like when only the SWIR and a near-infrared
band exist, e.g. Sentinel-2 B12/B11/B9). Leaflet's ``L.imageOverlay`` stretches an image
linearly in Web-Mercator (EPSG:3857) between two lat/lon corners, so every overlay is warped
to EPSG:3857 here and its bounds given in WGS84; a UTM image placed by its lat/lon bounding
box alone would be sheared by the grid convergence.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from affine import Affine

from burnwatch.errors import InputError
from burnwatch.publish.cog import FIRE_CLASS_COLOURS, RGBA
from burnwatch.types import Scene

#: Composites tried in order. "true" needs red/green/blue; the false-colour ones keep SWIR-2
#: in the red channel so flaming fronts stand out.
TRUE_COLOUR: tuple[str, str, str] = ("red", "green", "blue")
FALSE_COLOURS: tuple[tuple[str, str, str], ...] = (
    ("swir2", "nir", "red"),
    ("swir2", "nir_narrow", "red"),
    ("swir2", "swir1", "nir"),
    ("swir2", "swir1", "nir_narrow"),
    ("swir2", "swir1", "wv"),
)

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class Overlay:
    """A PNG image and where it lies: ``bounds`` = (min_lon, min_lat, max_lon, max_lat), WGS84.

    The PNG is in Web-Mercator (EPSG:3857) geometry, north up, so Leaflet can place it by
    those bounds. ``filename`` is the name used when the image is written next to a map.
    """

    name: str
    png: bytes
    bounds: Bounds
    opacity: float = 1.0
    show: bool = True
    filename: str | None = None
    bands: tuple[str, ...] = ()

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.png)
        return path


def choose_composite(scene: Scene, mode: Literal["auto", "true", "false"] = "auto") -> tuple[str, str, str]:
    """The three band roles (R, G, B) to display for ``scene``; InputError if none fits."""
    candidates = {
        "auto": (TRUE_COLOUR, *FALSE_COLOURS),
        "true": (TRUE_COLOUR,),
        "false": FALSE_COLOURS,
    }.get(mode)
    if candidates is None:
        raise InputError(f"quicklook mode must be auto, true or false, got {mode!r}")
    for roles in candidates:
        if scene.has(*roles):
            return roles
    raise InputError(
        f"scene {scene.scene_id}: no {mode} colour composite from bands {sorted(scene.bands)}"
    )


def stretch(band: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """Linear stretch of ``band`` between its percentiles to uint8 1-255 (0 stays for invalid)."""
    values = np.asarray(band, dtype=np.float32)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    lo, hi = np.percentile(values[finite], percentiles)
    scale = 254.0 / (hi - lo) if hi > lo else 0.0
    out = np.clip((np.where(finite, values, lo) - lo) * scale + 1.0, 1.0, 255.0)
    return np.where(finite, out, 0.0).astype(np.uint8)


#: Share of each band's dark level removed by the true-colour stretch.
HAZE_REMOVED = 0.6


def _balanced_stretch(channels: Sequence[np.ndarray], percentiles: tuple[float, float]) -> list[np.ndarray]:
    """True colour as the eye expects it: each band's dark level (low percentile: mostly
    atmospheric path radiance, strongest in the blue) is removed, then one common gain is
    applied to all three bands so their balance is kept (a per-band stretch tints the image)."""
    lows, spans = [], []
    for c in channels:
        finite = c[np.isfinite(c)]
        lo, hi = np.percentile(finite, percentiles) if finite.size else (0.0, 1.0)
        lo *= HAZE_REMOVED  # keep some of the dark level: dark targets then stay dark, not black
        lows.append(float(lo))
        spans.append(float(hi - lo))
    span = max(max(spans), 1e-6)
    out = []
    for c, lo in zip(channels, lows, strict=True):
        finite = np.isfinite(c)
        v = np.clip((np.where(finite, c, lo) - lo) * (254.0 / span) + 1.0, 1.0, 255.0)
        out.append(np.where(finite, v, 0.0).astype(np.uint8))
    return out


def _decimation(shape: tuple[int, int], max_size: int) -> int:
    if max_size < 1:
        raise InputError(f"max_size must be positive, got {max_size}")
    return max(1, math.ceil(max(shape) / max_size))


def _block_max(a: np.ndarray, f: int) -> np.ndarray:
    """Max over f x f blocks (so single fire pixels survive downsampling)."""
    if f == 1:
        return a
    rows, cols = a.shape
    pad = np.zeros((math.ceil(rows / f) * f, math.ceil(cols / f) * f), dtype=a.dtype)
    pad[:rows, :cols] = a
    return pad.reshape(pad.shape[0] // f, f, pad.shape[1] // f, f).max(axis=(1, 3))


def to_mercator(rgba: np.ndarray, transform: Affine, crs: str) -> tuple[np.ndarray, Bounds]:
    """Warp a band-first RGBA uint8 image (4, rows, cols) to EPSG:3857, nearest neighbour.

    Returns the warped image and its WGS84 bounds (min_lon, min_lat, max_lon, max_lat).
    """
    from pyproj import Transformer
    from rasterio.crs import CRS
    from rasterio.errors import CRSError as RioCRSError
    from rasterio.transform import array_bounds
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    from burnwatch.errors import CRSError

    try:
        src_crs = CRS.from_user_input(crs)
    except (RioCRSError, ValueError, TypeError) as exc:
        raise CRSError(f"unknown CRS {crs!r}: {exc}") from exc
    count, rows, cols = rgba.shape
    merc = CRS.from_epsg(3857)
    if src_crs == merc:
        out, dst_transform = rgba, transform
    else:
        west, south, east, north = array_bounds(rows, cols, transform)
        guess, _, _ = calculate_default_transform(
            src_crs, merc, cols, rows, left=west, bottom=south, right=east, top=north
        )
        # GDAL's suggested grid may clip a corner by a fraction of a pixel; take the full
        # densified footprint at GDAL's resolution instead.
        mw, ms, me, mn = transform_bounds(src_crs, merc, west, south, east, north, densify_pts=21)
        res = abs(guess.a)
        width, height = max(1, math.ceil((me - mw) / res)), max(1, math.ceil((mn - ms) / res))
        dst_transform = Affine(res, 0.0, mw, 0.0, -res, mn)
        out = np.zeros((count, height, width), dtype=np.uint8)
        reproject(
            rgba, out, src_transform=transform, src_crs=src_crs, dst_transform=dst_transform,
            dst_crs=merc, resampling=Resampling.nearest, src_nodata=None, dst_nodata=None,
        )
    west, south, east, north = array_bounds(out.shape[1], out.shape[2], dst_transform)
    to_wgs84 = Transformer.from_crs(3857, 4326, always_xy=True)
    min_lon, min_lat = to_wgs84.transform(west, south)
    max_lon, max_lat = to_wgs84.transform(east, north)
    return out, (float(min_lon), float(min_lat), float(max_lon), float(max_lat))


def encode_png(rgba: np.ndarray) -> bytes:
    """PNG bytes of a band-first (4, rows, cols) or (rows, cols, 4) uint8 RGBA array."""
    from PIL import Image

    arr = np.asarray(rgba, dtype=np.uint8)
    if arr.ndim == 3 and arr.shape[0] == 4 and arr.shape[2] != 4:
        arr = np.moveaxis(arr, 0, -1)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr), mode="RGBA").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def scene_quicklook(
    scene: Scene,
    mode: Literal["auto", "true", "false"] = "auto",
    *,
    bands: Sequence[str] | None = None,
    max_size: int = 2048,
    percentiles: tuple[float, float] = (2.0, 98.0),
    opacity: float = 1.0,
) -> Overlay:
    """A colour-composite quicklook of ``scene`` as a map overlay.

    ``bands`` forces three roles (R, G, B); otherwise :func:`choose_composite` picks them.
    The scene is subsampled so its longer side is at most ``max_size`` pixels, each band
    stretched between ``percentiles`` of its valid pixels, and pixels invalid (NaN) in any
    band are transparent.
    """
    roles = tuple(bands) if bands is not None else choose_composite(scene, mode)
    if len(roles) != 3 or not scene.has(*roles):
        raise InputError(f"scene {scene.scene_id}: cannot show bands {roles}; it has {sorted(scene.bands)}")
    f = _decimation(scene.shape, max_size)
    channels = [np.asarray(scene.bands[r])[::f, ::f] for r in roles]
    valid = np.logical_and.reduce([np.isfinite(c) for c in channels])
    if not valid.any():
        raise InputError(f"scene {scene.scene_id}: no valid pixels to show")
    if roles == TRUE_COLOUR:
        rgb = _balanced_stretch([np.where(valid, c, np.nan) for c in channels], percentiles)
    else:
        rgb = [stretch(np.where(valid, c, np.nan), percentiles) for c in channels]
    rgba = np.stack([*rgb, np.where(valid, 255, 0).astype(np.uint8)])
    warped, bounds = to_mercator(rgba, scene.transform @ Affine.scale(f), scene.crs)
    kind = "true colour" if roles == TRUE_COLOUR else "false colour"
    return Overlay(
        name=f"{scene.scene_id} {kind} ({'/'.join(roles)})",
        png=encode_png(warped),
        bounds=bounds,
        opacity=opacity,
        filename=f"{_safe(scene.scene_id)}_quicklook.png",
        bands=roles,
    )


def mask_overlay_png(
    confidence: np.ndarray, colours: Mapping[int, RGBA] = FIRE_CLASS_COLOURS
) -> bytes:
    """PNG of a uint8 class map in pixel geometry: ``colours`` per value, transparent at 0
    and at values without a colour."""
    return encode_png(_colourise(confidence, colours))


def _colourise(classes: np.ndarray, colours: Mapping[int, RGBA]) -> np.ndarray:
    arr = np.asarray(classes)
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise InputError(f"class map must be a 2-D uint8 array, got {arr.dtype} {arr.shape}")
    lut = np.zeros((256, 4), dtype=np.uint8)
    for value, rgba in colours.items():
        if value != 0:
            lut[int(value)] = rgba
    return np.moveaxis(lut[arr], -1, 0)


def mask_overlay(
    confidence: np.ndarray,
    transform: Affine,
    crs: str,
    *,
    name: str = "fire mask",
    colours: Mapping[int, RGBA] = FIRE_CLASS_COLOURS,
    max_size: int = 2048,
    opacity: float = 0.9,
) -> Overlay:
    """The fire confidence class map (uint8 0-3 on the scene grid ``transform``/``crs``) as a
    map overlay: coloured by class, transparent where 0. When subsampled, each output pixel
    keeps the highest class of its block so single fire pixels stay visible."""
    arr = np.asarray(confidence)
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise InputError(f"class map must be a 2-D uint8 array, got {arr.dtype} {arr.shape}")
    f = _decimation((int(arr.shape[0]), int(arr.shape[1])), max_size)
    rgba = _colourise(_block_max(arr, f), colours)
    warped, bounds = to_mercator(rgba, transform @ Affine.scale(f), crs)
    return Overlay(name=name, png=encode_png(warped), bounds=bounds, opacity=opacity,
                   filename=f"{_safe(name)}.png")


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._") or "overlay"
