"""NASA FIRMS active-fire points: CSV files and the area API, parsed into hotspots.

Two layouts are recognised from the header:

* MODIS (Collection 6.1, MCD14): ``latitude,longitude,brightness,scan,track,acq_date,
  acq_time,satellite,confidence,version,bright_t31,frp,daynight``; ``confidence`` 0-100.
  Classes follow the MODIS C6 Active Fire Product User's Guide (Giglio, Schroeder & Justice
  2016; Giglio et al. 2020, section 7): < 30 low, 30-79 nominal, >= 80 high.
* VIIRS 375 m (VNP14IMG / VJ114IMG, Schroeder et al. 2014): ``latitude,longitude,bright_ti4,
  scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,
  daynight``; ``confidence`` ``l``/``n``/``h`` (low/nominal/high).

Archive/standard (``_SP``) exports also carry ``type`` (0 presumed vegetation fire, 1 active
volcano, 2 other static land source, 3 offshore); hotspots of type 1-3 are not open burning
and are flagged ``static_source:FIRMS type n (...)`` (see :data:`FIRMS_TYPES`). NRT products
have no ``type``: nothing is flagged.

``scan``/``track`` are the along-scan and along-track pixel sizes in km at the detection; the
footprint is that rectangle around the pixel centre, built in the local UTM zone (scan east-
west, track north-south: an approximation, FIRMS gives no scan azimuth). ``acq_time`` is HHMM
UTC. ``frp`` is fire radiative power in MW.

Malformed rows are reported (file, row number, problem) without dropping the good rows; a
header that is neither layout is a file-level :class:`InputError`.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from burnwatch.config import Settings, get_settings
from burnwatch.errors import AuthError, BurnwatchError, ConfigError, InputError, SourceError
from burnwatch.sources.base import inclusive_end, utm_crs_for
from burnwatch.sources.http import request_with_retry
from burnwatch.types import AOI, ConfidenceClass, Hotspot, utc

log = logging.getLogger(__name__)

_COMMON = {"latitude", "longitude", "scan", "track", "acq_date", "acq_time", "confidence", "frp"}
MODIS_COLUMNS = frozenset(_COMMON | {"brightness"})
VIIRS_COLUMNS = frozenset(_COMMON | {"bright_ti4"})

#: VIIRS l/n/h -> (confidence 0-1, class). Values sit inside the MODIS class ranges so both
#: sources share one 0-1 scale: low [0, 0.3), nominal [0.3, 0.8), high [0.8, 1].
VIIRS_CONFIDENCE: dict[str, tuple[float, ConfidenceClass]] = {
    "l": (0.2, "low"),
    "low": (0.2, "low"),
    "n": (0.55, "nominal"),
    "nominal": (0.55, "nominal"),
    "h": (0.9, "high"),
    "high": (0.9, "high"),
}

#: FIRMS area-API sources (https://firms.modaps.eosdis.nasa.gov/api/area/).
FIRMS_SOURCES = (
    "MODIS_NRT",
    "MODIS_SP",
    "VIIRS_SNPP_NRT",
    "VIIRS_SNPP_SP",
    "VIIRS_NOAA20_NRT",
    "VIIRS_NOAA20_SP",
    "VIIRS_NOAA21_NRT",
)
MAX_DAYS_PER_CALL = 10

#: FIRMS ``type`` column (inferred hot spot type; archive/standard products only, absent from
#: NRT): only type 0 is open burning. 1-3 are flagged ``static_source:FIRMS type n (...)``, the
#: flag prefix of the static heat-source exclusion layer, and suppressed like its kilns.
FIRMS_TYPES = {
    0: "presumed vegetation fire",
    1: "active volcano",
    2: "other static land source",
    3: "offshore",
}
STATIC_FIRMS_TYPES = frozenset({1, 2, 3})


def firms_type_flag(kind: int) -> str:
    """The flag of a FIRMS hotspot of ``type`` 1-3, e.g. ``static_source:FIRMS type 2 (...)``."""
    return f"static_source:FIRMS type {kind} ({FIRMS_TYPES[kind]})"


def _firms_type(row: dict[str, str]) -> int | None:
    """The ``type`` column (None when the product has none, e.g. NRT); ValueError if not 0-3."""
    raw = (row.get("type") or "").strip()
    if not raw:
        return None
    try:
        kind = int(float(raw))
    except ValueError:
        kind = -1
    if kind not in FIRMS_TYPES or float(raw) != kind:
        raise ValueError(f"column 'type': {raw!r} is not 0-3")
    return kind


def modis_confidence_class(value: float) -> ConfidenceClass:
    """MODIS C6 confidence (0-100 %) -> class: < 30 low, 30-79 nominal, >= 80 high."""
    if value < 30:
        return "low"
    return "nominal" if value < 80 else "high"


@dataclass
class FirmsParse:
    """Result of parsing one FIRMS CSV: the good rows as hotspots and per-row errors."""

    layout: str  # "MODIS" | "VIIRS"
    hotspots: list[Hotspot] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    rows: int = 0


@lru_cache(maxsize=16)
def _to_wgs84(crs: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


@lru_cache(maxsize=16)
def _from_wgs84(crs: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def pixel_footprints(
    lon: np.ndarray, lat: np.ndarray, scan_km: np.ndarray, track_km: np.ndarray
) -> list[tuple[str, float, float, Polygon, Polygon]]:
    """Per point: (UTM crs, x, y, footprint in UTM, footprint in WGS84) of a scan x track km pixel.

    Vectorised per UTM zone (one pyproj call per zone and direction).
    """
    import shapely

    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    hx, hy = np.asarray(scan_km, float) * 500.0, np.asarray(track_km, float) * 500.0
    crs_per_point = [utm_crs_for(float(a), float(b)) for a, b in zip(lon, lat, strict=True)]
    out: list[tuple[str, float, float, Polygon, Polygon] | None] = [None] * len(lon)
    for crs in set(crs_per_point):
        idx = np.array([i for i, c in enumerate(crs_per_point) if c == crs])
        x, y = _from_wgs84(crs).transform(lon[idx], lat[idx])
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        # corners counter-clockwise from lower-left, closed
        cx = np.stack([x - hx[idx], x + hx[idx], x + hx[idx], x - hx[idx], x - hx[idx]], axis=1)
        cy = np.stack([y - hy[idx], y - hy[idx], y + hy[idx], y + hy[idx], y - hy[idx]], axis=1)
        clon, clat = _to_wgs84(crs).transform(cx.ravel(), cy.ravel())
        native = shapely.polygons(np.stack([cx, cy], axis=-1))
        wgs = shapely.polygons(np.stack([np.reshape(clon, cx.shape), np.reshape(clat, cy.shape)], axis=-1))
        for k, i in enumerate(idx):
            out[i] = (crs, float(x[k]), float(y[k]), native[k], wgs[k])
    return [o for o in out if o is not None]


def pixel_footprint(
    lon: float, lat: float, scan_km: float, track_km: float
) -> tuple[str, float, float, Polygon, Polygon]:
    """(UTM crs, x, y, footprint in UTM, footprint in WGS84) for one scan x track km pixel."""
    return pixel_footprints(np.array([lon]), np.array([lat]), np.array([scan_km]), np.array([track_km]))[0]


def _time(acq_date: str, acq_time: str) -> datetime:
    try:
        day = date.fromisoformat(acq_date.strip())
    except ValueError:
        raise ValueError(f"column 'acq_date': {acq_date!r} is not a YYYY-MM-DD date") from None
    hhmm = acq_time.strip()
    if not hhmm.isdigit() or len(hhmm) > 4:
        raise ValueError(f"column 'acq_time': {acq_time!r} is not HHMM")
    hhmm = hhmm.zfill(4)
    hour, minute = int(hhmm[:2]), int(hhmm[2:])
    if hour > 23 or minute > 59:
        raise ValueError(f"column 'acq_time': {acq_time!r} is not a time of day (HHMM)")
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)


def _number(row: dict[str, str], key: str, *, required: bool = True) -> float | None:
    """The finite number in column ``key``; ValueError naming the column and the value."""
    raw = (row.get(key) or "").strip()
    if not raw:
        if required:
            raise ValueError(f"column {key!r}: '' is not a number (a value is required)")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"column {key!r}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"column {key!r}: {raw!r} is not a finite number")
    return value


def _row_fields(row: dict[str, str], layout: str) -> dict[str, Any]:
    """Validated Hotspot keyword arguments of one row, without the footprint geometry."""
    lat = _number(row, "latitude")
    lon = _number(row, "longitude")
    assert lat is not None and lon is not None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"columns 'latitude'/'longitude': {lat}, {lon} out of range")
    scan = _number(row, "scan")
    track = _number(row, "track")
    assert scan is not None and track is not None
    if scan <= 0 or track <= 0:
        raise ValueError(f"columns 'scan'/'track': {scan}, {track} must be positive km")
    when = _time(row["acq_date"], row["acq_time"])
    frp = _number(row, "frp", required=False)
    raw_conf = (row.get("confidence") or "").strip()
    if layout == "MODIS":
        pct = _number(row, "confidence")
        assert pct is not None
        if not 0 <= pct <= 100:
            raise ValueError(f"column 'confidence': {raw_conf!r} is outside 0-100")
        confidence, cls = pct / 100.0, modis_confidence_class(pct)
        bright_key, bright2_key = "brightness", "bright_t31"
        sensor, algorithm, version = "MODIS", "firms-modis-c6.1", (row.get("version") or "6.1").strip()
    else:
        if raw_conf.lower() not in VIIRS_CONFIDENCE:
            raise ValueError(f"column 'confidence': {raw_conf!r} is not l/n/h")
        confidence, cls = VIIRS_CONFIDENCE[raw_conf.lower()]
        bright_key, bright2_key = "bright_ti4", "bright_ti5"
        sensor, algorithm, version = "VIIRS", "firms-viirs-375m", (row.get("version") or "2").strip()
    satellite = (row.get("satellite") or "").strip()
    attributes: dict[str, float | int | str | None] = {
        "brightness_k": _number(row, bright_key, required=False),
        f"{bright2_key}_k": _number(row, bright2_key, required=False),
        "scan_km": scan,
        "track_km": track,
        "satellite": satellite or None,
        "instrument": (row.get("instrument") or sensor).strip(),
        "daynight": (row.get("daynight") or "").strip() or None,
        "firms_confidence": raw_conf,
        "firms_version": version,
    }
    kind = _firms_type(row)
    if kind is not None:
        attributes["firms_type"] = kind
    return dict(
        source="firms",
        sensor=sensor,
        algorithm=algorithm,
        algorithm_version=version,
        time=when,
        lon=lon,
        lat=lat,
        confidence=confidence,
        confidence_class=cls,
        frp_mw=frp,
        # 1-sigma of a uniform position inside a scan x track pixel
        uncertainty_m=1000.0 * math.sqrt((scan**2 + track**2) / 12.0),
        scene_id=f"firms:{sensor}:{satellite}:{when:%Y%m%dT%H%M}",
        attributes=attributes,
        flags=(firms_type_flag(kind),) if kind in STATIC_FIRMS_TYPES else (),
    )


def detect_layout(columns: Iterable[str]) -> str:
    """``"MODIS"`` or ``"VIIRS"`` from a CSV header; ValueError naming missing columns."""
    cols = {c.strip().lower() for c in columns}
    if cols >= VIIRS_COLUMNS:
        return "VIIRS"
    if cols >= MODIS_COLUMNS:
        return "MODIS"
    missing_m = sorted(MODIS_COLUMNS - cols)
    missing_v = sorted(VIIRS_COLUMNS - cols)
    raise ValueError(f"not a FIRMS CSV header: missing MODIS columns {missing_m} / VIIRS columns {missing_v}")


def parse_firms_text(text: str, *, name: str = "<firms>", within: BaseGeometry | None = None) -> FirmsParse:
    """Parse FIRMS CSV text. ``within`` (WGS84) keeps only points inside it (boundary included).

    Row numbers in errors are file line numbers (the header is line 1).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise InputError("empty file, no FIRMS CSV header", path=name)
    try:
        layout = detect_layout(reader.fieldnames)
    except ValueError as exc:
        raise InputError(str(exc), path=name) from exc
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    bounds = within.bounds if within is not None else None
    result = FirmsParse(layout=layout)
    fields: list[dict[str, Any]] = []
    for row in reader:
        result.rows += 1
        lineno = reader.line_num
        try:
            if None in row or any(v is None for v in row.values()):
                raise ValueError(f"expected {len(reader.fieldnames)} fields")
            if bounds is not None and within is not None:
                lat, lon = _number(row, "latitude"), _number(row, "longitude")
                assert lat is not None and lon is not None
                if not (bounds[0] <= lon <= bounds[2] and bounds[1] <= lat <= bounds[3]):
                    continue
                if not within.intersects(Point(lon, lat)):
                    continue
            fields.append(_row_fields(row, layout))
        except (ValueError, KeyError, TypeError) as exc:
            result.errors.append(InputError(f"row {lineno}: {exc}", path=name))
    if fields:
        geoms = pixel_footprints(
            np.array([f["lon"] for f in fields]),
            np.array([f["lat"] for f in fields]),
            np.array([f["attributes"]["scan_km"] for f in fields]),
            np.array([f["attributes"]["track_km"] for f in fields]),
        )
        for f, (crs, x, y, native, foot) in zip(fields, geoms, strict=True):
            result.hotspots.append(Hotspot(**f, footprint=foot, crs=crs, x=x, y=y, footprint_native=native))
    return result


def read_firms_csv(
    path: str | Path,
    *,
    aoi: AOI | BaseGeometry | None = None,
    errors: list[InputError] | None = None,
) -> list[Hotspot]:
    """Read a FIRMS CSV export (MODIS or VIIRS layout) into hotspots.

    ``aoi`` (an :class:`AOI` or WGS84 geometry, e.g. a bbox) filters points. Malformed rows
    are logged and appended to ``errors`` when given; the good rows are returned.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError("file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read FIRMS CSV: {exc}", path=path) from exc
    within = aoi.geometry if isinstance(aoi, AOI) else aoi
    parsed = parse_firms_text(text, name=str(path), within=within)
    for err in parsed.errors:
        log.warning("%s", err)
    if errors is not None:
        errors.extend(parsed.errors)
    return parsed.hotspots


_AFIMG_NAME = re.compile(r"AFIMG_(?P<sat>[a-z0-9]+)_d(?P<d>\d{8})_t(?P<t>\d{6})\d?_", re.IGNORECASE)
#: Column names used in messages (the file itself names them only in its comments).
_AFIMG_COLUMNS = ("latitude", "longitude", "brightness", "scan", "track", "confidence", "frp")
_AFIMG_SATELLITES = {"npp": "Suomi NPP", "j01": "NOAA-20", "j02": "NOAA-21"}
#: CSPP detection confidence 7/8/9 -> low/nominal/high (same 0-1 values as VIIRS l/n/h).
_AFIMG_CONFIDENCE = {7: VIIRS_CONFIDENCE["l"], 8: VIIRS_CONFIDENCE["n"], 9: VIIRS_CONFIDENCE["h"]}


def read_afimg_txt(
    path: str | Path,
    *,
    aoi: AOI | BaseGeometry | None = None,
    errors: list[InputError] | None = None,
) -> list[Hotspot]:
    """Read the text output of the CSPP VIIRS I-band active-fire processor (``AFIMG_*.txt``).

    Seven comma-separated columns (latitude, longitude, I04 brightness temperature K,
    along-scan and along-track pixel size km, confidence 7/8/9, FRP MW) after ``#`` comments.
    The granule start time and satellite come from the file name
    (``AFIMG_j01_d20210414_t1126439_...``) or, for a renamed file, from its ``# source:``
    comment; every fire gets that time. ``aoi`` (WGS84) keeps points inside or on it.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise InputError("file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read CSPP active-fire file: {exc}", path=path) from exc
    source = next((ln for ln in lines if ln.lstrip("# ").lower().startswith("source:")), "")
    match = _AFIMG_NAME.search(path.name) or _AFIMG_NAME.search(source)
    if match is None:
        raise InputError(
            "file name (or its '# source:' comment) does not follow AFIMG_<sat>_dYYYYMMDD_tHHMMSSs_...",
            path=path,
        )
    when = datetime.strptime(match["d"] + match["t"], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    satellite = _AFIMG_SATELLITES.get(match["sat"].lower(), match["sat"])
    within = aoi.geometry if isinstance(aoi, AOI) else aoi
    out: list[Hotspot] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            fields = [f.strip() for f in line.split(",")]
            if len(fields) != 7:
                raise ValueError(f"expected 7 fields, got {len(fields)}")
            row = dict(zip(_AFIMG_COLUMNS, fields, strict=True))
            lat, lon, bt4, scan, track, conf, frp = (_number(row, c) or 0.0 for c in _AFIMG_COLUMNS)
            if int(conf) not in _AFIMG_CONFIDENCE:
                raise ValueError(f"column 'confidence': {fields[5]!r} is not 7/8/9")
            confidence, cls = _AFIMG_CONFIDENCE[int(conf)]
            if within is not None and not within.intersects(Point(lon, lat)):
                continue
            crs, x, y, native, foot = pixel_footprint(lon, lat, scan, track)
            out.append(
                Hotspot(
                    source="cspp",
                    sensor="VIIRS",
                    algorithm="cspp-viirs-af-375m",
                    time=when,
                    lon=lon,
                    lat=lat,
                    confidence=confidence,
                    confidence_class=cls,
                    footprint=foot,
                    crs=crs,
                    x=x,
                    y=y,
                    footprint_native=native,
                    frp_mw=frp,
                    uncertainty_m=1000.0 * math.sqrt((scan**2 + track**2) / 12.0),
                    scene_id=path.stem,
                    attributes={
                        "brightness_k": bt4,
                        "scan_km": scan,
                        "track_km": track,
                        "satellite": satellite,
                        "cspp_confidence": int(conf),
                    },
                )
            )
        except ValueError as exc:
            err = InputError(f"line {lineno}: {exc}", path=path)
            log.warning("%s", err)
            if errors is not None:
                errors.append(err)
    return out


def is_afimg_text(text: str) -> bool:
    """True for CSPP active-fire text (``#`` comment lines first), False for a FIRMS CSV
    (its first line is the column header)."""
    first = next((ln for ln in text.lstrip("\ufeff").splitlines() if ln.strip()), "")
    return first.lstrip().startswith("#")


def read_hotspot_file(
    path: str | Path,
    *,
    aoi: AOI | BaseGeometry | None = None,
    errors: list[InputError] | None = None,
) -> list[Hotspot]:
    """A FIRMS CSV export or a CSPP ``AFIMG`` text file, told apart by content (not the name):
    :func:`read_firms_csv` or :func:`read_afimg_txt`, same ``aoi``/``errors`` handling."""
    path = Path(path)
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except FileNotFoundError as exc:
        raise InputError("file not found", path=path) from exc
    except OSError as exc:
        raise InputError(f"cannot read hotspot file: {exc}", path=path) from exc
    if is_afimg_text(head):
        return read_afimg_txt(path, aoi=aoi, errors=errors)
    return read_firms_csv(path, aoi=aoi, errors=errors)


def day_chunks(start: date, end: date, max_days: int = MAX_DAYS_PER_CALL) -> list[tuple[date, int]]:
    """Split the inclusive range [start, end] into (first day, number of days <= max_days)."""
    if end < start:
        raise InputError(f"end date {end} is before start date {start}")
    out: list[tuple[date, int]] = []
    day = start
    while day <= end:
        n = min(max_days, (end - day).days + 1)
        out.append((day, n))
        day += timedelta(days=n)
    return out


class FirmsClient:
    """The FIRMS area API: ``/api/area/csv/{MAP_KEY}/{SOURCE}/{W,S,E,N}/{DAYS}/{DATE}``.

    The map key comes from ``settings.firms_map_key`` (``BURNWATCH_FIRMS_MAP_KEY``) and is
    never logged: URLs in logs and errors show ``***``. Ranges longer than 10 days are split
    into several calls; results are clipped to the AOI and time range and de-duplicated.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        source: str = "VIIRS_SNPP_NRT",
        max_days: int = MAX_DAYS_PER_CALL,
        calls: dict[str, str | BurnwatchError] | None = None,
    ) -> None:
        if not 1 <= max_days <= MAX_DAYS_PER_CALL:
            raise InputError(f"FIRMS max_days must be 1-{MAX_DAYS_PER_CALL}, got {max_days}")
        self.settings = settings or get_settings()
        self.source = source
        self.max_days = max_days  # lower it if FIRMS tightens its DAY_RANGE limit
        self.errors: list[BurnwatchError] = []
        # Answers (CSV text or the error) of calls already made, by request without the key:
        # a dict shared by several clients makes an identical request once (e.g. the 6-hour
        # slots of one day in one scheduler run), a failed one included.
        self.calls = calls

    def _key(self) -> str:
        key = self.settings.firms_map_key
        if key is None or not key.get_secret_value().strip():
            raise ConfigError("FIRMS map key missing: set BURNWATCH_FIRMS_MAP_KEY")
        return key.get_secret_value().strip()

    def fetch_csv(self, source: str, bbox: Sequence[float], days: int, day: date | None) -> str:
        """One area-API call; returns the CSV text. Raises AuthError for a rejected key."""
        if source not in FIRMS_SOURCES:
            raise InputError(f"unknown FIRMS source {source!r}; known: {', '.join(FIRMS_SOURCES)}")
        if not 1 <= days <= self.max_days:
            raise InputError(f"FIRMS day range must be 1-{self.max_days}, got {days}")
        key = self._key()
        area = ",".join(f"{v:.6f}".rstrip("0").rstrip(".") for v in bbox)
        request = f"{self.settings.firms_base_url.rstrip('/')}/{source}/{area}/{days}/{day}"
        if self.calls is None:
            return self._fetch(source, area, days, day, key)
        if request not in self.calls:
            try:
                self.calls[request] = self._fetch(source, area, days, day, key)
            except BurnwatchError as exc:
                self.calls[request] = exc
        else:
            log.debug("FIRMS %s %s+%dd: answer of an identical call reused", source, day, days)
        answer = self.calls[request]
        if isinstance(answer, BurnwatchError):
            raise answer
        return answer

    def _fetch(self, source: str, area: str, days: int, day: date | None, key: str) -> str:
        url = f"{self.settings.firms_base_url.rstrip('/')}/api/area/csv/{key}/{source}/{area}/{days}"
        if day is not None:
            url += f"/{day.isoformat()}"
        try:
            response = request_with_retry(
                "GET", url, settings=self.settings, secrets=[key], service=f"FIRMS {source}"
            )
        except AuthError:
            raise
        except SourceError as exc:
            if "invalid map_key" in str(exc).lower():
                raise AuthError(f"FIRMS rejected the map key: {exc}") from exc
            raise
        text = response.text
        head = text.lstrip()[:200].lower()
        # FIRMS answers some errors with HTTP 200/400 and a plain-text message
        if "invalid map_key" in head or ("invalid api call" in head and "key" in head):
            raise AuthError(f"FIRMS rejected the map key ({text.strip()[:80]})")
        first_line = head.splitlines()[0] if head else ""
        if first_line and "latitude" not in first_line:
            # e.g. "Invalid area coordinates", "Exceeding allowed transaction limit"
            raise SourceError(f"FIRMS {source}: unexpected answer: {text.strip()[:200]}")
        return text

    def hotspots(self, aoi: AOI, start: datetime, end: datetime, source: str | None = None) -> list[Hotspot]:
        """Hotspots inside ``aoi`` acquired between ``start`` and ``end`` (UTC, inclusive).

        A range longer than ``max_days`` is fetched in chunks. A chunk that fails (after the
        HTTP retries) is recorded in :attr:`errors` and the others are kept; only when every
        chunk failed is an error raised (the chunk's own error when there was one chunk). A
        rejected key (:class:`AuthError`) or a missing one (:class:`ConfigError`) raises at once.
        """
        source = source or self.source
        if source not in FIRMS_SOURCES:
            raise InputError(f"unknown FIRMS source {source!r}; known: {', '.join(FIRMS_SOURCES)}")
        self._key()  # a missing key is a ConfigError before any call
        start, end = utc(start), inclusive_end(end)
        chunks = day_chunks(start.date(), end.date(), self.max_days)
        seen: dict[tuple[str, str, str, str, float, float], Hotspot] = {}
        failed: list[BurnwatchError] = []
        row_errors: list[InputError] = []
        for first, days in chunks:
            try:
                parsed = self._chunk(source, aoi, first, days)
            except (AuthError, ConfigError):
                raise
            except (SourceError, InputError) as exc:
                log.warning("FIRMS %s %s+%dd failed: %s", source, first.isoformat(), days, exc)
                failed.append(exc)
                continue
            if parsed is None:
                continue
            row_errors.extend(parsed.errors)
            for h in parsed.hotspots:
                if start <= h.time <= end:
                    seen.setdefault(h.natural_key, h)
        if failed and len(failed) == len(chunks):
            if len(failed) == 1:
                raise failed[0]
            raise SourceError(f"FIRMS {source}: all {len(chunks)} calls failed; first: {failed[0]}")
        self.errors.extend(row_errors)
        self.errors.extend(failed)
        hotspots = sorted(seen.values(), key=lambda h: (h.time, h.lon, h.lat))
        log.info(
            "FIRMS %s: %d hotspots in %s%s",
            source,
            len(hotspots),
            aoi.name,
            f" ({len(failed)} of {len(chunks)} calls failed)" if failed else "",
        )
        return hotspots

    def _chunk(self, source: str, aoi: AOI, first: date, days: int) -> FirmsParse | None:
        """One call of the range, parsed and clipped to the AOI; None when FIRMS had no rows."""
        text = self.fetch_csv(source, aoi.bbox, days, first)
        if not text.strip():
            return None
        name = f"FIRMS {source} {first.isoformat()}+{days}d"
        parsed = parse_firms_text(text, name=name, within=aoi.geometry)
        for err in parsed.errors:
            log.warning("%s", err)
        return parsed
