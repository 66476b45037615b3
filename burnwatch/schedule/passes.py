"""What is due: satellite passes from the catalog and FIRMS time slots, by a clock.

A *pass* is the unit the scheduler scans once per watch area:

* Sentinel-2 / Landsat: one UTC acquisition day in the Sentinel Hub catalog (the Process API
  mosaics a day's granules into one scene, see :class:`burnwatch.sources.sentinelhub.SentinelHubSource`),
  id ``"<collection>:<YYYY-MM-DD>"``, window = that UTC day.
* FIRMS: one ``every_hours`` slot aligned to UTC midnight, id ``"<product>:<YYYY-MM-DDTHH>"``,
  window ``[slot start, slot end)``, due once ``latency_hours`` have passed after its end (NRT
  hotspots reach FIRMS within ~3 h of the overpass).

The look-back window of a run is ``[max(now - max_lookback, season start), now]``: every pass
in it that has no job yet is due, so a scheduler that was down catches up exactly the passes
it missed, never more than ``max_lookback_days`` back and never outside the season.
Times are aware UTC.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from burnwatch.schedule.config import FirmsSource, SatelliteSource, Schedule
from burnwatch.types import AOI, utc


class Clock(Protocol):
    """Where the scheduler gets the time from and how it waits (a fake one in tests)."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float, stop: threading.Event) -> None: ...


class SystemClock:
    """Wall-clock UTC time; sleeping wakes early when ``stop`` is set."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to (or by ``sleep``): deterministic scheduling tests."""

    def __init__(self, start: datetime) -> None:
        self._now = utc(start)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = utc(when)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.sleeps.append(seconds)
        self._now += timedelta(seconds=seconds)
        time.sleep(0)  # let other threads run


@dataclass(frozen=True)
class Pass:
    """One scannable pass over one watch area; ``start``/``end`` bound the data (UTC, end exclusive)."""

    area: str
    source: str  # "sentinel2" | "landsat" | "firms"
    pass_id: str
    time: datetime  # acquisition time (satellite) or slot start (FIRMS)
    start: datetime
    end: datetime
    cloud_cover: float | None = None


@dataclass(frozen=True)
class CatalogHit:
    """What a catalog search returns per granule (see ``sentinelhub.CatalogItem``)."""

    id: str
    time: datetime
    cloud_cover: float | None


#: (collection, aoi, start, end, max_cloud) -> catalog hits in [start, end].
CatalogSearch = Callable[[str, AOI, datetime, datetime, float | None], list[CatalogHit]]


def lookback_window(schedule: Schedule, now: datetime) -> tuple[datetime, datetime] | None:
    """``[max(now - max_lookback, season start), now]``, or None when ``now`` is out of season."""
    now = utc(now)
    season = schedule.season.bounds(now)
    if season is None:
        # The season just ended: passes up to its end may still be missing.
        back = now - timedelta(days=schedule.max_lookback_days)
        season = schedule.season.bounds(back)
        if season is None:
            return None
    start = max(now - timedelta(days=schedule.max_lookback_days), season[0])
    end = min(now, season[1])
    return (start, end) if start < end else None


def satellite_passes(
    area: str,
    source: str,
    spec: SatelliteSource,
    aoi: AOI,
    window: tuple[datetime, datetime],
    search: CatalogSearch,
) -> list[Pass]:
    """One pass per UTC day with at least one catalog hit under ``spec.max_cloud`` percent."""
    start, end = window
    found = search(spec.collection, aoi, start, end, spec.max_cloud)
    hits = [h for h in found if start <= utc(h.time) <= end]
    by_day: dict[str, list[CatalogHit]] = {}
    for hit in sorted(hits, key=lambda h: h.time):
        by_day.setdefault(utc(hit.time).strftime("%Y-%m-%d"), []).append(hit)
    passes = []
    for day, day_hits in by_day.items():
        first = utc(day_hits[0].time)
        day_start = first.replace(hour=0, minute=0, second=0, microsecond=0)
        covers = [h.cloud_cover for h in day_hits if h.cloud_cover is not None]
        passes.append(
            Pass(
                area=area,
                source=source,
                pass_id=f"{spec.collection}:{day}",
                time=first,
                start=day_start,
                end=day_start + timedelta(days=1),
                cloud_cover=sum(covers) / len(covers) if covers else None,
            )
        )
    return passes


def firms_slots(area: str, spec: FirmsSource, window: tuple[datetime, datetime]) -> list[Pass]:
    """Every FIRMS slot starting at or after the window start whose data is complete by its end."""
    start, now = window
    step = timedelta(hours=spec.every_hours)
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    slot = midnight + step * -(-(start - midnight) // step)  # first slot boundary >= start
    latency = timedelta(hours=spec.latency_hours)
    passes = []
    while slot + step + latency <= now:
        passes.append(
            Pass(
                area=area,
                source="firms",
                pass_id=f"{spec.product}:{slot:%Y-%m-%dT%H}",
                time=slot,
                start=slot,
                end=slot + step,
            )
        )
        slot += step
    return passes


def sentinelhub_search(settings: object | None = None) -> CatalogSearch:
    """A :data:`CatalogSearch` backed by the Sentinel Hub Catalog API."""

    def search(
        collection: str, aoi: AOI, start: datetime, end: datetime, max_cloud: float | None
    ) -> list[CatalogHit]:
        from burnwatch.config import Settings
        from burnwatch.sources.sentinelhub import search_catalog

        found = search_catalog(
            collection,
            aoi,
            start,
            end,
            max_cloud=max_cloud,
            settings=settings if isinstance(settings, Settings) else None,
        )
        return [CatalogHit(i.id, i.time, i.cloud_cover) for i in found]

    return search
