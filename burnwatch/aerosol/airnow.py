"""Ground PM2.5 monitor readers: AirNow (US Embassy) hourly exports and a generic CSV.

AirNow "Hanoi_PM2.5_<year>_YTD.csv" columns: Site, Parameter, Date (LT), Year, Month, Day,
Hour, AQI, AQI Category, 24-hr. Midpoint Avg. Conc., Raw Conc., Conc. Unit, Duration,
QC Name.  ``Date (LT)`` is local time ("2016-08-09 01:00 AM"); for Hanoi that is
Asia/Ho_Chi_Minh = UTC+7 all year (Vietnam has kept no daylight saving since 1975), so a
fixed offset is exact.  ``Raw Conc.`` is the hourly PM2.5 in the ``Conc. Unit`` (UG/M3, or
MG/M3 converted to µg/m³; another unit is refused), -999 = missing; rows
whose ``QC Name`` is not "Valid" are treated as missing too.  Both become NaN, never 0.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from burnwatch.errors import CorruptFileError, InputError
from burnwatch.types import utc

#: Known AirNow sites: name -> (lon, lat, UTC offset hours). US Embassy Hanoi, Lang Ha St.
AIRNOW_SITES: Mapping[str, tuple[float, float, float]] = {
    "Hanoi": (105.8188, 21.0215, 7.0),
    "Ho Chi Minh City": (106.7009, 10.7831, 7.0),
}
MISSING = -999.0
#: ``Conc. Unit`` (upper-cased, no spaces, µ -> U, ³ -> 3) -> factor to µg/m³; blank = µg/m³.
UNIT_FACTORS: Mapping[str, float] = {"": 1.0, "UG/M3": 1.0, "MG/M3": 1000.0}


@dataclass(frozen=True, eq=False)
class MonitorSeries:
    """A PM2.5 time series at one station (WGS84 lon/lat; times UTC; µg/m³, NaN missing)."""

    station_id: str
    lon: float
    lat: float
    times: np.ndarray  # datetime64[s], UTC, ascending
    pm25: np.ndarray  # float64 µg/m³, NaN = missing/invalid
    source: str = "csv"

    def __post_init__(self) -> None:
        if self.times.shape != self.pm25.shape:
            raise ValueError("times and pm25 differ in length")

    @property
    def valid_count(self) -> int:
        return int(np.isfinite(self.pm25).sum())

    def daily_mean(self, min_hours: int = 18) -> MonitorSeries:
        """24-h means per UTC day (NaN where fewer than ``min_hours`` valid hours)."""
        days = self.times.astype("datetime64[D]")
        uniq, inv = np.unique(days, return_inverse=True)
        ok = np.isfinite(self.pm25)
        sums = np.bincount(inv, weights=np.where(ok, self.pm25, 0.0), minlength=uniq.size)
        counts = np.bincount(inv, weights=ok.astype(float), minlength=uniq.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts >= min_hours, sums / counts, np.nan)
        return MonitorSeries(
            self.station_id, self.lon, self.lat, uniq.astype("datetime64[s]"), mean, self.source
        )


def _to_utc64(dt: datetime) -> np.datetime64:
    return np.datetime64(utc(dt).replace(tzinfo=None), "s")


def _unit_factor(unit: str | None, line: int, path: Path) -> float:
    """Factor from an AirNow ``Conc. Unit`` to µg/m³; unknown units are refused."""
    key = "".join((unit or "").split()).replace("µ", "U").replace("μ", "U").replace("³", "3").upper()
    if key not in UNIT_FACTORS:
        raise InputError(
            f"line {line}: unknown concentration unit {unit!r} in 'Conc. Unit' (known: UG/M3, MG/M3)",
            path=path,
        )
    return UNIT_FACTORS[key]


def read_airnow_csv(path: Path, site: str | None = None, utc_offset_h: float | None = None) -> MonitorSeries:
    """Read one AirNow hourly PM2.5 export; local times converted to UTC.

    The site's position and UTC offset come from :data:`AIRNOW_SITES` by the ``Site`` column
    (or ``site``); ``utc_offset_h`` overrides the offset.
    """
    path = Path(path)
    times: list[np.datetime64] = []
    values: list[float] = []
    name = site
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            need = {"Date (LT)", "Raw Conc."}
            if not reader.fieldnames or not need <= set(reader.fieldnames):
                raise CorruptFileError(f"not an AirNow export: columns {sorted(need)} missing", path=path)
            for line, row in enumerate(reader, start=2):
                name = name or (row.get("Site") or "").strip() or None
                offset = utc_offset_h
                if offset is None:
                    offset = AIRNOW_SITES.get(name or "", (0.0, 0.0, 7.0))[2]
                try:
                    local = datetime.strptime(row["Date (LT)"].strip(), "%Y-%m-%d %I:%M %p")
                    value = float(row["Raw Conc."])
                except (ValueError, AttributeError, TypeError) as exc:
                    raise InputError(f"line {line}: bad date or concentration ({exc})", path=path) from exc
                qc = (row.get("QC Name") or "Valid").strip()
                if value <= MISSING + 0.5 or value < 0 or qc.lower() != "valid":
                    value = float("nan")
                value *= _unit_factor(row.get("Conc. Unit"), line, path)
                t = local.replace(tzinfo=timezone(timedelta(hours=offset)))
                times.append(_to_utc64(t))
                values.append(value)
    except OSError as exc:
        raise CorruptFileError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CorruptFileError("not a text CSV file", path=path) from exc
    if not times:
        raise InputError("AirNow export has no rows", path=path)
    lon, lat, _ = AIRNOW_SITES.get(name or "", (float("nan"), float("nan"), 7.0))
    t_arr = np.array(times, dtype="datetime64[s]")
    order = np.argsort(t_arr, kind="stable")
    return MonitorSeries(name or path.stem, lon, lat, t_arr[order], np.array(values)[order], "airnow")


def concat(series: Sequence[MonitorSeries]) -> MonitorSeries:
    """Join several series of one station (e.g. yearly files); duplicate hours keep the first."""
    if not series:
        raise InputError("no monitor series to join")
    t = np.concatenate([s.times for s in series])
    v = np.concatenate([s.pm25 for s in series])
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    keep = np.concatenate([[True], t[1:] != t[:-1]])
    s0 = series[0]
    return MonitorSeries(s0.station_id, s0.lon, s0.lat, t[keep], v[keep], s0.source)


_GENERIC = {
    "station": ("station_id", "station", "site", "id"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude", "lng"),
    "time": ("time", "datetime", "timestamp", "time_utc", "date"),
    "pm25": ("pm25", "pm2.5", "pm2_5", "pm25_ugm3", "value"),
}


def _pick(header: Sequence[str], key: str) -> str | None:
    lower = {h.strip().lower(): h for h in header}
    return next((lower[a] for a in _GENERIC[key] if a in lower), None)


def read_monitor_csv(path: Path, assume_tz_h: float | None = None) -> list[MonitorSeries]:
    """Read a generic monitor CSV (station_id, lat, lon, time, pm25), one series per station.

    Times are ISO 8601; naive times (no ``Z`` or offset) are taken at UTC + ``assume_tz_h``
    hours and REFUSED when it is None: station exports are often in local time (UTC+7 in
    Vietnam), and reading them as UTC would silently shift every reading.  Empty, negative or
    -999 concentrations become NaN. A malformed row raises :class:`InputError` with its line.
    """
    path = Path(path)
    rows: dict[str, tuple[float, float, list[np.datetime64], list[float]]] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            cols = {k: _pick(header, k) for k in _GENERIC}
            missing = [k for k in ("station", "lat", "lon", "time", "pm25") if cols[k] is None]
            if missing:
                raise CorruptFileError(f"monitor CSV lacks columns {missing}", path=path)
            tz = None if assume_tz_h is None else timezone(timedelta(hours=assume_tz_h))
            for line, row in enumerate(reader, start=2):
                try:
                    sid = row[cols["station"] or ""].strip()
                    lat, lon = float(row[cols["lat"] or ""]), float(row[cols["lon"] or ""])
                    t = datetime.fromisoformat(row[cols["time"] or ""].strip().replace("Z", "+00:00"))
                    raw = (row[cols["pm25"] or ""] or "").strip()
                    value = float(raw) if raw else float("nan")
                except (ValueError, KeyError, AttributeError) as exc:
                    raise InputError(f"line {line}: {exc}", path=path) from exc
                if not (-180 <= lon <= 180 and -90 <= lat <= 90) or not sid:
                    raise InputError(f"line {line}: station id or lon/lat invalid", path=path)
                if value <= MISSING + 0.5 or value < 0:
                    value = float("nan")
                if t.tzinfo is None and tz is None:
                    raise InputError(
                        f"line {line}: time {t.isoformat()!r} has no UTC offset; give the offset of "
                        "naive times (--monitor-utc-offset HOURS: 0 = UTC, 7 = Vietnam local time)",
                        path=path,
                    )
                entry = rows.setdefault(sid, (lon, lat, [], []))
                entry[2].append(_to_utc64(t if t.tzinfo else t.replace(tzinfo=tz)))
                entry[3].append(value)
    except OSError as exc:
        raise CorruptFileError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CorruptFileError("not a text CSV file", path=path) from exc
    if not rows:
        raise InputError("monitor CSV has no rows", path=path)
    out = []
    for sid, (lon, lat, ts, vs) in rows.items():
        t_arr = np.array(ts, dtype="datetime64[s]")
        order = np.argsort(t_arr, kind="stable")
        out.append(MonitorSeries(sid, lon, lat, t_arr[order], np.array(vs)[order], "csv"))
    return out


def read_monitors(path: Path, assume_tz_h: float | None = None) -> list[MonitorSeries]:
    """AirNow export or generic monitor CSV, chosen by the header.

    ``assume_tz_h`` is the UTC offset of naive times in a generic CSV (see
    :func:`read_monitor_csv`); AirNow exports use their site's known offset instead.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"cannot read: {exc}", path=path) from exc
    if "Date (LT)" in first and "Raw Conc." in first:
        return [read_airnow_csv(path)]
    return read_monitor_csv(path, assume_tz_h)
