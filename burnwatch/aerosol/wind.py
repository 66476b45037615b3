"""Surface wind for smoke transport: a value type and a CSV reader.

Wind direction is meteorological: the bearing (degrees clockwise from true north) the wind
blows FROM; smoke travels towards ``from_deg + 180``. Speed in m/s.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from burnwatch.errors import CorruptFileError, InputError
from burnwatch.types import utc

#: Default when no wind is supplied: the dry-season (Oct-Apr) north-east monsoon over the Red
#: River Delta, when most straw is burnt; a stated assumption, reported in every output.
DEFAULT_WIND_FROM_DEG = 45.0
DEFAULT_WIND_SPEED_MS = 3.0


@dataclass(frozen=True)
class Wind:
    """Wind blowing FROM ``from_deg`` (° clockwise from north) at ``speed_ms`` (m/s)."""

    from_deg: float = DEFAULT_WIND_FROM_DEG
    speed_ms: float = DEFAULT_WIND_SPEED_MS
    time: datetime | None = None  # UTC
    lon: float | None = None  # WGS84
    lat: float | None = None
    station: str | None = None
    source: str = "default"

    @property
    def to_deg(self) -> float:
        """Bearing the smoke travels towards."""
        return (self.from_deg + 180.0) % 360.0

    @property
    def downwind_unit(self) -> tuple[float, float]:
        """(east, north) unit vector pointing downwind."""
        b = math.radians(self.to_deg)
        return (math.sin(b), math.cos(b))


_ALIASES = {
    "time": ("time", "datetime", "timestamp", "date_utc", "time_utc"),
    "lon": ("lon", "longitude", "x"),
    "lat": ("lat", "latitude", "y"),
    "station": ("station", "station_id", "site"),
    "dir": ("wind_dir_deg", "wind_dir", "wind_direction", "wdir", "direction"),
    "speed": ("wind_speed_ms", "wind_speed", "wspd", "speed"),
}


def _column(header: Sequence[str], key: str) -> str | None:
    lower = {h.strip().lower(): h for h in header}
    for alias in _ALIASES[key]:
        if alias in lower:
            return lower[alias]
    return None


def read_wind_csv(path: Path) -> list[Wind]:
    """Read wind observations: time, (lon, lat) or station, wind_dir_deg, wind_speed_ms.

    Times are ISO 8601; naive times are taken as UTC. Raises :class:`InputError` naming the
    file and line for a malformed row, :class:`CorruptFileError` for a missing header.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            cols = {k: _column(header, k) for k in _ALIASES}
            if cols["dir"] is None or cols["speed"] is None or cols["time"] is None:
                raise CorruptFileError(
                    "wind CSV needs columns time, wind_dir_deg and wind_speed_ms", path=path
                )
            out: list[Wind] = []
            for line, row in enumerate(reader, start=2):
                try:
                    out.append(_row(row, cols))
                except (ValueError, TypeError) as exc:
                    raise InputError(f"line {line}: {exc}", path=path) from exc
    except OSError as exc:
        raise CorruptFileError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    if not out:
        raise InputError("wind CSV has no rows", path=path)
    return out


def _row(row: dict[str, str], cols: dict[str, str | None]) -> Wind:
    def get(key: str) -> str | None:
        col = cols[key]
        value = row.get(col) if col else None
        return value.strip() if value and value.strip() else None

    t = get("time")
    direction, speed = float(get("dir") or "nan"), float(get("speed") or "nan")
    if not (0.0 <= direction <= 360.0) or not (0.0 <= speed < 100.0):
        raise ValueError(f"wind direction {direction} / speed {speed} out of range")
    lon, lat = get("lon"), get("lat")
    return Wind(
        from_deg=direction % 360.0,
        speed_ms=speed,
        time=utc(datetime.fromisoformat(t.replace("Z", "+00:00"))) if t else None,
        lon=float(lon) if lon else None,
        lat=float(lat) if lat else None,
        station=get("station"),
        source="csv",
    )


def wind_for(
    winds: Sequence[Wind], time: datetime, lon: float, lat: float, max_hours: float = 3.0
) -> Wind | None:
    """The observation closest in time (within ``max_hours``), then in space; None if none."""
    t = utc(time)
    best: tuple[float, float, Wind] | None = None
    for w in winds:
        dt_h = abs((w.time - t).total_seconds()) / 3600.0 if w.time else 0.0
        if dt_h > max_hours:
            continue
        dx = (w.lon - lon) if w.lon is not None else 0.0
        dy = (w.lat - lat) if w.lat is not None else 0.0
        dist = math.hypot(dx, dy)
        key = (dt_h, dist, w)
        if best is None or key[:2] < best[:2]:
            best = key
    return best[2] if best else None
