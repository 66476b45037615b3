"""DJI ``.SRT`` telemetry (the subtitle track written beside a drone video).

Two layouts are understood, one record per subtitle block:

* older DJI (Phantom 4 / Mavic Pro):
  ``F/2.8, SS 206.14, ISO 150, EV 0, GPS (-82.6669, 27.7716, 10), D 2.80m, H 0.00m, ...`` —
  ``GPS (lon, lat, satellites-or-altitude)``, ``H`` = height above take-off (m);
* newer DJI (Mavic 2/3, Mini, Air): ``[latitude: 21.0283] [longitude: 105.8542]
  [rel_alt: 50.100 abs_alt: 120.5]`` with a ``YYYY-MM-DD hh:mm:ss`` line.

Coordinates are WGS84 degrees, altitudes metres.

A block with a timing line but an unreadable number (``105.85.1``), an impossible date
(``2026-02-30``) or a position outside -180..180 / -90..90 is *malformed*: it is skipped and
listed in :attr:`SrtRecords.skipped`. Blocks without a position (or at 0, 0: no GPS fix yet)
are skipped silently. A file with no usable record raises :class:`CorruptFileError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


class SrtRecords(list[SrtRecord]):
    """The usable records of one SRT file (a list), with ``skipped``: one line per malformed block."""

    def __init__(self, records: Iterable[SrtRecord] = (), skipped: Iterable[str] = ()) -> None:
        super().__init__(records)
        self.skipped: list[str] = list(skipped)


class _MalformedBlock(Exception):
    """A block has a timing line but a value that cannot be read."""


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 10 ** len(ms)


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _MalformedBlock(f"{what} {text!r} is not a number") from None


def _number(match: re.Match[str] | None, what: str) -> float | None:
    return None if match is None else _float(match.group(1), what)


def _position(block: str) -> tuple[float | None, float | None, float | None, float | None]:
    """(lon, lat, rel_alt, abs_alt) of a block, in either DJI layout."""
    if m := _GPS_OLD.search(block):
        lon, lat = _float(m.group(1), "longitude"), _float(m.group(2), "latitude")
        return lon, lat, _number(_H_OLD.search(block), "height H"), None
    la, lo = _LAT.search(block), _LON.search(block)
    if not (la and lo):
        return None, None, None, None
    lon, lat = _float(lo.group(1), "longitude"), _float(la.group(1), "latitude")
    return lon, lat, _number(_REL.search(block), "rel_alt"), _number(_ABS.search(block), "abs_alt")


def _time(block: str) -> datetime | None:
    if not (d := _DATE.search(block)):
        return None
    try:
        return datetime.fromisoformat(d.group(1).replace(" ", "T"))
    except ValueError as exc:
        raise _MalformedBlock(f"invalid date {d.group(1)!r} ({exc})") from None


def _parse_block(block: str, index: int) -> SrtRecord | None:
    """The block's record; None when it has no timing or no position (no GPS fix)."""
    timing = _TIMING.search(block)
    if not timing:
        return None
    g = timing.groups()
    lon, lat, rel, absa = _position(block)
    if lon is None or lat is None or (lon == 0.0 and lat == 0.0):
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _MalformedBlock(f"position lon {lon}, lat {lat} is out of range")
    return SrtRecord(index, _seconds(*g[:4]), _seconds(*g[4:]), lon, lat, rel, absa, _time(block))


def parse_srt(text: str, source: str = "<srt>") -> SrtRecords:
    """Parse SRT text; blocks without a position are skipped, malformed ones skipped and listed.

    Raises :class:`CorruptFileError` (naming ``source``) if no block has a usable position.
    """
    records = SrtRecords()
    for number, block in enumerate(re.split(r"\r?\n\s*\r?\n", text.strip()), start=1):
        try:
            rec = _parse_block(block, len(records) + 1)
        except _MalformedBlock as exc:
            records.skipped.append(f"block {number}: {exc}")
            continue
        if rec is not None:
            records.append(rec)
    if not records:
        why = "no telemetry records with a GPS position"
        if records.skipped:
            n = len(records.skipped)
            why += f"; {n} malformed block{'s' if n > 1 else ''} skipped ({records.skipped[0]}"
            why += ", ...)" if n > 1 else ")"
        raise CorruptFileError(why, path=source)
    return records


def read_srt(path: Path) -> SrtRecords:
    """Read a DJI ``.SRT`` telemetry file (UTF-8, BOM tolerated); see :func:`parse_srt`."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise CorruptFileError(f"cannot read SRT ({exc.strerror})", path=path) from exc
    return parse_srt(text, str(path))
