"""Pair satellite AOD with ground PM2.5 for calibration.

AOD comes either from a CSV (station_id and/or lon, lat; time; aod; optional rh %, blh m)
or from AOD GeoTIFFs written by ``burnwatch aerosol run`` (sampled at each monitor; the
acquisition time is read from the file's ``TIME`` tag).  Each AOD value is matched to the
monitor reading nearest in time within ``max_dt_h`` hours.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from burnwatch.aerosol.airnow import MonitorSeries
from burnwatch.aerosol.pm25 import Samples
from burnwatch.errors import CorruptFileError, InputError


@dataclass(frozen=True)
class AODObservation:
    """One AOD value at a place (WGS84) and UTC time, with optional meteorology."""

    time: np.datetime64
    aod: float
    station_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    rh: float | None = None
    blh: float | None = None


def _opt(row: dict[str, str], *names: str) -> str | None:
    lower = {k.strip().lower(): v for k, v in row.items() if k}
    for n in names:
        v = lower.get(n)
        if v is not None and v.strip():
            return v.strip()
    return None


def read_aod_csv(path: Path) -> list[AODObservation]:
    """Read an AOD CSV: time, aod and station_id or lon/lat; rh, blh optional."""
    path = Path(path)
    out: list[AODObservation] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for line, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    t_raw, a_raw = _opt(row, "time", "datetime", "time_utc"), _opt(row, "aod", "aod550")
                    if t_raw is None or a_raw is None:
                        raise ValueError("time and aod are required")
                    t = datetime.fromisoformat(t_raw.replace("Z", "+00:00"))
                    t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
                    lon, lat = _opt(row, "lon", "longitude"), _opt(row, "lat", "latitude")
                    rh, blh = _opt(row, "rh", "rh_pct", "humidity"), _opt(row, "blh", "blh_m", "pblh")
                    out.append(
                        AODObservation(
                            np.datetime64(t.astimezone(timezone.utc).replace(tzinfo=None), "s"),
                            float(a_raw),
                            _opt(row, "station_id", "station", "site"),
                            float(lon) if lon else None,
                            float(lat) if lat else None,
                            float(rh) if rh else None,
                            float(blh) if blh else None,
                        )
                    )
                except ValueError as exc:
                    raise InputError(f"line {line}: {exc}", path=path) from exc
    except OSError as exc:
        raise CorruptFileError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CorruptFileError(f"not a text (UTF-8) CSV file: {exc}", path=path) from exc
    if not out:
        raise InputError("AOD CSV has no rows", path=path)
    return out


def sample_aod_grids(paths: Sequence[Path], monitors: Sequence[MonitorSeries]) -> list[AODObservation]:
    """AOD at every monitor from AOD GeoTIFFs (NaN cells skipped; time from the TIME tag)."""
    import rasterio
    from pyproj import Transformer

    out: list[AODObservation] = []
    for path in paths:
        try:
            with rasterio.open(path) as src:
                tag = src.tags().get("TIME")
                if not tag:
                    raise InputError(
                        "AOD GeoTIFF has no TIME tag (write it with burnwatch aerosol run)", path=path
                    )
                t = datetime.fromisoformat(tag.replace("Z", "+00:00")).astimezone(timezone.utc)
                to_grid = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
                for m in monitors:
                    x, y = to_grid.transform(m.lon, m.lat)
                    row, col = src.index(x, y)
                    if not (0 <= row < src.height and 0 <= col < src.width):
                        continue
                    value = float(src.read(1, window=((row, row + 1), (col, col + 1)))[0, 0])
                    if np.isfinite(value):
                        out.append(
                            AODObservation(np.datetime64(t.replace(tzinfo=None), "s"), value, m.station_id)
                        )
        except rasterio.errors.RasterioIOError as exc:
            raise CorruptFileError(f"not a readable GeoTIFF: {exc}", path=path) from exc
    return out


def pair(monitors: Sequence[MonitorSeries], aod: Sequence[AODObservation], max_dt_h: float = 1.0) -> Samples:
    """Match each AOD observation with its station's PM2.5 nearest in time (±``max_dt_h``).

    Observations name their station by id, or by lon/lat (nearest monitor within 0.05°).
    """
    by_id = {m.station_id: m for m in monitors}
    times, a, pm, rh, blh = [], [], [], [], []
    max_dt = np.timedelta64(timedelta(hours=max_dt_h))
    for obs in aod:
        mon = by_id.get(obs.station_id or "")
        if mon is None and obs.lon is not None and obs.lat is not None:
            dist = [np.hypot(m.lon - obs.lon, m.lat - obs.lat) for m in monitors]
            if dist and min(dist) < 0.05:
                mon = monitors[int(np.argmin(dist))]
        if mon is None or mon.times.size == 0:
            continue
        i = int(np.searchsorted(mon.times, obs.time))
        cands = [j for j in (i - 1, i) if 0 <= j < mon.times.size]
        j = min(cands, key=lambda k: abs(mon.times[k] - obs.time))
        if abs(mon.times[j] - obs.time) > max_dt or not np.isfinite(mon.pm25[j]):
            continue
        times.append(obs.time)
        a.append(obs.aod)
        pm.append(mon.pm25[j])
        rh.append(np.nan if obs.rh is None else obs.rh)
        blh.append(np.nan if obs.blh is None else obs.blh)
    if not times:
        raise InputError("no AOD observation matched a monitor reading (station id/position or time)")
    rh_a, blh_a = np.array(rh), np.array(blh)
    return Samples(
        np.array(times, dtype="datetime64[s]"),
        np.array(a),
        np.array(pm),
        rh_a if np.isfinite(rh_a).any() else None,
        blh_a if np.isfinite(blh_a).any() else None,
    )
