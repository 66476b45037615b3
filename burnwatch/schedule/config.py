"""The schedule file (YAML or TOML): watch areas, sources, cadence, season, notifications.

Example (YAML)::

    boundaries: {path: provinces.geojson, name_field: name}   # for areas given by province
    season: {start: "09-01", end: "04-30"}                     # crosses the new year
    max_lookback_days: 10
    out_dir: scans
    watch_areas:
      - name: hung-yen
        provinces: ["Hưng Yên"]
      - name: delta-box
        bbox: [105.90, 20.95, 106.30, 21.20]                  # WGS84 degrees
        sources: [sentinel2]
      - name: from-file
        aoi: areas/thai_binh.geojson                          # relative to this file
    sources:
      sentinel2: {collection: sentinel2-l1c, max_cloud: 60, resolution_m: 20}
      landsat: {collection: landsat-ot-l1, max_cloud: 60, resolution_m: 30}
      firms: {product: VIIRS_SNPP_NRT, every_hours: 6, latency_hours: 3}
    notify:
      webhooks: ["https://hooks.example.org/burnwatch"]
      emails: ["inspectors@example.org"]
      smtp: {host: smtp.example.org, port: 587, sender: burnwatch@example.org,
             starttls: true, username: burnwatch, password_env: BURNWATCH_SMTP_PASSWORD}
      digest_hour: 7
      timezone: Asia/Ho_Chi_Minh

Satellite sources (``sentinel2``, ``landsat``) have one pass per acquisition day found in the
Sentinel Hub catalog; ``firms`` has one pass per ``every_hours`` slot (UTC, aligned to
midnight), due ``latency_hours`` after the slot ends. Paths are relative to the schedule
file. Secrets (SMTP password) are read from the environment variable named in the file.
Errors name the file and the field: ``schedule.yaml: watch_areas.1.bbox: ...``.
"""

from __future__ import annotations

import calendar
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from burnwatch.errors import ConfigError, InputError
from burnwatch.types import AOI

SourceName = Literal["sentinel2", "landsat", "firms"]
SATELLITE_SOURCES: tuple[str, ...] = ("sentinel2", "landsat")


#: upper bound of every duration in minutes (30 days): finite, far below timedelta's range
MAX_MINUTES = 30 * 24 * 60.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Boundaries(_Model):
    """Province polygons used to resolve watch areas given by province name."""

    path: Path
    name_field: str = "name"
    code_field: str | None = None


class SeasonWindow(_Model):
    """The burning season as month-day strings ``"MM-DD"`` (inclusive); may cross new year."""

    start: str = "09-01"
    end: str = "04-30"

    @field_validator("start", "end")
    @classmethod
    def _month_day(cls, value: str) -> str:
        try:
            date.fromisoformat(f"2000-{value}")  # a leap year, so 02-29 is accepted
        except ValueError:
            raise ValueError(f"{value!r} is not a month-day 'MM-DD'") from None
        return value

    def _md(self, text: str) -> tuple[int, int]:
        month, day = text.split("-")
        return int(month), int(day)

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` (its UTC calendar day) falls inside the season."""
        md = (when.month, when.day)
        start, end = self._md(self.start), self._md(self.end)
        if start <= end:
            return start <= md <= end
        return md >= start or md <= end

    def bounds(self, when: datetime) -> tuple[datetime, datetime] | None:
        """(first instant, end instant exclusive) of the season containing ``when``, else None."""
        if not self.contains(when):
            return None
        start_md, end_md = self._md(self.start), self._md(self.end)
        if start_md <= end_md:
            start_year = end_year = when.year
        elif (when.month, when.day) >= start_md:
            start_year, end_year = when.year, when.year + 1
        else:
            start_year, end_year = when.year - 1, when.year
        start = _day(start_year, *start_md, when)
        return start, _day(end_year, *end_md, when) + timedelta(days=1)


def _day(year: int, month: int, day: int, like: datetime) -> datetime:
    """Midnight of year-month-day in ``like``'s time zone; 29 Feb becomes 28 Feb in common years."""
    if (month, day) == (2, 29) and calendar.isleap(year) is False:
        day = 28
    return datetime(year, month, day, tzinfo=like.tzinfo)


class SatelliteSource(_Model):
    collection: str = "sentinel2-l1c"
    max_cloud: float = Field(default=60.0, ge=0, le=100)
    resolution_m: float = Field(default=20.0, gt=0)


class FirmsSource(_Model):
    product: str = "VIIRS_SNPP_NRT"
    every_hours: int = Field(default=6, ge=1, le=24)
    latency_hours: float = Field(default=3.0, ge=0)

    @field_validator("every_hours")
    @classmethod
    def _divides_day(cls, value: int) -> int:
        if 24 % value:
            raise ValueError(f"every_hours must divide 24 (1, 2, 3, 4, 6, 8, 12, 24), got {value}")
        return value


class Sources(_Model):
    sentinel2: SatelliteSource | None = None
    landsat: SatelliteSource | None = None
    firms: FirmsSource | None = None

    @model_validator(mode="after")
    def _one(self) -> Sources:
        if not self.names():
            raise ValueError("at least one of sentinel2, landsat, firms is needed")
        return self

    def names(self) -> list[str]:
        return [n for n in ("sentinel2", "landsat", "firms") if getattr(self, n) is not None]


class WatchArea(_Model):
    """One area: exactly one of ``aoi`` (GeoJSON file), ``bbox`` or ``provinces``."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.-]+$")
    aoi: Path | None = None
    bbox: tuple[float, float, float, float] | None = None
    provinces: list[str] | None = None
    sources: list[SourceName] | None = None  # None: every configured source

    @field_validator("name")
    @classmethod
    def _not_dots(cls, name: str) -> str:
        if set(name) == {"."}:  # "." or "..": <out_dir>/<name> would not be the area's own folder
            raise ValueError(f"area name {name!r} is not allowed (it names a folder outside out_dir)")
        return name

    @model_validator(mode="after")
    def _exactly_one(self) -> WatchArea:
        given = [k for k in ("aoi", "bbox", "provinces") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of aoi, bbox, provinces (got {', '.join(given) or 'none'})")
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError(f"bbox {list(self.bbox)} is not [W, S, E, N], WGS84")
        if self.provinces is not None and not self.provinces:
            raise ValueError("provinces is empty")
        return self


class Smtp(_Model):
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None  # name of the environment variable holding the password
    timeout_s: float = Field(default=30.0, gt=0)


class Notify(_Model):
    webhooks: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    smtp: Smtp | None = None
    digest_hour: int | None = Field(default=7, ge=0, le=23)  # local hour; None: no digest
    timezone: str = "Asia/Ho_Chi_Minh"
    timeout_s: float = Field(default=20.0, gt=0)

    @field_validator("webhooks")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for addr in value:
            if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
                raise ValueError(f"{addr!r} is not an e-mail address")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _smtp_for_emails(self) -> Notify:
        if self.emails and self.smtp is None:
            raise ValueError("emails need an smtp section (host, port, sender)")
        return self


class Retry(_Model):
    """Exponential backoff: attempt n waits ``backoff_minutes * factor**(n-1)`` (capped)."""

    max_attempts: int = Field(default=6, ge=1, le=50)
    backoff_minutes: float = Field(default=15.0, ge=0, le=MAX_MINUTES, allow_inf_nan=False)
    factor: float = Field(default=2.0, ge=1, allow_inf_nan=False)
    max_backoff_hours: float = Field(default=12.0, gt=0, le=MAX_MINUTES / 60, allow_inf_nan=False)
    # a 'running' job older is re-queued
    stale_running_hours: float = Field(default=6.0, gt=0, le=MAX_MINUTES / 60, allow_inf_nan=False)

    def delay(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` failed attempts, capped by ``max_backoff_hours`` in float
        minutes before any timedelta is built (a large factor cannot overflow)."""
        cap = self.max_backoff_hours * 60.0
        try:
            minutes = self.backoff_minutes * self.factor ** max(attempts - 1, 0)
        except OverflowError:
            minutes = cap
        return timedelta(minutes=min(minutes, cap))


class Schedule(_Model):
    """A whole schedule file; ``base_dir`` is the file's folder (relative paths start there)."""

    watch_areas: list[WatchArea] = Field(min_length=1)
    sources: Sources
    season: SeasonWindow = SeasonWindow()
    max_lookback_days: float = Field(default=10.0, gt=0, le=366)
    poll_minutes: float = Field(default=15.0, gt=0, le=MAX_MINUTES, allow_inf_nan=False)
    out_dir: Path = Path("scans")
    min_confidence: Literal["low", "nominal", "high"] = "nominal"
    boundaries: Boundaries | None = None
    notify: Notify = Notify()
    retry: Retry = Retry()
    base_dir: Path = Path(".")
    path: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        names = [a.name for a in self.watch_areas]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"watch area names repeat: {', '.join(dupes)}")
        configured = set(self.sources.names())
        for area in self.watch_areas:
            missing = set(area.sources or ()) - configured
            if missing:
                unknown = ", ".join(sorted(missing))
                raise ValueError(f"watch area {area.name}: source(s) {unknown} not configured")
            if area.provinces is not None and self.boundaries is None:
                raise ValueError(f"watch area {area.name}: provinces need a boundaries section")
        return self

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path

    def sources_of(self, area: WatchArea) -> list[str]:
        return list(area.sources) if area.sources else self.sources.names()

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "schedule"


def _format_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def schedule_from_dict(doc: Any, path: Path | None = None) -> Schedule:
    """Validate a parsed schedule; raise :class:`ConfigError` naming the file and field."""
    if not isinstance(doc, dict):
        raise ConfigError("the schedule must be a mapping of sections", path=path)
    base = path.resolve().parent if path else Path(".").resolve()
    try:
        return Schedule.model_validate({**doc, "base_dir": base, "path": path})
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc), path=path) from exc


def load_schedule(path: str | Path) -> Schedule:
    """Read a ``.yaml``/``.yml`` or ``.toml`` schedule file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("schedule file not found", path=path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            doc: Any = tomllib.loads(text)
        elif path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            doc = yaml.safe_load(text)
        else:
            raise ConfigError("schedule must be a .yaml, .yml or .toml file", path=path)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError(f"not valid {path.suffix.lstrip('.').upper()}: {exc}", path=path) from exc
    except Exception as exc:  # yaml.YAMLError and friends
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"not valid YAML: {' '.join(str(exc).split())}", path=path) from exc
    return schedule_from_dict(doc, path)


def area_aoi(schedule: Schedule, area: WatchArea) -> AOI:
    """The WGS84 :class:`AOI` of a watch area (provinces resolved through the boundaries file)."""
    from shapely.geometry import box
    from shapely.ops import unary_union

    from burnwatch.sources.base import read_aoi_file

    where = f"watch area {area.name}"
    if area.bbox is not None:
        return AOI(box(*area.bbox), area.name)
    if area.aoi is not None:
        aoi = read_aoi_file(schedule.resolve(area.aoi))
        return AOI(aoi.geometry, area.name)
    assert schedule.boundaries is not None and area.provinces is not None  # validated
    from burnwatch.incidents.admin import AdminLayer

    b = schedule.boundaries
    layer = AdminLayer.load(schedule.resolve(b.path), b.name_field, b.code_field)
    geoms = []
    for name in area.provinces:
        geom = layer.geometry_of(name)
        if geom is None:
            known = ", ".join(sorted(u.name for u in layer.units)[:40])
            raise InputError(f"{where}: no province named {name!r} (known: {known})", path=layer.source)
        geoms.append(geom)
    return AOI(unary_union(geoms), area.name)
