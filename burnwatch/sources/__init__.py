"""Imagery and hotspots in: Sentinel Hub (Sentinel-2, Landsat 8/9), NASA FIRMS, local GeoTIFFs.

Every scene source implements :class:`~burnwatch.sources.base.SceneSource`
(``.scenes(aoi, start, end) -> Iterator[Scene]``); FIRMS implements
:class:`~burnwatch.sources.base.HotspotSource`. Names are imported lazily so that importing
this package pulls in neither ``sentinelhub`` nor ``rasterio``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SceneSource": "base",
    "HotspotSource": "base",
    "parse_aoi": "base",
    "read_aoi_file": "base",
    "utm_crs_for": "base",
    "inclusive_end": "base",
    "roles_for": "bands",
    "band_name": "bands",
    "role_of": "bands",
    "solar_irradiance": "bands",
    "centre_wavelength": "bands",
    "request_with_retry": "http",
    "read_firms_csv": "firms",
    "read_afimg_txt": "firms",
    "parse_firms_text": "firms",
    "FirmsClient": "firms",
    "read_geotiff": "local",
    "read_band_files": "local",
    "LocalSource": "local",
    "etm_plus_toa_reflectance": "local",
    "SentinelHubSource": "sentinelhub",
    "fetch_bands": "sentinelhub",
    "search_catalog": "sentinelhub",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'burnwatch.sources' has no attribute {name!r}")
    return getattr(importlib.import_module(f"burnwatch.sources.{module}"), name)
