"""Map layers for aerosol grids: float32 COGs, classed colour COGs and PNG legends.

PM2.5 classes use the Vietnamese air-quality index VN_AQI (Decision 1459/QĐ-TCMT of
12 Nov 2019, Vietnam Environment Administration): 24-h PM2.5 breakpoints 0, 25, 50, 80, 150,
250, 350, 500 µg/m³ for index values 0, 50, 100, 150, 200, 300, 400, 500, and the official
colours (RGB) good 0;228;0, moderate 255;255;0, poor 255;126;0, bad 255;0;0, very bad
143;63;151, hazardous 126;0;35 (as published by the Vietnam Environment Administration,
cem.gov.vn, 13 Nov 2019).  Index 301-500 is one "hazardous" class, so there are six colours.

COGs: float layers are written with rasterio's COG driver directly so the acquisition time,
quantity and units can travel as GeoTIFF tags (``TIME``, ``QUANTITY``, ``UNITS``); classed
layers go through :func:`burnwatch.publish.cog.write_cog`.  Both validate with
:func:`burnwatch.publish.cog.validate_cog`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from affine import Affine

from burnwatch.aerosol.grid import QA_GOOD, QA_MARGINAL, QA_NONE, UNITS, AerosolGrid
from burnwatch.errors import CRSError
from burnwatch.publish.cog import ClassedRamp, colormap_from_breakpoints, write_cog

#: VN_AQI PM2.5 breakpoints (µg/m³) and the index value at each (Decision 1459/QĐ-TCMT).
VN_AQI_PM25_BREAKPOINTS: tuple[float, ...] = (0.0, 25.0, 50.0, 80.0, 150.0, 250.0, 350.0, 500.0)
VN_AQI_INDEX: tuple[float, ...] = (0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0)
VN_AQI_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 228, 0),  # 0-50 Tốt (good)
    (255, 255, 0),  # 51-100 Trung bình (moderate)
    (255, 126, 0),  # 101-150 Kém (poor)
    (255, 0, 0),  # 151-200 Xấu (bad)
    (143, 63, 151),  # 201-300 Rất xấu (very bad)
    (126, 0, 35),  # 301-500 Nguy hại (hazardous)
)
VN_AQI_LABELS: tuple[str, ...] = ("Good", "Moderate", "Poor", "Bad", "Very bad", "Hazardous")
VN_AQI_RAMP: ClassedRamp = colormap_from_breakpoints((25.0, 50.0, 80.0, 150.0, 250.0), VN_AQI_COLOURS)

#: AOD(550 nm) classes, a sequential yellow-orange-brown ramp (ColorBrewer YlOrBr).
AOD_RAMP: ClassedRamp = colormap_from_breakpoints(
    (0.1, 0.2, 0.4, 0.7, 1.0, 1.5),
    (
        (255, 255, 212),
        (254, 227, 145),
        (254, 196, 79),
        (254, 153, 41),
        (236, 112, 20),
        (204, 76, 2),
        (140, 45, 4),
    ),
)
QUALITY_COLOURS: Mapping[int, tuple[int, int, int, int]] = {
    QA_GOOD: (26, 152, 80, 255),
    QA_MARGINAL: (254, 224, 139, 255),
    QA_NONE: (160, 160, 160, 255),
}


def pm25_to_vn_aqi(pm25: np.ndarray | float) -> np.ndarray:
    """VN_AQI sub-index for PM2.5 (µg/m³) by linear interpolation between breakpoints.

    Values above 500 µg/m³ extrapolate along the last segment; NaN stays NaN.
    """
    pm = np.asarray(pm25, dtype=np.float64)
    bp, idx = np.asarray(VN_AQI_PM25_BREAKPOINTS), np.asarray(VN_AQI_INDEX)
    aqi = np.interp(pm, bp, idx)
    over = pm > bp[-1]
    slope = (idx[-1] - idx[-2]) / (bp[-1] - bp[-2])
    aqi = np.where(over, idx[-1] + (pm - bp[-1]) * slope, aqi)
    return np.where(np.isfinite(pm), np.round(aqi), np.nan)


def write_float_cog(
    path: Path,
    values: np.ndarray,
    transform: Affine,
    crs: str,
    tags: Mapping[str, str] | None = None,
    band_tags: Mapping[str, str] | None = None,
) -> Path:
    """float32 COG with NaN nodata, average-resampled overviews and GeoTIFF tags."""
    import rasterio
    from rasterio.crs import CRS

    path = Path(path)
    try:
        crs_obj = CRS.from_user_input(crs)
    except Exception as exc:  # rasterio raises several types for unknown CRSs
        raise CRSError(f"unknown CRS {crs!r}: {exc}", path=path) from exc
    data = np.asarray(values, dtype=np.float32)
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": "float32",
        "crs": crs_obj,
        "transform": transform,
        "nodata": float("nan"),
        "BLOCKSIZE": 512,
        "COMPRESS": "DEFLATE",
        "PREDICTOR": "YES",
        "OVERVIEW_RESAMPLING": "AVERAGE",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(data, 1)
            if tags:
                dst.update_tags(**tags)
            if band_tags:
                dst.update_tags(1, **band_tags)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_legend(path: Path, ramp: ClassedRamp, title: str, labels: Sequence[str] | None = None) -> Path:
    """A small PNG legend (one swatch per class) drawn with matplotlib's Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    names = list(labels) if labels else ramp.labels()
    ranges = ramp.labels()
    n = len(ramp.colours)
    fig = Figure(figsize=(2.8, 0.35 * n + 0.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, n + 1.3)
    ax.axis("off")
    ax.text(0.3, n + 0.5, title, fontsize=9, fontweight="bold", va="center")
    for i, colour in enumerate(ramp.colours):
        y = n - 1 - i + 0.15
        ax.add_patch(Rectangle((0.3, y), 1.2, 0.7, facecolor=[c / 255 for c in colour[:3]], edgecolor="0.3"))
        text = f"{names[i]} ({ranges[i]})" if labels else ranges[i]
        ax.text(1.8, y + 0.35, text, fontsize=8, va="center")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def write_grid_layers(grid: AerosolGrid, out_dir: Path, stem: str) -> dict[str, Path]:
    """Write ``grid`` as map layers; returns {"values", "classes", "quality", "legend"} paths.

    PM2.5 grids are classed with the VN_AQI ramp, AOD and aerosol index with :data:`AOD_RAMP`.
    """
    out = Path(out_dir)
    tags = {
        "TIME": grid.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "QUANTITY": grid.quantity,
        "SOURCE": grid.source,
        "SCENE_ID": grid.scene_id,
    }
    calibrated = grid.metadata.get("calibrated")
    if calibrated is not None:
        tags["CALIBRATED"] = str(bool(calibrated)).lower()
    paths = {
        "values": write_float_cog(
            out / f"{stem}.tif", grid.values, grid.transform, grid.crs, tags, {"UNITS": UNITS[grid.quantity]}
        )
    }
    ramp, title, labels = (
        (VN_AQI_RAMP, "PM2.5 (µg/m³), VN_AQI", VN_AQI_LABELS)
        if grid.quantity == "pm25"
        else (AOD_RAMP, "AOD 550 nm" if grid.quantity == "aod550" else "Aerosol index", None)
    )
    paths["classes"] = write_cog(
        out / f"{stem}_classes.tif",
        ramp.classify(grid.values),
        grid.transform,
        grid.crs,
        colormap=ramp.colormap,
    )
    paths["quality"] = write_cog(
        out / f"{stem}_quality.tif",
        grid.quality.astype(np.uint8),
        grid.transform,
        grid.crs,
        colormap=QUALITY_COLOURS,
    )
    paths["legend"] = write_legend(out / f"{stem}_legend.png", ramp, title, labels)
    return paths
