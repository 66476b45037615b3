"""Settings: one pydantic-settings class, ``BURNWATCH_`` environment prefix.

Importing this module reads nothing; :func:`get_settings` builds the settings from the
environment when asked. Secrets (Sentinel Hub client secret, FIRMS map key, the web
app's secret key) come only from the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from burnwatch.errors import ConfigError


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``BURNWATCH_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="BURNWATCH_", extra="ignore")

    # storage
    database_url: str = Field(
        default="sqlite:///burnwatch.db",
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://... in production",
    )
    cache_dir: Path = Field(default=Path(".cache/burnwatch"), description="request cache")
    data_dir: Path = Field(
        default=Path("data"),
        description="uploads, evidence, flight outputs; a relative path is made absolute against the "
        "working directory when the settings are loaded",
    )
    models_dir: Path | None = Field(default=None, description="override for shipped models/")

    # Sentinel Hub (credentials from the environment only)
    sh_client_id: str | None = None
    sh_client_secret: SecretStr | None = None
    sh_base_url: str = "https://services.sentinel-hub.com"
    sh_token_url: str = "https://services.sentinel-hub.com/auth/realms/main/protocol/openid-connect/token"

    # NASA FIRMS
    firms_map_key: SecretStr | None = None
    firms_base_url: str = "https://firms.modaps.eosdis.nasa.gov"

    # HTTP behaviour shared by the remote sources
    http_retries: int = Field(default=4, ge=0, le=10)
    http_backoff_s: float = Field(default=1.0, ge=0.0)
    http_timeout_s: float = Field(default=60.0, gt=0.0)

    # web app
    secret_key: SecretStr = SecretStr("dev-only-change-me")
    tile_url: str | None = Field(default=None, description="basemap XYZ tile URL when online")
    max_upload_mb: int = Field(default=2048, gt=0)
    session_minutes: int = Field(default=480, gt=0)
    trusted_origins: list[str] = Field(
        default_factory=list, description="public origins (https://host) a reverse proxy serves the app under"
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="reverse proxies (IPs or networks, '*' = any peer) whose X-Forwarded-For/-Proto are "
        "trusted by `burnwatch serve`; none by default",
    )

    # scale-out
    dask_scheduler: str | None = None

    # incidents
    incident_distance_m: float = Field(default=1000.0, gt=0.0)
    incident_window_h: float = Field(default=24.0, gt=0.0)

    # administrative attribution (boundaries files are user-supplied; none ship with burnwatch)
    admin_provinces_file: Path | None = Field(default=None, description="province polygons, GeoJSON/GPKG/SHP")
    admin_province_field: str = "name"
    admin_province_code_field: str | None = None
    admin_communes_files: list[Path] = Field(default_factory=list, description="commune polygons, JSON list")
    admin_commune_field: str = "name"
    admin_commune_code_field: str | None = None

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Files under data_dir are recorded relative to it (evidence/<sha[:2]>/<sha>.<ext>);
        # resolving it once, at load, keeps every later use of it on the same folder even if
        # the process changes directory, and lets messages name the folder searched.
        return value.expanduser().absolute()

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        return [check_proxy_address(v) for v in value]


def check_proxy_address(value: str) -> str:
    """A trusted proxy: an IP address, a network (``10.0.0.0/8``) or ``*``; ValueError otherwise."""
    import ipaddress

    value = value.strip()
    if value == "*":
        return value
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address, a network or '*'") from exc
    return value


def parse_proxy_addresses(text: str) -> list[str]:
    """``"10.0.0.2, 10.1.0.0/16"`` -> the trusted proxies; ConfigError for a bad entry."""
    try:
        return [check_proxy_address(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise ConfigError(f"trusted proxies: {exc}") from exc


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus ``overrides``; raise ConfigError if invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"BURNWATCH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return load_settings()
