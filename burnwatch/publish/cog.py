"""Cloud-Optimised GeoTIFF writer and validator.

A COG here is a GeoTIFF with 512x512 internal tiles, DEFLATE compression, internal overviews
(GDAL's COG driver builds them until the smallest fits in one tile) and the IFDs ordered for
HTTP range reads, as specified by the COG profile (https://cogeo.org, OGC 21-026).
Validation uses ``rio_cogeo.cogeo.cog_validate`` (port of GDAL's ``validate_cloud_optimized_geotiff.py``).

Two kinds of raster are published:

* classed ``uint8`` rasters with an embedded colour table, e.g. the fire confidence map
  (:data:`FIRE_CLASS_COLOURS`: 0 none, 1 low, 2 nominal, 3 high);
* continuous ``float32`` rasters (AOD, PM2.5 in µg/m³) with NaN nodata; their colour ramp is
  published as a separate classed ``uint8`` COG made with :func:`colormap_from_breakpoints`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from burnwatch.errors import CorruptFileError, CRSError, InputError

log = logging.getLogger(__name__)

RGBA = tuple[int, int, int, int]

#: Colour table for the per-pixel fire confidence class map (uint8 0-3).
FIRE_CLASS_COLOURS: dict[int, RGBA] = {
    0: (0, 0, 0, 0),
    1: (255, 221, 0, 255),  # low: yellow
    2: (255, 140, 0, 255),  # nominal: orange
    3: (220, 20, 20, 255),  # high: red
}

_RESAMPLING = {"nearest", "average", "bilinear", "cubic", "mode", "rms", "min", "max"}


def _check_colour(colour: Sequence[int], path: Path | None = None) -> RGBA:
    if len(colour) not in (3, 4) or not all(0 <= int(c) <= 255 for c in colour):
        raise InputError(f"colour {tuple(colour)} is not an RGB(A) tuple of 0-255 integers", path=path)
    rgba = tuple(int(c) for c in colour) + ((255,) if len(colour) == 3 else ())
    return (rgba[0], rgba[1], rgba[2], rgba[3])


def write_cog(
    path: Path,
    array: np.ndarray,
    transform: Affine,
    crs: str,
    nodata: float | None = None,
    colormap: Mapping[int, Sequence[int]] | None = None,
    band_descriptions: Sequence[str] | None = None,
    overview_resampling: str = "nearest",
) -> Path:
    """Write ``array`` as a Cloud-Optimised GeoTIFF at ``path`` and return the path.

    ``array`` is 2-D (rows, cols) or 3-D band-first (bands, rows, cols); any numeric dtype
    GeoTIFF supports. ``transform`` maps pixel corners to ``crs`` coordinates (rasterio
    convention); ``crs`` is anything ``rasterio.crs.CRS.from_user_input`` accepts.
    ``colormap`` (value -> RGB(A)) is embedded as a palette and needs single-band ``uint8``.
    ``overview_resampling`` should be "nearest" or "mode" for classes, "average" for
    continuous values. Float arrays default to NaN nodata.
    """
    import rasterio
    from rasterio.crs import CRS
    from rasterio.errors import CRSError as RioCRSError

    path = Path(path)
    data = np.asarray(array)
    if data.ndim == 2:
        data = data[np.newaxis, ...]
    if data.ndim != 3 or 0 in data.shape:
        raise InputError(f"expected a 2-D or band-first 3-D array, got shape {np.shape(array)}", path=path)
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    if data.dtype == np.float16 or data.dtype.kind == "c":
        raise InputError(f"dtype {data.dtype} cannot be written to GeoTIFF", path=path)
    if overview_resampling not in _RESAMPLING:
        raise InputError(f"overview_resampling must be one of {sorted(_RESAMPLING)}", path=path)
    if colormap is not None and (data.shape[0] != 1 or data.dtype != np.uint8):
        raise InputError("a colour map needs a single-band uint8 array", path=path)
    if band_descriptions is not None and len(band_descriptions) != data.shape[0]:
        raise InputError(
            f"{len(band_descriptions)} band descriptions for {data.shape[0]} bands", path=path
        )
    palette = None if colormap is None else {int(k): _check_colour(v, path) for k, v in colormap.items()}
    try:
        crs_obj = CRS.from_user_input(crs)
    except (RioCRSError, ValueError, TypeError) as exc:
        raise CRSError(f"unknown CRS {crs!r}: {exc}", path=path) from exc
    if nodata is None and data.dtype.kind == "f":
        nodata = float("nan")

    profile: dict[str, Any] = {
        "driver": "COG",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": crs_obj,
        "transform": transform,
        "nodata": nodata,
        "BLOCKSIZE": 512,
        "COMPRESS": "DEFLATE",
        "PREDICTOR": "YES" if colormap is None else "NO",
        "OVERVIEWS": "IGNORE_EXISTING",
        "OVERVIEW_RESAMPLING": overview_resampling.upper(),
        "BIGTIFF": "IF_SAFER",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data)
            if palette is not None:
                dst.write_colormap(1, palette)
            if band_descriptions is not None:
                for i, desc in enumerate(band_descriptions, start=1):
                    dst.set_band_description(i, desc)
        tmp.replace(path)  # readers never see a half-written file
    finally:
        tmp.unlink(missing_ok=True)
    log.debug("wrote COG %s (%s, %s bands)", path, data.dtype, data.shape[0])
    return path


def validate_cog(path: Path, *, strict: bool = False) -> bool:
    """True when ``path`` is a valid Cloud-Optimised GeoTIFF (``rio_cogeo`` validation).

    With ``strict`` warnings (e.g. a large image without overviews) count as failures.
    A missing or unreadable file raises CorruptFileError.
    """
    from rio_cogeo.cogeo import cog_validate

    path = Path(path)
    if not path.is_file():
        raise CorruptFileError("no such file", path=path)
    try:
        valid, errors, warnings = cog_validate(str(path), strict=strict, quiet=True)
    except Exception as exc:  # rasterio/GDAL raise several types for unreadable files
        raise CorruptFileError(f"not a readable GeoTIFF: {exc}", path=path) from exc
    for message in (*errors, *warnings):
        log.info("%s: %s", path, message)
    return bool(valid)


@dataclass(frozen=True)
class ClassedRamp:
    """A colour ramp that bins a continuous raster into classes.

    ``breaks`` are the ascending inner class edges (units of the data, e.g. µg/m³);
    ``colours`` has one more entry than ``breaks``. Class ``i`` (1-based) holds values in
    ``[breaks[i-2], breaks[i-1])``; class 1 is everything below ``breaks[0]`` and the last class
    everything at or above ``breaks[-1]``. Class 0 is nodata (NaN), transparent.
    """

    breaks: tuple[float, ...]
    colours: tuple[RGBA, ...]

    @property
    def colormap(self) -> dict[int, RGBA]:
        """Palette for the classed uint8 raster, 0 transparent."""
        return {0: (0, 0, 0, 0), **{i + 1: c for i, c in enumerate(self.colours)}}

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Class index (uint8, 0 = nodata) for every value."""
        values = np.asarray(values, dtype=np.float64)
        classes = np.digitize(values, np.asarray(self.breaks), right=False) + 1
        classes[~np.isfinite(values)] = 0
        return classes.astype(np.uint8)

    def labels(self, fmt: str = "{:g}") -> list[str]:
        """Human-readable class ranges for a legend, e.g. ['< 12', '12-35.4', ..., '>= 250']."""
        b = [fmt.format(x) for x in self.breaks]
        if not b:
            return ["all"]
        return [f"< {b[0]}", *(f"{lo}-{hi}" for lo, hi in itertools.pairwise(b)), f">= {b[-1]}"]


def colormap_from_breakpoints(breaks: Sequence[float], colours: Sequence[Sequence[int]]) -> ClassedRamp:
    """Build a :class:`ClassedRamp` from inner class edges and ``len(breaks) + 1`` colours."""
    edges = tuple(float(b) for b in breaks)
    if not all(np.isfinite(edges)) or any(b >= a for b, a in itertools.pairwise(edges)):
        raise InputError(f"breaks must be finite and strictly ascending, got {list(breaks)}")
    if len(colours) != len(edges) + 1:
        raise InputError(f"{len(edges)} breaks need {len(edges) + 1} colours, got {len(colours)}")
    if len(colours) > 255:
        raise InputError("at most 255 classes fit a uint8 raster")
    return ClassedRamp(edges, tuple(_check_colour(c) for c in colours))


def write_classed_cogs(
    path: Path,
    values: np.ndarray,
    transform: Affine,
    crs: str,
    ramp: ClassedRamp,
    description: str = "value",
) -> tuple[Path, Path]:
    """Write a continuous raster twice: ``path`` as float32 COG (NaN nodata, average
    overviews) and ``<stem>_classes.tif`` as uint8 COG classed by ``ramp`` with its palette.

    Returns (float_cog, classed_cog).
    """
    path = Path(path)
    data = np.asarray(values, dtype=np.float32)
    float_path = write_cog(
        path, data, transform, crs, band_descriptions=[description], overview_resampling="average"
    )
    classed_path = write_cog(
        path.with_name(f"{path.stem}_classes.tif"),
        ramp.classify(data),
        transform,
        crs,
        nodata=0,
        colormap=ramp.colormap,
        band_descriptions=[f"{description} class"],
        overview_resampling="mode",
    )
    return float_path, classed_path
