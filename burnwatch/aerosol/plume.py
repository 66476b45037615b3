"""Smoke attribution: is there a plume downwind of a burning incident?

For each incident (anything with ``id``, ``lon``, ``lat``, ``time``; see
:class:`IncidentPoint`) and an aerosol grid (AOD or UV aerosol index):

1. Wind (blowing FROM a bearing) comes from the nearest observation in time/space of a
   supplied list, else a stated default (:mod:`burnwatch.aerosol.wind`).
2. Two sectors of ±``half_width_deg`` around the downwind and the upwind bearings, out to
   ``max_distance_m``, are cut from the grid (cell centres, grid CRS).
3. Background = median of the upwind sector, spread = 1.4826 × MAD (floored); when the
   upwind sector has too few valid cells the scene's 25th percentile is used instead (and
   said so in ``reason``).
4. Cells above background + max(``min_excess``, ``k_spread`` × spread) inside the downwind
   sector (or within ``source_radius_m`` of the incident) form 8-connected components; the
   components reaching within ``source_radius_m`` of the incident are the plume.  The
   incident gets the smoke flag when the plume holds at least ``min_cells`` cells of the
   downwind sector beyond the source radius.
5. The plume polygon is the union of its cells (WGS84); with a PM2.5 calibration model the
   PM2.5 excess downwind = mean PM2.5 over the plume − PM2.5 at the background AOD.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

import numpy as np
import shapely
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from burnwatch.aerosol.grid import AerosolGrid
from burnwatch.aerosol.pm25 import CalibrationModel
from burnwatch.aerosol.wind import Wind, wind_for
from burnwatch.types import Hotspot, utc

log = logging.getLogger(__name__)


class IncidentLike(Protocol):
    @property
    def id(self) -> object: ...
    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def time(self) -> datetime: ...


@dataclass(frozen=True)
class IncidentPoint:
    """Minimal incident: an id, a WGS84 position and a UTC time."""

    id: str
    lon: float
    lat: float
    time: datetime


@dataclass(frozen=True)
class PlumeParams:
    """Thresholds of the plume test (distances in metres, values in the grid's units)."""

    half_width_deg: float = 30.0
    max_distance_m: float = 8000.0
    source_radius_m: float = 500.0
    min_excess: float = 0.10
    k_spread: float = 3.0
    min_spread: float = 0.02
    min_cells: int = 3
    min_background_cells: int = 5


#: Defaults per quantity: AOD on a 200 m grid; aerosol index on a ~5 km S5P grid.
DEFAULT_PARAMS: Mapping[str, PlumeParams] = {
    "aod550": PlumeParams(),
    "aerosol_index": PlumeParams(
        max_distance_m=60000.0,
        source_radius_m=6000.0,
        min_excess=0.5,
        min_spread=0.1,
        min_cells=1,
        min_background_cells=2,
    ),
    "pm25": PlumeParams(min_excess=8.0, min_spread=2.0),
}


@dataclass(frozen=True)
class SmokeAttribution:
    """Result of the plume test for one incident. Values in the grid's units."""

    incident_id: str
    lon: float
    lat: float
    time: datetime
    wind: Wind
    smoke: bool
    quantity: str
    background: float
    threshold: float
    upwind_mean: float
    downwind_mean: float
    plume_mean: float = float("nan")
    plume_max: float = float("nan")
    plume_cells: int = 0
    plume_area_km2: float = 0.0
    plume: BaseGeometry | None = field(default=None, repr=False)  # WGS84
    pm25_excess_ugm3: float | None = None
    reason: str = ""


def _bearing_diff(a: np.ndarray, b: float) -> np.ndarray:
    return np.abs((a - b + 180.0) % 360.0 - 180.0)


def _transformers(crs: str) -> tuple[object, object]:
    from pyproj import Transformer

    return (
        Transformer.from_crs("EPSG:4326", crs, always_xy=True),
        Transformer.from_crs(crs, "EPSG:4326", always_xy=True),
    )


def attribute_smoke(
    incidents: Iterable[IncidentLike],
    grid: AerosolGrid,
    winds: Sequence[Wind] = (),
    *,
    default_wind: Wind | None = None,
    params: PlumeParams | None = None,
    model: CalibrationModel | None = None,
    rh: float | None = None,
    blh: float | None = None,
) -> list[SmokeAttribution]:
    """Run the plume test (module docstring) for every incident over ``grid``."""
    from scipy.ndimage import label

    p = params or DEFAULT_PARAMS.get(grid.quantity, PlumeParams())
    fwd, inv = _transformers(grid.crs)
    xc, yc = grid.cell_centres()
    values = grid.values.astype(np.float64)
    finite = np.isfinite(values)
    scene_bg = float(np.nanpercentile(values, 25)) if finite.any() else float("nan")
    half = grid.cell_size / 2.0
    out: list[SmokeAttribution] = []
    for inc in incidents:
        wind = (wind_for(winds, inc.time, inc.lon, inc.lat) if winds else None) or default_wind or Wind()
        x0, y0 = fwd.transform(inc.lon, inc.lat)  # type: ignore[attr-defined]
        dx, dy = xc - x0, yc - y0
        dist = np.hypot(dx, dy)
        bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
        near = dist <= p.max_distance_m
        source = dist <= p.source_radius_m
        down = near & (_bearing_diff(bearing, wind.to_deg) <= p.half_width_deg) & ~source
        up = near & (_bearing_diff(bearing, wind.from_deg) <= p.half_width_deg) & ~source
        up_vals = values[up & finite]
        reason = ""
        if up_vals.size >= p.min_background_cells:
            background = float(np.median(up_vals))
            spread = 1.4826 * float(np.median(np.abs(up_vals - background)))
        else:
            background, spread = scene_bg, p.min_spread
            reason = "too few upwind cells: scene 25th percentile used as background; "
        threshold = background + max(p.min_excess, p.k_spread * max(spread, p.min_spread))
        down_vals = values[down & finite]
        base = SmokeAttribution(
            incident_id=str(inc.id),
            lon=float(inc.lon),
            lat=float(inc.lat),
            time=utc(inc.time),
            wind=wind,
            smoke=False,
            quantity=grid.quantity,
            background=background,
            threshold=threshold,
            upwind_mean=float(up_vals.mean()) if up_vals.size else float("nan"),
            downwind_mean=float(down_vals.mean()) if down_vals.size else float("nan"),
        )
        if not math.isfinite(background) or down_vals.size == 0:
            out.append(replace(base, reason=reason + "no valid cells downwind"))
            continue
        elevated = finite & (values > threshold) & (down | source)
        labels, _ = label(elevated, structure=np.ones((3, 3), dtype=bool))
        reach = dist <= p.source_radius_m + grid.cell_size
        ids = np.unique(labels[reach & elevated])
        plume = np.isin(labels, ids[ids > 0])
        n_down = int((plume & down).sum())
        reason += f"{n_down} elevated cells connected downwind"
        if n_down < p.min_cells:
            out.append(replace(base, reason=reason))
            continue
        rows, cols = np.nonzero(plume)
        cells = [
            box(xc[r, c] - half, yc[r, c] - half, xc[r, c] + half, yc[r, c] + half)
            for r, c in zip(rows, cols, strict=True)
        ]
        native = unary_union(cells)
        poly = shapely.transform(native, lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1])))  # type: ignore[attr-defined]
        pm_excess = None
        if model is not None and grid.quantity == "aod550":
            t = np.datetime64(grid.time.replace(tzinfo=None), "s")
            pm_plume = model.predict(values[plume], t, rh, blh)
            pm_bg = model.predict(np.array([background]), t, rh, blh)
            pm_excess = float(np.nanmean(pm_plume) - pm_bg[0])
        out.append(
            replace(
                base,
                smoke=True,
                plume_mean=float(values[plume].mean()),
                plume_max=float(values[plume].max()),
                plume_cells=int(plume.sum()),
                plume_area_km2=float(native.area) / 1e6,
                plume=poly,
                pm25_excess_ugm3=pm_excess,
                reason=reason,
            )
        )
    log.info("smoke attribution: %d of %d incidents with a plume", sum(a.smoke for a in out), len(out))
    return out


def smoke_hotspots(attributions: Iterable[SmokeAttribution], grid: AerosolGrid) -> list[Hotspot]:
    """Plumes as ``kind="smoke"`` hotspots (footprint = plume polygon), for ``write_hotspots``."""
    out = []
    for a in attributions:
        if not a.smoke or a.plume is None:
            continue
        geom = a.plume if isinstance(a.plume, Polygon) else a.plume.convex_hull
        centre = geom.representative_point()
        excess = a.plume_mean - a.background
        conf = float(min(1.0, max(0.0, excess / (2.0 * max(a.threshold - a.background, 1e-6)))))
        hs = Hotspot(
            source="aerosol",
            sensor=grid.source,
            algorithm="plume-downwind-sector",
            time=grid.time,
            lon=float(centre.x),
            lat=float(centre.y),
            confidence=conf,
            confidence_class="high" if conf >= 0.8 else "nominal" if conf >= 0.4 else "low",
            footprint=geom,
            pixel_count=a.plume_cells,
            scene_id=grid.scene_id or None,
            kind="smoke",
            attributes={
                "incident_id": a.incident_id,
                "quantity": a.quantity,
                "background": round(a.background, 4),
                "plume_mean": round(a.plume_mean, 4),
                "plume_max": round(a.plume_max, 4),
                "plume_area_km2": round(a.plume_area_km2, 3),
                "pm25_excess_ugm3": None if a.pm25_excess_ugm3 is None else round(a.pm25_excess_ugm3, 1),
                "wind_from_deg": a.wind.from_deg,
                "wind_speed_ms": a.wind.speed_ms,
                "wind_source": a.wind.source,
            },
            flags=("smoke_plume",),
        )
        out.append(hs)
    return out


def with_smoke_flags(hotspots: Sequence[Hotspot], attributions: Sequence[SmokeAttribution]) -> list[Hotspot]:
    """Copy fire hotspots, adding the ``smoke`` flag where their incident id (natural-key
    string, see :func:`hotspot_incident_id`) has a plume."""
    smoky = {a.incident_id for a in attributions if a.smoke}
    return [h.with_flags("smoke") if hotspot_incident_id(h) in smoky else replace(h) for h in hotspots]


def hotspot_incident_id(h: Hotspot) -> str:
    """A stable id for treating a single hotspot as an incident."""
    return f"{h.source}:{h.time:%Y%m%dT%H%M%S}:{h.lon:.5f}:{h.lat:.5f}"
