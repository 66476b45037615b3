"""Raster layers (fire mask, AOD, PM2.5 COGs) rendered server-side to PNG overlays.

No tile server: each COG under ``<data_dir>/layers`` is warped once to Web Mercator
(EPSG:3857, at most :data:`MAX_SIDE` pixels a side, nearest-neighbour for masks and
classes, bilinear for continuous fields), coloured, and served as a PNG with its WGS84
corner bounds for ``L.imageOverlay`` (which stretches linearly in Mercator, so the image
lines up). Continuous layers use matplotlib's *inferno* ramp between the 2nd and 98th
percentiles; a COG's own colour table wins when it has one. Nodata/NaN is transparent.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from burnwatch.errors import CorruptFileError, NotFoundError

MAX_SIDE = 1024
_NAME = re.compile(r"^[\w][\w.-]{0,120}\.tif{1,2}$")


@dataclass(frozen=True)
class RasterLayer:
    name: str
    kind: str  # fire | aod | pm25 | other
    path: Path


def kind_of(name: str) -> str:
    low = name.lower()
    for key, kind in (("fire", "fire"), ("mask", "fire"), ("aod", "aod"), ("pm25", "pm25"), ("pm2", "pm25")):
        if key in low:
            return kind
    return "other"


def list_layers(folder: Path) -> list[RasterLayer]:
    if not folder.is_dir():
        return []
    return [
        RasterLayer(p.name, kind_of(p.name), p)
        for p in sorted(folder.iterdir())
        if p.is_file() and _NAME.match(p.name)
    ]


def find_layer(folder: Path, name: str) -> RasterLayer:
    """The layer called ``name`` among those listed (never a path built from user input)."""
    for layer in list_layers(folder):
        if layer.name == name:
            return layer
    raise NotFoundError(f"no raster layer {name!r}")


def render_png(path: Path, kind: str) -> tuple[bytes, tuple[float, float, float, float]]:
    """PNG bytes and WGS84 bounds (west, south, east, north) of a raster's first band."""
    st = path.stat()
    return _render(str(path), st.st_mtime_ns, st.st_size, kind)


@lru_cache(maxsize=32)
def _render(path: str, _mtime: int, _size: int, kind: str) -> tuple[bytes, tuple[float, float, float, float]]:
    import rasterio
    from affine import Affine
    from PIL import Image
    from rasterio.errors import RasterioIOError
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise CorruptFileError("raster has no CRS", path=path)
            dst_crs = "EPSG:3857"
            transform, width, height = calculate_default_transform(
                src.crs, dst_crs, src.width, src.height, *src.bounds
            )
            scale = max(width, height) / MAX_SIDE
            if scale > 1:
                transform = transform @ Affine.scale(scale, scale)
                width, height = max(1, round(width / scale)), max(1, round(height / scale))
            categorical = kind == "fire" or src.dtypes[0].startswith(("uint8", "int8"))
            data = np.full((height, width), np.nan, np.float32)
            reproject(
                source=src.read(1).astype(np.float32),
                destination=data,
                src_transform=src.transform,
                src_crs=src.crs,
                src_nodata=src.nodata,
                dst_transform=transform,
                dst_crs=dst_crs,
                dst_nodata=np.nan,
                resampling=Resampling.nearest if categorical else Resampling.bilinear,
            )
            try:
                cmap = src.colormap(1)
            except ValueError:
                cmap = None
            left, top = transform @ (0, 0)
            right, bottom = transform @ (width, height)
            bounds = transform_bounds(dst_crs, "EPSG:4326", left, bottom, right, top)
    except RasterioIOError as exc:
        raise CorruptFileError(f"not a readable raster: {exc}", path=path) from exc
    rgba = np.zeros((height, width, 4), np.uint8)
    valid = np.isfinite(data)
    if cmap:
        lut = np.zeros((256, 4), np.uint8)
        for value, colour in cmap.items():
            if 0 <= value < 256:
                lut[value] = colour
        idx = np.clip(np.nan_to_num(data, nan=0), 0, 255).astype(np.uint8)
        rgba = lut[idx]
        rgba[~valid] = 0
    elif categorical:
        on = valid & (data > 0)
        rgba[on] = (220, 30, 30, 200)
    elif valid.any():
        from matplotlib import colormaps

        lo, hi = np.nanpercentile(data[valid], [2, 98])
        norm = np.clip((data - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
        rgba = (colormaps["inferno"](np.nan_to_num(norm)) * 255).astype(np.uint8)
        rgba[..., 3] = np.where(valid, 170, 0)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG", optimize=False)
    w, s, e, n = bounds
    return buf.getvalue(), (float(w), float(s), float(e), float(n))
