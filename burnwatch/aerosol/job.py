"""The aerosol job, top to bottom: grids -> PM2.5 -> layers -> smoke attribution -> summary.

Sources: ``demo`` (simulated smoky scene over the scan demo's burning fields, see
:func:`burnwatch.aerosol.simulate.demo_aerosol_scene`), ``sentinel2-l1c`` (burnwatch's own DDV
retrieval on Sentinel Hub L1C scenes), ``sentinel2-l2a-aot`` (Sen2Cor AOT) and ``s5p-ai``
(TROPOMI UV aerosol index).  Each grid is one unit of work: a failing grid is recorded in
the summary's ``errors`` and the rest go on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from burnwatch.aerosol.grid import QA_MEANING, AerosolGrid
from burnwatch.aerosol.layers import pm25_to_vn_aqi, write_grid_layers
from burnwatch.aerosol.plume import (
    IncidentLike,
    IncidentPoint,
    attribute_smoke,
    hotspot_incident_id,
    smoke_hotspots,
)
from burnwatch.aerosol.pm25 import CalibrationModel
from burnwatch.aerosol.wind import Wind
from burnwatch.config import Settings
from burnwatch.errors import BurnwatchError, InputError
from burnwatch.types import AOI, Hotspot

log = logging.getLogger(__name__)

SOURCES = ("demo", "sentinel2-l1c", "sentinel2-l2a-aot", "s5p-ai")


@dataclass
class JobResult:
    """What a run produced: per-grid summaries, per-item errors and the summary file."""

    out_dir: Path
    grids: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    summary_path: Path | None = None


def _stats(values: np.ndarray) -> dict[str, float | None]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {"mean": None, "p50": None, "p95": None, "max": None}
    return {
        "mean": round(float(v.mean()), 4),
        "p50": round(float(np.percentile(v, 50)), 4),
        "p95": round(float(np.percentile(v, 95)), 4),
        "max": round(float(v.max()), 4),
    }


def _incidents_from_hotspots(hotspots: Iterable[Hotspot]) -> list[IncidentLike]:
    return [IncidentPoint(hotspot_incident_id(h), h.lon, h.lat, h.time) for h in hotspots if h.kind == "fire"]


def _l1c_grids(
    aoi: AOI, start: datetime, end: datetime, settings: Settings | None, errors: list[str], detect: bool
) -> Iterator[tuple[AerosolGrid, list[IncidentLike]]]:
    from burnwatch.aerosol.retrieval import retrieve_aod
    from burnwatch.sources.sentinelhub import SentinelHubSource

    source = SentinelHubSource("sentinel2-l1c", settings, resolution_m=20.0)
    for scene in source.scenes(aoi, start, end):
        try:
            grid = retrieve_aod(scene)
        except BurnwatchError as exc:
            errors.append(f"{scene.scene_id}: {exc.message}")
            continue
        incidents: list[IncidentLike] = []
        if detect:
            try:
                from burnwatch.detect.spectral import detect_fires
                from burnwatch.georef.raster import fire_hotspots

                incidents = _incidents_from_hotspots(fire_hotspots(scene, detect_fires(scene)))
            except BurnwatchError as exc:
                errors.append(f"{scene.scene_id}: fire detection failed: {exc.message}")
        yield grid, incidents
    errors.extend(e.message for e in source.errors)


def run_job(
    source: str,
    out_dir: Path,
    *,
    aoi: AOI | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    model: CalibrationModel | None = None,
    winds: Sequence[Wind] = (),
    default_wind: Wind | None = None,
    hotspots: Sequence[Hotspot] = (),
    detect_fires: bool = True,
    settings: Settings | None = None,
    rh: float | None = None,
    blh: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> JobResult:
    """Run the aerosol job and write layers, plume GeoJSONs and ``summary.json`` to ``out_dir``."""
    if source not in SOURCES:
        raise InputError(f"unknown aerosol source {source!r}; choose one of {', '.join(SOURCES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = JobResult(out)
    pm_model = model or CalibrationModel.uncalibrated_default()
    extra_incidents = _incidents_from_hotspots(hotspots)

    items: Iterable[tuple[AerosolGrid, list[IncidentLike]]]
    provider_errors: list[BurnwatchError] = []
    if source == "demo":
        from burnwatch.aerosol.retrieval import retrieve_aod
        from burnwatch.aerosol.simulate import demo_aerosol_scene

        sim, demo_incidents = demo_aerosol_scene(wind=default_wind)
        items = [(retrieve_aod(sim.scene), demo_incidents)]  # type: ignore[list-item]
    else:
        if aoi is None or start is None or end is None:
            raise InputError(f"source {source} needs --aoi, --start and --end")
        if source == "sentinel2-l1c":
            items = _l1c_grids(aoi, start, end, settings, result.errors, detect_fires)
        else:
            from burnwatch.aerosol.providers import L2AAotProvider, S5PAerosolIndexProvider

            provider = (
                L2AAotProvider(settings)
                if source == "sentinel2-l2a-aot"
                else S5PAerosolIndexProvider(settings)
            )
            provider_errors = provider.errors
            items = ((g, []) for g in provider.grids(aoi, start, end))

    for grid, incidents in items:
        stem = f"{grid.time:%Y%m%dT%H%M}_{grid.quantity}"
        if progress:
            progress(stem)
        try:
            result.grids.append(
                _one_grid(
                    grid, [*incidents, *extra_incidents], out, stem, pm_model, winds, default_wind, rh, blh
                )
            )
        except BurnwatchError as exc:
            result.errors.append(f"{grid.scene_id}: {exc.message}")
            log.error("%s: %s", grid.scene_id, exc.message)
    result.errors.extend(e.message for e in provider_errors)
    map_path = _write_map(out, result) if result.grids else None

    summary = {
        "source": source,
        "aoi": list(aoi.bbox) if aoi else None,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "pm25_model": {"calibrated": pm_model.calibrated, "description": pm_model.description},
        "quality_flags": {str(k): v for k, v in QA_MEANING.items()},
        "grids": result.grids,
        "map": str(map_path) if map_path else None,
        "errors": result.errors,
    }
    result.summary_path = out / "summary.json"
    result.summary_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return result


def _one_grid(
    grid: AerosolGrid,
    incidents: Sequence[IncidentLike],
    out: Path,
    stem: str,
    model: CalibrationModel,
    winds: Sequence[Wind],
    default_wind: Wind | None,
    rh: float | None,
    blh: float | None,
) -> dict[str, Any]:
    from burnwatch.publish.vector import write_hotspots

    files = {f"{grid.quantity}_{k}": str(v) for k, v in write_grid_layers(grid, out, stem).items()}
    entry: dict[str, Any] = {
        "stem": stem,
        "scene_id": grid.scene_id,
        "time": grid.time.isoformat(),
        "quantity": grid.quantity,
        "source": grid.source,
        "crs": grid.crs,
        "cell_size": grid.cell_size,
        "shape": list(grid.shape),
        "valid_fraction": round(grid.valid_fraction, 4),
        "quality_counts": {str(q): int((grid.quality == q).sum()) for q in QA_MEANING},
        "stats": _stats(grid.values),
    }
    pm_model: CalibrationModel | None = None
    if grid.quantity == "aod550":
        pm_model = model
        t = np.datetime64(grid.time.replace(tzinfo=None), "s")
        pm = model.predict(grid.values, t, rh, blh).astype(np.float32)
        pm_grid = AerosolGrid(
            pm, grid.quality, grid.transform, grid.crs, grid.time, "pm25", f"{grid.source}+pm25",
            grid.scene_id, {"calibrated": model.calibrated},
        )  # fmt: skip
        pm_stem = stem.replace("aod550", "pm25")
        files.update({f"pm25_{k}": str(v) for k, v in write_grid_layers(pm_grid, out, pm_stem).items()})
        entry["pm25_stats"] = _stats(pm)
        entry["vn_aqi_stats"] = _stats(pm25_to_vn_aqi(pm))
        entry["pm25_calibrated"] = model.calibrated
    attributions = attribute_smoke(
        incidents, grid, winds, default_wind=default_wind, model=pm_model, rh=rh, blh=blh
    )
    plumes = out / f"{stem}_plumes.geojson"
    write_hotspots(smoke_hotspots(attributions, grid), plumes)
    files["plumes"] = str(plumes)
    entry["files"] = files
    entry["incidents"] = [
        {
            "incident_id": a.incident_id,
            "lon": round(a.lon, 6),
            "lat": round(a.lat, 6),
            "smoke": a.smoke,
            "background": _round(a.background),
            "threshold": _round(a.threshold),
            "upwind_mean": _round(a.upwind_mean),
            "downwind_mean": _round(a.downwind_mean),
            "plume_mean": _round(a.plume_mean),
            "plume_area_km2": round(a.plume_area_km2, 3),
            "pm25_excess_ugm3": _round(a.pm25_excess_ugm3, 1),
            "wind": {"from_deg": a.wind.from_deg, "speed_ms": a.wind.speed_ms, "source": a.wind.source},
            "reason": a.reason,
        }
        for a in attributions
    ]
    return entry


def _write_map(out: Path, result: JobResult) -> Path | None:
    """An offline web map with the classed AOD / PM2.5 layers and the smoke plumes."""
    import rasterio

    from burnwatch.aerosol.layers import AOD_RAMP, VN_AQI_RAMP
    from burnwatch.publish.quicklook import mask_overlay
    from burnwatch.publish.vector import read_hotspots
    from burnwatch.publish.webmap import hotspot_map

    overlays = []
    plumes: list[Hotspot] = []
    try:
        for i, g in enumerate(result.grids):
            for key, ramp, label in (
                ("aod550_classes", AOD_RAMP, "AOD 550 nm"),
                ("aerosol_index_classes", AOD_RAMP, "UV aerosol index"),
                ("pm25_classes", VN_AQI_RAMP, "PM2.5 (VN_AQI)"),
            ):
                if key not in g["files"]:
                    continue
                with rasterio.open(g["files"][key]) as src:
                    classes, transform, crs = src.read(1), src.transform, src.crs.to_string()
                overlay = mask_overlay(
                    classes,
                    transform,
                    crs,
                    name=f"{label} {g['stem'][:13]}",
                    colours=ramp.colormap,
                    opacity=0.6,
                )
                overlays.append(replace(overlay, show=(i == 0 and key != "pm25_classes")))
            plumes.extend(read_hotspots(Path(g["files"]["plumes"])))
        return hotspot_map(plumes, out / "map.html", overlays, title="burnwatch aerosol")
    except BurnwatchError as exc:
        result.errors.append(f"map: {exc.message}")
        return None


def _round(v: float | None, nd: int = 4) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)
