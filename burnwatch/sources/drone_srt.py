"""DJI ``.SRT`` telemetry (the subtitle track written beside a drone video).

Two layouts are understood, one record per subtitle block:

* older DJI (Phantom 4 / Mavic Pro):
  ``F/2.8, SS 206.14, ISO 150, EV 0, GPS (-82.6669, 27.7716, 10), D 2.80m, H 0.00m, ...`` —
  ``GPS (lon, lat, satellites-or-altitude)``, ``H`` = height above take-off (m);
* newer DJI (Mavic 2/3, Mini, Air): ``[latitude: 21.0283] [longitude: 105.8542]
  [rel_alt: 50.100 abs_alt: 120.5]`` with a ``YYYY-MM-DD hh:mm:ss`` line.

Coordinates are WGS84 degrees, altitudes metres.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from burnwatch.errors import CorruptFileError

_TIMING = re.compile(r"(\d+):(\d+):(\d+)[,.](\d+)\s*-->\s*(\d+):(\d+):(\d+)[,.](\d+)")
_GPS_OLD = re.compile(r"GPS\s*\(\s*([-\d.]+)\s*,\s*([-\d.]+)\s*,\s*([-\d.]+)\s*\)")
_H_OLD = re.compile(r"(?:^|[\s,])H\s+([-\d.]+)\s*m")
_LAT = re.compile(r"latitude\s*:\s*([-\d.]+)", re.I)
_LON = re.compile(r"longt?itude\s*:\s*([-\d.]+)", re.I)
_REL = re.compile(r"rel_alt\s*:\s*([-\d.]+)", re.I)
_ABS = re.compile(r"abs_alt\s*:\s*([-\d.]+)", re.I)
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})")


@dataclass(frozen=True)
class SrtRecord:
    """One telemetry sample: video time span (s), WGS84 position, altitudes (m)."""

    index: int
    start_s: float
    end_s: float
    lon: float
    lat: float
    rel_alt: float | None = None
    abs_alt: float | None = None
    time: datetime | None = None


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 10 ** len(ms)


def parse_srt(text: str, source: str = "<srt>") -> list[SrtRecord]:
    """Parse SRT text; blocks without a position are skipped. Raises if none has one."""
    records: list[SrtRecord] = []
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())
    for block in blocks:
        timing = _TIMING.search(block)
        if not timing:
            continue
        g = timing.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        lon = lat = rel = absa = None
        if m := _GPS_OLD.search(block):
            lon, lat = float(m.group(1)), float(m.group(2))
            if h := _H_OLD.search(block):
                rel = float(h.group(1))
        else:
            la, lo = _LAT.search(block), _LON.search(block)
            if la and lo:
                lat, lon = float(la.group(1)), float(lo.group(1))
            if r := _REL.search(block):
                rel = float(r.group(1))
            if a := _ABS.search(block):
                absa = float(a.group(1))
        if lon is None or lat is None or (lon == 0.0 and lat == 0.0):
            continue
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            continue
        when = None
        if d := _DATE.search(block):
            when = datetime.fromisoformat(d.group(1).replace(" ", "T"))
        records.append(SrtRecord(len(records) + 1, start, end, lon, lat, rel, absa, when))
    if not records:
        raise CorruptFileError("no telemetry records with a GPS position", path=source)
    return records


def read_srt(path: Path) -> list[SrtRecord]:
    """Read a DJI ``.SRT`` telemetry file (UTF-8, BOM tolerated)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise CorruptFileError(f"cannot read SRT ({exc.strerror})", path=path) from exc
    return parse_srt(text, str(path))
