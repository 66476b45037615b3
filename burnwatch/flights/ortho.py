"""Fire and smoke on an orthomosaic GeoTIFF: windowed detection, georeferenced boxes.

An orthomosaic that comes with a flight is already on the ground, so no camera model is
needed: the detector runs over overlapping windows (``tile_px`` with ``overlap_px`` so any
fire smaller than the overlap is seen whole in at least one window); boxes smaller than the
overlap that touch a window edge shared with a neighbour are dropped (the neighbour sees them
whole), boxes found twice in an overlap are merged (same class, IoU >= 0.5 or >= 70 % of the
smaller box inside the larger; the higher score wins), and each box's corners go through the
GeoTIFF's affine transform into its CRS, then into the flight's UTM CRS and WGS84.

Uncertainty of a box centre: the orthomosaic's own georeferencing error (``ortho_sigma_m``,
default 2.5 m: a GNSS-only mosaic without ground control is as good as the consumer GNSS
fixes it was made from; pass less for an RTK or GCP-controlled one) and one pixel, combined
in quadrature.

:func:`scan_orthomosaic` runs in a worker process (small picklable result, never raises for
bad input); :func:`place_ortho_detections` georeferences in the parent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Polygon

from burnwatch.flights.place import ALGORITHM, PlacedDetection, confidence_class
from burnwatch.types import Box, Detection, Hotspot

DEFAULT_TILE_PX = 2048
DEFAULT_OVERLAP_PX = 256
ORTHO_SIGMA_M = 2.5
#: Largest orthomosaic scanned (pixels); beyond it the file is refused, not silently sampled.
MAX_ORTHO_PIXELS = 40_000 * 40_000


@dataclass
class OrthoOutcome:
    """What a worker returns for one orthomosaic (detections in full-mosaic pixels)."""

    path: str
    crs: str | None = None
    transform: tuple[float, float, float, float, float, float] | None = None  # affine a, b, c, d, e, f
    width: int = 0
    height: int = 0
    time_tag: str | None = None  # TIFF DateTime, "YYYY:MM:DD HH:MM:SS", if any
    detections: list[Detection] = field(default_factory=list)
    windows: int = 0
    seconds: float = 0.0
    error: str | None = None


def scan_task(
    path: str, tile_px: int = DEFAULT_TILE_PX, overlap_px: int = DEFAULT_OVERLAP_PX
) -> OrthoOutcome:
    """Worker-process entry: scan with the detector built by
    :func:`burnwatch.flights.worker.init_worker` (georeference only when there is none)."""
    from burnwatch.flights.worker import current_detector

    det = current_detector()
    return scan_orthomosaic(path, det.detect_sliced if det is not None else None, tile_px, overlap_px)


def windows(width: int, height: int, tile: int, overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """(col_off, row_off, width, height) covering the raster with ``overlap`` px between windows."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile} px) must be larger than the overlap ({overlap} px)")
    step = tile - overlap

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        s = list(range(0, n - tile, step))
        return [*s, n - tile]

    for r in starts(height):
        for c in starts(width):
            yield c, r, min(tile, width - c), min(tile, height - r)


def to_rgb8(data: np.ndarray, valid: np.ndarray, lo_hi: tuple[float, float] | None = None) -> np.ndarray:
    """Bands x H x W (1, 3 or more bands, any dtype) -> H x W x 3 uint8; invalid pixels black.
    Non-8-bit data are stretched linearly between ``lo_hi`` (:func:`_stretch`)."""
    bands = data[:3] if data.shape[0] >= 3 else np.repeat(data[:1], 3, axis=0)
    if bands.dtype == np.uint8 and lo_hi is None:
        rgb = bands
    else:
        lo, hi = lo_hi if lo_hi is not None else (float(np.nanmin(bands)), float(np.nanmax(bands)))
        scaled = (bands.astype("float32") - lo) * (255.0 / max(hi - lo, 1e-9))
        rgb = np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)
    out = np.ascontiguousarray(np.moveaxis(rgb, 0, -1))
    out[~valid] = 0
    return out


def merge_detections(dets: list[Detection], iou: float = 0.5, contained: float = 0.7) -> list[Detection]:
    """Greedy per-class merge of duplicate boxes (highest score first)."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        a = d.box
        dup = False
        for k in kept:
            if k.class_name != d.class_name:
                continue
            b = k.box
            ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
            iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
            inter = ix * iy
            if inter <= 0:
                continue
            area_a, area_b = a.width * a.height, b.width * b.height
            if (
                inter / (area_a + area_b - inter) >= iou
                or inter / max(min(area_a, area_b), 1e-9) >= contained
            ):
                dup = True
                break
        if not dup:
            kept.append(d)
    return kept


def scan_orthomosaic(
    path: str,
    detect: Callable[[np.ndarray], list[Detection]] | None,
    tile_px: int = DEFAULT_TILE_PX,
    overlap_px: int = DEFAULT_OVERLAP_PX,
    max_pixels: int = MAX_ORTHO_PIXELS,
) -> OrthoOutcome:
    """Read ``path`` window by window and run ``detect`` (None: only read the georeference).
    Bad input is returned as ``error`` (naming the file), never raised."""
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    t0 = time.perf_counter()
    out = OrthoOutcome(path=path)
    name = Path(path).name
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                out.error = f"{path}: orthomosaic GeoTIFF without a CRS"
                return out
            if ds.transform.b != 0 or ds.transform.d != 0:
                out.error = f"{path}: rotated orthomosaic grids are not supported"
                return out
            if ds.width * ds.height > max_pixels:
                out.error = (
                    f"{path}: orthomosaic of {ds.width} x {ds.height} px is over the "
                    f"{max_pixels:,} px limit; tile it or lower its resolution"
                )
                return out
            t = ds.transform
            out.crs, out.width, out.height = ds.crs.to_string(), ds.width, ds.height
            out.transform = (t.a, t.b, t.c, t.d, t.e, t.f)
            out.time_tag = ds.tags().get("TIFFTAG_DATETIME")
            if detect is None:
                return out
            lo_hi = _stretch(ds)
            found: list[Detection] = []
            for c, r, w, h in windows(ds.width, ds.height, tile_px, overlap_px):
                win = Window(c, r, w, h)
                data = ds.read(indexes=list(range(1, min(ds.count, 3) + 1)), window=win)
                valid = ds.dataset_mask(window=win) > 0
                out.windows += 1
                if not valid.any():
                    continue
                for d in detect(to_rgb8(data, valid, lo_hi)):
                    b = d.box
                    if _cut_by_interior_edge(b, c, r, w, h, ds.width, ds.height, overlap_px):
                        continue  # whole in the neighbouring window
                    found.append(
                        Detection(
                            d.class_id,
                            d.class_name,
                            d.score,
                            Box(b.x1 + c, b.y1 + r, b.x2 + c, b.y2 + r),
                            name,
                        )
                    )
            out.detections = merge_detections(found)
    except RasterioError as exc:
        out.error = f"{path}: unreadable orthomosaic GeoTIFF ({exc})"
    finally:
        out.seconds = time.perf_counter() - t0
    return out


def _cut_by_interior_edge(
    b: Box, c: int, r: int, w: int, h: int, width: int, height: int, overlap: int, margin: float = 2.0
) -> bool:
    """A box (window pixels) touching a window edge shared with a neighbour, small enough
    (< overlap) to be seen whole in that neighbour."""
    if b.width >= overlap or b.height >= overlap:
        return False
    return (
        (c > 0 and b.x1 <= margin)
        or (r > 0 and b.y1 <= margin)
        or (c + w < width and b.x2 >= w - margin)
        or (r + h < height and b.y2 >= h - margin)
    )


def _stretch(ds: Any) -> tuple[float, float] | None:
    """Display range of a non-8-bit mosaic (None for uint8): 0 to the full scale of its bit
    depth (2^k - 1 for the smallest k of 8, 10, 12, 14, 16 covering the values of a
    decimated read; the float maximum otherwise). A linear scale from 0 keeps the colour
    ratios a fire is recognised by, and a full-scale top never saturates the brightest
    (burning) pixels, which a percentile stretch of the background would.
    ``ds``: an open rasterio dataset."""
    from rasterio.enums import Resampling

    if ds.dtypes[0] == "uint8":
        return None
    scale = max(1, math.ceil(max(ds.width, ds.height) / 1024))
    bands = min(ds.count, 3)
    small = ds.read(
        indexes=list(range(1, bands + 1)),
        out_shape=(bands, max(1, ds.height // scale), max(1, ds.width // scale)),
        resampling=Resampling.nearest,
        masked=True,
    )
    values = small.compressed().astype("float64")
    top = float(values.max()) if values.size else 1.0
    for bits in (8, 10, 12, 14, 16):
        if top <= 2**bits - 1:
            return 0.0, float(2**bits - 1)
    return 0.0, max(top, 1e-9)


def ortho_time(outcome: OrthoOutcome, fallback: datetime | None) -> tuple[datetime, str] | None:
    """The mosaic's acquisition time: its TIFF DateTime tag (taken as UTC, flag
    ``ortho-datetime-tag``), else ``fallback`` (the flight's photos, flag
    ``time-from-flight-photos``); None when neither exists."""
    if outcome.time_tag:
        try:
            when = datetime.strptime(outcome.time_tag.strip(), "%Y:%m:%d %H:%M:%S")
            return when.replace(tzinfo=timezone.utc), "ortho-datetime-tag"
        except ValueError:
            pass
    if fallback is not None:
        return fallback, "time-from-flight-photos"
    return None


def place_ortho_detections(
    outcome: OrthoOutcome,
    flight_id: str,
    crs: str,
    when: datetime,
    time_flag: str,
    sigma_m: float = ORTHO_SIGMA_M,
) -> list[PlacedDetection]:
    """Georeference ``outcome``'s boxes into ``crs`` (the flight's UTM) and WGS84 hotspots
    (``z`` is NaN: a mosaic carries no heights)."""
    from affine import Affine
    from pyproj import Transformer

    assert outcome.transform is not None and outcome.crs is not None
    t = Affine(*outcome.transform)
    to_native = Transformer.from_crs(outcome.crs, crs, always_xy=True)
    to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    name = Path(outcome.path).name
    placed = []
    for d in outcome.detections:
        b = d.box
        cols = np.array([b.x1, b.x2, b.x2, b.x1, (b.x1 + b.x2) / 2])
        rows = np.array([b.y1, b.y1, b.y2, b.y2, (b.y1 + b.y2) / 2])
        xs, ys = t.c + t.a * cols + t.b * rows, t.f + t.d * cols + t.e * rows
        nx, ny = to_native.transform(xs, ys)
        lon, lat = to_wgs.transform(nx, ny)
        native = Polygon(zip(nx[:4], ny[:4], strict=True))
        wgs = Polygon(zip(lon[:4], lat[:4], strict=True))
        pixel_m = math.hypot(nx[1] - nx[0], ny[1] - ny[0]) / max(b.width, 1e-9)
        unc = math.hypot(sigma_m, pixel_m)
        hs = Hotspot(
            source="drone",
            sensor="orthomosaic",
            algorithm=ALGORITHM,
            time=when,
            lon=float(lon[4]),
            lat=float(lat[4]),
            confidence=float(min(1.0, max(0.0, d.score))),
            confidence_class=confidence_class(d.score),
            footprint=wgs,
            crs=crs,
            x=float(nx[4]),
            y=float(ny[4]),
            footprint_native=native,
            pixel_count=round(b.width * b.height),
            uncertainty_m=round(unc, 2),
            scene_id=f"{flight_id}/{name}",
            kind="smoke" if d.class_name == "smoke" else "fire",
            attributes={
                "flight_id": flight_id,
                "photo": name,
                "orthomosaic": True,
                "box_x1": round(b.x1, 1),
                "box_y1": round(b.y1, 1),
                "box_x2": round(b.x2, 1),
                "box_y2": round(b.y2, 1),
                "score": round(d.score, 4),
            },
            flags=(time_flag,),
        )
        placed.append(
            PlacedDetection(
                d, float(nx[4]), float(ny[4]), math.nan, float(lon[4]), float(lat[4]), native, wgs, unc, hs
            )
        )
    return placed
