"""Scanning one pass: fetch the pass's data, detect, write the pass's hotspot file.

* Satellite passes: the day's scene from Sentinel Hub, in tiles when the watch area is larger
  than the Process API allows in one request (:func:`tile_aoi`), each tile a
  :class:`~burnwatch.scale.dask_jobs.SentinelHubDayTask` (``process_scene``), run here or on
  a Dask cluster.
* FIRMS passes: the slot's hotspots from the FIRMS area API (:class:`FirmsClient`); those of
  FIRMS ``type`` 1-3 (volcano, static land source, offshore) go to ``suppressed.geojson``, not
  to the database.

Outputs go to ``<out_dir>/<area>/<source>/<pass id>[/gen-<n>]/``: ``hotspots.geojson`` (the
team's hotspot file schema, :func:`burnwatch.publish.vector.write_hotspots`) and the scene
COGs/overlays. Nothing here touches the database: the runner ingests.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from burnwatch.config import Settings
from burnwatch.errors import BurnwatchError, SourceError
from burnwatch.schedule.config import Schedule
from burnwatch.schedule.passes import Pass
from burnwatch.types import AOI, Hotspot

log = logging.getLogger(__name__)

#: FIRMS answers of the current scheduler cycle (see :func:`firms_calls_shared`); None outside.
_FIRMS_CALLS: ContextVar[dict[str, str | BurnwatchError] | None] = ContextVar("firms_calls", default=None)


@contextmanager
def firms_calls_shared() -> Iterator[None]:
    """Inside the block, FIRMS passes that make the identical area-API request (the slots of
    one day, area and product: a slot asks for its whole UTC day) share one call's answer, a
    failure included, instead of one call per slot. One scheduler cycle runs inside one block,
    so the next cycle asks FIRMS again."""
    token = _FIRMS_CALLS.set({})
    try:
        yield
    finally:
        _FIRMS_CALLS.reset(token)

#: Sentinel Hub Process API: at most this many pixels per side in one request (keep a margin).
MAX_SIDE_PX = 2400


@dataclass
class PassOutput:
    """What scanning one pass produced (hotspots before ingest)."""

    hotspots: list[Hotspot]
    scenes: int = 0
    errors: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120]


def pass_dir(out_dir: Path, p: Pass, generation: int = 0) -> Path:
    d = Path(out_dir) / safe_name(p.area) / p.source / safe_name(p.pass_id)
    return d / f"gen-{generation}" if generation else d


def tile_aoi(aoi: AOI, resolution_m: float, max_side_px: int | None = None) -> list[AOI]:
    """Split ``aoi`` into a grid of WGS84 boxes no wider/taller than ``max_side_px`` pixels of
    ``resolution_m`` metres (default :data:`MAX_SIDE_PX`; approximate metres per degree at
    the AOI's latitude), clipped to the area; tiles that miss the area are dropped. One tile
    when it already fits."""
    from shapely.geometry import box

    minx, miny, maxx, maxy = aoi.bbox
    lat = math.radians((miny + maxy) / 2.0)
    width_m = (maxx - minx) * 111_320.0 * math.cos(lat)
    height_m = (maxy - miny) * 110_574.0
    limit_m = (
        (max_side_px or MAX_SIDE_PX) * resolution_m * 0.95
    )  # UTM bounds are a bit larger than the lon/lat box
    nx, ny = max(1, math.ceil(width_m / limit_m)), max(1, math.ceil(height_m / limit_m))
    if nx == ny == 1:
        return [aoi]
    tiles = []
    dx, dy = (maxx - minx) / nx, (maxy - miny) / ny
    for j in range(ny):
        for i in range(nx):
            cell = box(minx + i * dx, miny + j * dy, minx + (i + 1) * dx, miny + (j + 1) * dy)
            part = aoi.geometry.intersection(cell)
            if not part.is_empty and part.area > 0:
                tiles.append(AOI(part.envelope, f"{aoi.name}-t{j}-{i}"))
    return tiles


def scan_pass(
    schedule: Schedule,
    p: Pass,
    aoi: AOI,
    out_dir: Path,
    settings: Settings,
    generation: int = 0,
    client: Any = None,
) -> PassOutput:
    """Fetch and detect one pass; raise a :class:`BurnwatchError` when any part of it could
    not be fetched (the runner then retries the pass with backoff). With a Dask ``client`` the
    tiles of a satellite pass run as tasks on its workers (:mod:`burnwatch.scale.dask_jobs`)."""
    from burnwatch.pipeline import split_source_flagged
    from burnwatch.publish.vector import write_hotspots

    target = pass_dir(out_dir, p, generation)
    target.mkdir(parents=True, exist_ok=True)
    last = p.end - timedelta(microseconds=1)  # the sources take an inclusive end
    if p.source == "firms":
        from burnwatch.sources.firms import FirmsClient

        spec = schedule.sources.firms
        assert spec is not None
        firms = FirmsClient(settings, source=spec.product, calls=_FIRMS_CALLS.get())
        result = PassOutput(firms.hotspots(aoi, p.start, last))
        result.errors += [str(e) for e in firms.errors]
    else:
        result = _scan_satellite(schedule, p, aoi, target, settings, client)
    result.hotspots, suppressed = split_source_flagged(result.hotspots)  # FIRMS type 1-3: not burning
    path = write_hotspots(result.hotspots, target / "hotspots.geojson")
    result.outputs["hotspots_geojson"] = str(path)
    stale = target / "suppressed.geojson"
    if suppressed:
        result.outputs["suppressed_geojson"] = str(write_hotspots(suppressed, stale))
    elif stale.is_file():
        stale.unlink()  # written by an earlier attempt of this pass
    return result


def _scan_satellite(
    schedule: Schedule, p: Pass, aoi: AOI, target: Path, settings: Settings, client: Any
) -> PassOutput:
    import shapely

    from burnwatch.pipeline import ScanOptions
    from burnwatch.scale.dask_jobs import SentinelHubDayTask, Task, run_local, run_on_dask

    spec = schedule.sources.sentinel2 if p.source == "sentinel2" else schedule.sources.landsat
    assert spec is not None
    options = ScanOptions(min_confidence=schedule.min_confidence, quicklook="false")
    tiles = tile_aoi(aoi, spec.resolution_m)
    tasks: list[Task] = [
        SentinelHubDayTask(spec.collection, t.bbox, p.start, spec.resolution_m, spec.max_cloud, settings)
        for t in tiles
    ]
    job = run_local(tasks, target, options) if client is None else run_on_dask(client, tasks, target, options)
    # Tiles are boxes: keep only the hotspots whose centre is inside the watch area itself.
    inside = [h for h in job.hotspots if shapely.contains_xy(aoi.geometry, h.lon, h.lat)]
    result = PassOutput(inside, scenes=sum(r.scenes for r in job.results.values()))
    for r in job.results.values():
        result.outputs.update({f"fire_cog:{Path(c).name}": c for c in r.products})
    errors = list(job.errors.values())
    if errors or result.scenes == 0:
        # Retry the whole pass: tiles that worked come from the request cache and their
        # hotspots are de-duplicated on ingest, so nothing is stored twice.
        problems = "; ".join(errors) or "the catalog listed it but no scene came back"
        raise SourceError(f"{p.area} {p.pass_id}: {len(tiles)} tile(s), {problems}")
    return result
