"""Sentinel-2 L1C/L2A and Landsat 8/9 (and any other collection) through Sentinel Hub.

Uses the real ``sentinelhub`` package: :class:`sentinelhub.SentinelHubCatalog` (STAC Catalog
API, ``/api/v1/catalog/1.0.0/search``) finds acquisition dates and cloud cover;
:class:`sentinelhub.SentinelHubRequest` (Process API, ``/api/v1/process``) returns one
multi-band FLOAT32 GeoTIFF per date in the AOI's local UTM zone (WGS84 / UTM, metres).

* Sentinel-2 bands B02, B03, B04, B08, B8A, B09, B11, B12 as reflectance (0-1; L1C TOA, L2A
  surface) plus per-pixel sun zenith/azimuth (degrees, averaged into ``Scene.sun_*``).
* Landsat 8/9 OLI bands B01-B07 as reflectance plus SZA/SAA (degrees).
* ``dataMask == 0`` pixels become NaN.

Credentials: ``BURNWATCH_SH_CLIENT_ID`` / ``BURNWATCH_SH_CLIENT_SECRET`` (OAuth client
credentials at ``sh_token_url``); nothing is read from or written to ``~/.config``.
Retries: the package's own handlers (``max_download_attempts``/``download_sleep_time`` for
5xx, ``max_retries`` for 429 honouring ``Retry-After``) configured from the burnwatch HTTP
settings. Cache: each Process request is a value -- the sha256 of its URL and JSON payload
names ``<cache_dir>/sentinelhub/<sha256>.tif``; an identical request is read from disk and
never sent again. Catalog searches are cached the same way once their end is > 3 days old.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from affine import Affine

from burnwatch.config import Settings, get_settings
from burnwatch.errors import (
    AuthError,
    BurnwatchError,
    ConfigError,
    EmptyAOIError,
    InputError,
    NoDataError,
    SourceError,
)
from burnwatch.sources import bands as band_tables
from burnwatch.sources.base import inclusive_end, utm_crs_for
from burnwatch.types import AOI, Scene, utc

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://services.sentinel-hub.com"
MAX_TILE_PX = 2500  # Process API limit per side: larger grids are fetched in tiles
MAX_SCENE_PX = 40_000_000  # pixels per band of one assembled scene (memory guard)


@dataclass(frozen=True)
class CollectionSpec:
    """What burnwatch asks of one Sentinel Hub collection."""

    sh_name: str  # attribute of sentinelhub.DataCollection
    source: str  # Scene.source
    band_sensor: str  # sensor key in burnwatch.sources.bands
    level: Literal["toa", "boa"]
    bands: tuple[str, ...]
    sun_bands: tuple[str, str]  # (zenith, azimuth) metabands, degrees


COLLECTIONS: Mapping[str, CollectionSpec] = {
    "sentinel2-l1c": CollectionSpec(
        "SENTINEL2_L1C", "sentinel2", "S2A", "toa",
        ("B02", "B03", "B04", "B08", "B8A", "B09", "B11", "B12"), ("sunZenithAngles", "sunAzimuthAngles"),
    ),
    "sentinel2-l2a": CollectionSpec(
        "SENTINEL2_L2A", "sentinel2", "S2A", "boa",
        ("B02", "B03", "B04", "B08", "B8A", "B09", "B11", "B12"), ("sunZenithAngles", "sunAzimuthAngles"),
    ),
    "landsat-ot-l1": CollectionSpec(
        "LANDSAT_OT_L1", "landsat", "OLI", "toa",
        ("B01", "B02", "B03", "B04", "B05", "B06", "B07"), ("SZA", "SAA"),
    ),
    "landsat-ot-l2": CollectionSpec(
        "LANDSAT_OT_L2", "landsat", "OLI", "boa",
        ("B01", "B02", "B03", "B04", "B05", "B06", "B07"), ("SZA", "SAA"),
    ),
}  # fmt: skip

#: Catalog platform -> sensor key in :mod:`burnwatch.sources.bands` (exact E0 per unit).
_PLATFORM_SENSOR = {"sentinel-2a": "S2A", "sentinel-2b": "S2B", "landsat-8": "OLI", "landsat-9": "OLI-2"}


@dataclass(frozen=True)
class CatalogItem:
    """One Catalog search hit."""

    id: str
    time: datetime
    cloud_cover: float | None
    platform: str | None


def _data_collection(name: str, base_url: str) -> Any:
    """The sentinelhub DataCollection for ``name`` ("sentinel2-l1c", "SENTINEL5P", ...).

    With a non-default ``base_url`` the collection is redefined to be served from it
    (setting ``sh_base_url`` alone is not enough: collections carry their own service URL).
    """
    from sentinelhub import DataCollection

    sh_name = COLLECTIONS[name].sh_name if name in COLLECTIONS else name.upper().replace("-", "_")
    try:
        collection = getattr(DataCollection, sh_name)
    except AttributeError:
        by_api = {c.value.api_id: c for c in DataCollection.get_available_collections() if c.value.api_id}
        if name not in by_api:
            raise InputError(f"unknown Sentinel Hub collection {name!r}") from None
        collection = by_api[name]
    base = base_url.rstrip("/")
    if base != DEFAULT_BASE_URL:
        tag = hashlib.sha1(base.encode()).hexdigest()[:10]
        collection = collection.define_from(f"BURNWATCH_{collection.name}_{tag}", service_url=base)
    return collection


def _sh_config(settings: Settings, service_url: str) -> Any:
    from sentinelhub import SHConfig

    if not settings.sh_client_id or settings.sh_client_secret is None:
        raise ConfigError(
            "Sentinel Hub credentials missing: set BURNWATCH_SH_CLIENT_ID and BURNWATCH_SH_CLIENT_SECRET"
        )
    config = SHConfig(use_defaults=True)
    config.sh_client_id = settings.sh_client_id
    config.sh_client_secret = settings.sh_client_secret.get_secret_value()
    config.sh_base_url = service_url.rstrip("/")
    config.sh_token_url = settings.sh_token_url
    config.max_download_attempts = settings.http_retries + 1
    config.download_sleep_time = settings.http_backoff_s
    config.download_timeout_seconds = settings.http_timeout_s
    config.max_retries = settings.http_retries + 1  # 429s before giving up
    return config


@contextmanager
def _translate_errors(what: str, secret: str | None) -> Iterator[None]:
    """Turn sentinelhub/oauthlib/requests failures into burnwatch errors."""
    import requests
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error
    from sentinelhub.exceptions import DownloadFailedException, OutOfRequestsException

    def clean(text: str) -> str:
        text = " ".join(text.split())
        return text.replace(secret, "***") if secret else text

    try:
        yield
    except BurnwatchError:
        raise
    except OAuth2Error as exc:
        raise AuthError(
            f"{what}: Sentinel Hub rejected the credentials ({exc.error}: {exc.description})"
        ) from exc
    except OutOfRequestsException as exc:
        raise SourceError(f"{what}: still rate limited (HTTP 429) after all retries") from exc
    except DownloadFailedException as exc:
        status = getattr(getattr(exc.request_exception, "response", None), "status_code", None)
        if status in (401, 403):
            raise AuthError(f"{what}: HTTP {status}, credentials rejected: {clean(str(exc))}") from exc
        raise SourceError(f"{what}: HTTP {status or 'error'}: {clean(str(exc))}") from exc
    except requests.RequestException as exc:
        raise SourceError(f"{what}: {type(exc).__name__}: {clean(str(exc))}") from exc
    except ValueError as exc:
        raise SourceError(f"{what}: {clean(str(exc))}") from exc


def _sha256(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.part")
    tmp.write_bytes(data)
    tmp.replace(path)


def utm_grid(aoi: AOI, resolution_m: float) -> tuple[str, tuple[float, float, float, float], tuple[int, int]]:
    """(UTM CRS, bbox snapped outward to the pixel grid, (width, height)) covering the AOI."""
    from pyproj import Transformer

    if resolution_m <= 0:
        raise InputError(f"resolution must be positive metres, got {resolution_m}")
    if aoi.geometry.is_empty:
        raise EmptyAOIError(f"AOI {aoi.name} is empty")
    c = aoi.geometry.centroid
    crs = utm_crs_for(c.x, c.y)
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    minx, miny, maxx, maxy = to_utm.transform_bounds(*aoi.bbox)
    r = resolution_m
    box_ = (
        math.floor(minx / r) * r,
        math.floor(miny / r) * r,
        math.ceil(maxx / r) * r,
        math.ceil(maxy / r) * r,
    )
    width, height = round((box_[2] - box_[0]) / r), round((box_[3] - box_[1]) / r)
    if width * height > MAX_SCENE_PX:
        raise InputError(
            f"AOI {aoi.name} is {width}x{height} px at {r:g} m, above {MAX_SCENE_PX:,} px per band; "
            "split the AOI or use a coarser resolution"
        )
    return crs, box_, (max(width, 1), max(height, 1))


def grid_tiles(
    bbox: tuple[float, float, float, float], size: tuple[int, int], resolution_m: float, tile_px: int
) -> list[tuple[int, int, tuple[float, float, float, float], tuple[int, int]]]:
    """Split a north-up grid into tiles of at most ``tile_px`` per side.

    Returns (row offset, col offset, tile bbox, (width, height)) for each tile, row-major.
    """
    width, height = size
    r = resolution_m
    out = []
    for row0 in range(0, height, tile_px):
        for col0 in range(0, width, tile_px):
            tw, th = min(tile_px, width - col0), min(tile_px, height - row0)
            x0, y1 = bbox[0] + col0 * r, bbox[3] - row0 * r
            out.append((row0, col0, (x0, y1 - th * r, x0 + tw * r, y1), (tw, th)))
    return out


def evalscript(bands: Sequence[str], units: Sequence[str] | None = None) -> str:
    """A v3 evalscript returning ``bands`` then ``dataMask`` as one FLOAT32 'default' output."""
    names = [*bands, "dataMask"]
    unit_part = ""
    if units is not None:
        unit_part = f", units: {json.dumps([*units, 'DN'])}"
    values = ", ".join(f"s.{b}" for b in names)
    return (
        "//VERSION=3\n"
        "function setup() {\n"
        f"  return {{input: [{{bands: {json.dumps(names)}{unit_part}}}],\n"
        f"          output: {{id: 'default', bands: {len(names)}, sampleType: 'FLOAT32'}}}};\n"
        "}\n"
        f"function evaluatePixel(s) {{ return [{values}]; }}\n"
    )


def _decode_tiff(data: bytes, names: Sequence[str], what: str) -> tuple[dict[str, np.ndarray], str, Affine]:
    from rasterio.errors import RasterioIOError
    from rasterio.io import MemoryFile

    try:
        with MemoryFile(data) as mem, mem.open() as ds:
            if ds.count != len(names) + 1:
                raise SourceError(f"{what}: expected {len(names) + 1} bands, got {ds.count}")
            if ds.crs is None:
                raise SourceError(f"{what}: response GeoTIFF has no CRS")
            stack = ds.read().astype(np.float32)
            epsg = ds.crs.to_epsg()
            crs = f"EPSG:{epsg}" if epsg else ds.crs.to_wkt()
            transform = Affine(*ds.transform[:6])
    except RasterioIOError as exc:
        raise SourceError(f"{what}: response is not a GeoTIFF ({exc})") from exc
    invalid = stack[-1] == 0
    out = {}
    for i, name in enumerate(names):
        band = stack[i]
        band[invalid] = np.nan
        out[name] = band
    return out, crs, transform


class _Client:
    """Settings + collection + config for one Sentinel Hub collection."""

    def __init__(self, collection: str, settings: Settings | None) -> None:
        self.settings = settings or get_settings()
        self.name = collection
        self.collection = _data_collection(collection, self.settings.sh_base_url)
        service = self.collection.service_url or self.settings.sh_base_url
        self.config = _sh_config(self.settings, service)
        self.cache = Path(self.settings.cache_dir) / "sentinelhub"
        self.secret = self.config.sh_client_secret

    def search(self, aoi: AOI, start: datetime, end: datetime, max_cloud: float | None) -> list[CatalogItem]:
        from sentinelhub import CRS, BBox, SentinelHubCatalog

        start, end = utc(start), inclusive_end(end)
        query = {
            "service": self.config.sh_base_url,
            "collection": self.collection.catalog_id,
            "bbox": aoi.bbox,
            "start": start,
            "end": end,
        }
        cache_file = self.cache / f"catalog-{_sha256(query)}.json"
        stable = end < datetime.now(timezone.utc) - timedelta(days=3)
        if stable and cache_file.exists():
            features = json.loads(cache_file.read_text())
        else:
            with _translate_errors(f"Sentinel Hub catalog search {self.name}", self.secret):
                catalog = SentinelHubCatalog(config=self.config)
                found = catalog.search(
                    self.collection,
                    bbox=BBox(aoi.bbox, crs=CRS.WGS84),
                    time=(start, end),
                    fields={"include": ["id", "properties.datetime", "properties.eo:cloud_cover",
                                        "properties.platform"], "exclude": []},
                )  # fmt: skip
                features = [{"id": f.get("id"), "properties": f.get("properties", {})} for f in found]
            if stable:
                _write_atomic(cache_file, json.dumps(features).encode())
        items = []
        for f in features:
            try:
                props = f["properties"]
                when = utc(datetime.fromisoformat(str(props["datetime"]).replace("Z", "+00:00")))
                cc = props.get("eo:cloud_cover")
                item = CatalogItem(
                    str(f["id"]), when, None if cc is None else float(cc), props.get("platform")
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise SourceError(f"Sentinel Hub catalog {self.name}: malformed feature {f!r:.200}") from exc
            if max_cloud is not None and item.cloud_cover is not None and item.cloud_cover > max_cloud:
                continue
            if start <= item.time <= end:
                items.append(item)
        return sorted(items, key=lambda i: i.time)

    def process(
        self,
        band_names: Sequence[str],
        aoi: AOI,
        start: datetime,
        end: datetime,
        resolution_m: float,
        units: Sequence[str] | None = None,
    ) -> tuple[dict[str, np.ndarray], str, Affine, str, bool]:
        """(bands by name, crs, transform, request sha256, from cache) for one time window.

        Grids above :data:`MAX_TILE_PX` per side are fetched tile by tile (each tile its own
        cached request) and assembled; the sha256 then names the list of tile requests.
        """
        crs, bbox, size = utm_grid(aoi, resolution_m)
        tiles = grid_tiles(bbox, size, resolution_m, MAX_TILE_PX)
        if len(tiles) == 1:
            return self._process_tile(band_names, crs, bbox, size, start, end, units)
        width, height = size
        mosaic = {b: np.full((height, width), np.nan, np.float32) for b in band_names}
        keys, all_cached = [], True
        for n, (row0, col0, tbox, (tw, th)) in enumerate(tiles, start=1):
            log.info("Sentinel Hub %s: tile %d/%d", self.name, n, len(tiles))
            arrays, _, _, key, cached = self._process_tile(band_names, crs, tbox, (tw, th), start, end, units)
            for b in band_names:
                mosaic[b][row0 : row0 + th, col0 : col0 + tw] = arrays[b]
            keys.append(key)
            all_cached &= cached
        transform = Affine(resolution_m, 0.0, bbox[0], 0.0, -resolution_m, bbox[3])
        return mosaic, crs, transform, _sha256(keys), all_cached

    def _process_tile(
        self,
        band_names: Sequence[str],
        crs: str,
        bbox: tuple[float, float, float, float],
        size: tuple[int, int],
        start: datetime,
        end: datetime,
        units: Sequence[str] | None,
    ) -> tuple[dict[str, np.ndarray], str, Affine, str, bool]:
        from sentinelhub import CRS, BBox, MimeType, MosaickingOrder, SentinelHubRequest

        cloudy = self.collection.has_cloud_coverage
        order = MosaickingOrder.LEAST_CC if cloudy else MosaickingOrder.MOST_RECENT
        request = SentinelHubRequest(
            evalscript=evalscript(band_names, units),
            input_data=[
                SentinelHubRequest.input_data(
                    data_collection=self.collection,
                    time_interval=(utc(start).replace(tzinfo=None), utc(end).replace(tzinfo=None)),
                    mosaicking_order=order,
                )
            ],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=BBox(bbox, crs=CRS(int(crs.split(":")[1]))),
            size=size,
            config=self.config,
        )
        download = request.download_list[0]
        key = _sha256({"url": download.url, "payload": download.post_values})
        path = self.cache / f"{key}.tif"
        what = f"Sentinel Hub process {self.name} {utc(start):%Y-%m-%d}"
        cached = path.exists()
        if cached:
            log.info("%s: cache hit %s", what, path.name)
            data = path.read_bytes()
        else:
            with _translate_errors(what, self.secret):
                response = request.get_data(decode_data=False)[0]
            data = response.content
            if not data:
                raise NoDataError(f"{what}: empty response")
        arrays, out_crs, transform = _decode_tiff(data, band_names, what)
        if (arrays[band_names[0]].shape[1], arrays[band_names[0]].shape[0]) != size:
            raise SourceError(f"{what}: response is {arrays[band_names[0]].shape[::-1]} px, asked {size}")
        if not cached:
            _write_atomic(path, data)
        return arrays, out_crs, transform, key, cached


def search_catalog(
    collection: str,
    aoi: AOI,
    start: datetime,
    end: datetime,
    *,
    max_cloud: float | None = None,
    settings: Settings | None = None,
) -> list[CatalogItem]:
    """Acquisitions of ``collection`` over ``aoi`` in [start, end] (UTC), cloud cover in percent."""
    return _Client(collection, settings).search(aoi, start, end, max_cloud)


def fetch_bands(
    collection: str,
    bands: Sequence[str],
    aoi: AOI,
    time: datetime | tuple[datetime, datetime],
    resolution: float,
    *,
    units: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> Scene:
    """Any bands of any Sentinel Hub collection over ``aoi`` as a Scene keyed by *band name*.

    ``collection``: a key of :data:`COLLECTIONS`, a ``sentinelhub.DataCollection`` attribute
    (``"SENTINEL5P"``) or API id (``"sentinel-5p-l2"``). ``time``: a day (the whole UTC day) or
    a (start, end) window, mosaicked least-cloudy first. ``resolution`` in metres of the
    AOI's UTM zone. ``units`` per band, else the collection's default units. Examples:

    * S2 L2A ``AOT``: aerosol optical thickness at 550 nm, unitless, default unit
      ``OPTICAL_DEPTH`` (``DN`` gives AOT x 1000), 20 m native.
    * Sentinel-5P ``AER_AI_340_380``: UV aerosol index (340/380 nm pair), unitless, unit
      ``INDEX``, ~3.5 x 5.5 km native: ask for a resolution of a few km.
    """
    client = _Client(collection, settings)
    if isinstance(time, tuple):
        start, end = utc(time[0]), inclusive_end(time[1])
    else:
        start = utc(time).replace(hour=0, minute=0, second=0, microsecond=0)
        end = inclusive_end(start)
    arrays, crs, transform, key, cached = client.process(bands, aoi, start, end, resolution, units)
    return Scene(
        scene_id=f"{collection}:{start:%Y%m%d}:{key[:12]}",
        source="sentinelhub",
        sensor=collection,
        time=start,
        crs=crs,
        transform=transform,
        bands=arrays,
        metadata={"collection": collection, "request_sha256": key, "cached": cached, "units": units},
    )


class SentinelHubSource:
    """Sentinel-2 / Landsat 8-9 scenes through Sentinel Hub (a :class:`SceneSource`).

    One scene per acquisition day with ``cloud cover <= max_cloud`` (percent); bands keyed by
    spectral role, reflectance 0-1 (NaN outside data), grid ``resolution_m`` metres in the
    AOI's UTM zone. A day that fails is logged and kept in :attr:`errors`; credential
    failures raise :class:`AuthError`; an empty catalog raises :class:`NoDataError`.
    """

    def __init__(
        self,
        collection: str = "sentinel2-l1c",
        settings: Settings | None = None,
        *,
        resolution_m: float = 20.0,
        max_cloud: float | None = 60.0,
    ) -> None:
        if collection not in COLLECTIONS:
            raise InputError(f"unknown collection {collection!r}; known: {', '.join(COLLECTIONS)}")
        self.spec = COLLECTIONS[collection]
        self.collection = collection
        self.settings = settings or get_settings()
        self.resolution_m = resolution_m
        self.max_cloud = max_cloud
        self.errors: list[BurnwatchError] = []

    def search(self, aoi: AOI, start: datetime, end: datetime) -> list[CatalogItem]:
        """Catalog hits, filtered by cloud cover."""
        return _Client(self.collection, self.settings).search(aoi, start, end, self.max_cloud)

    def scenes(self, aoi: AOI, start: datetime, end: datetime) -> Iterator[Scene]:
        client = _Client(self.collection, self.settings)
        items = client.search(aoi, start, end, self.max_cloud)
        if not items:
            raise NoDataError(
                f"Sentinel Hub {self.collection}: no acquisitions over {aoi.name} {aoi.bbox} "
                f"between {utc(start):%Y-%m-%d} and {inclusive_end(end):%Y-%m-%d}"
                + (f" with cloud cover <= {self.max_cloud:g} %" if self.max_cloud is not None else "")
            )
        by_day: dict[str, list[CatalogItem]] = {}
        for item in items:
            by_day.setdefault(item.time.strftime("%Y-%m-%d"), []).append(item)
        spec = self.spec
        for day, day_items in by_day.items():
            first = day_items[0]
            day_start = first.time.replace(hour=0, minute=0, second=0, microsecond=0)
            try:
                names = [*spec.bands, *spec.sun_bands]
                arrays, crs, transform, key, cached = client.process(
                    names, aoi, day_start, inclusive_end(day_start), self.resolution_m
                )
            except AuthError:
                raise
            except BurnwatchError as exc:
                log.error("%s", exc)
                self.errors.append(exc)
                continue
            sensor = _PLATFORM_SENSOR.get((first.platform or "").lower(), spec.band_sensor)
            roles = {band_tables.role_of(sensor, b): arrays[b] for b in spec.bands}
            zenith, azimuth = (arrays[b] for b in spec.sun_bands)
            covers = [i.cloud_cover for i in day_items if i.cloud_cover is not None]
            yield Scene(
                scene_id=f"{self.collection}:{day}:{key[:12]}",
                source=spec.source,
                sensor=band_tables.instrument_name(sensor),
                time=first.time,
                crs=crs,
                transform=transform,
                bands=roles,
                level=spec.level,
                sun_zenith=_nanmean(zenith),
                sun_azimuth=_nanmean(azimuth),
                cloud_cover=float(np.mean(covers)) if covers else None,
                metadata={
                    "collection": self.collection,
                    "catalog_ids": [i.id for i in day_items],
                    "platform": first.platform,
                    "sensor_key": sensor,
                    "request_sha256": key,
                    "cached": cached,
                    "resolution_m": self.resolution_m,
                },
            )


def _nanmean(a: np.ndarray) -> float | None:
    finite = a[np.isfinite(a)]
    return float(finite.mean()) if finite.size else None
