"""Aerosol products from providers through the Sentinel Hub source layer.

* Sentinel-2 L2A ``AOT``: the aerosol optical thickness Sen2Cor retrieves (DDV method, at
  550 nm).  Requested in ``DN`` units and divided by 1000 (ESA S2 L2A product specification:
  AOT quantification value 1000), so the grid holds AOD(550 nm), unitless.  The L2A scene
  classification ``SCL`` marks cells whose AOT Sen2Cor interpolated under cloud (3 cloud
  shadow, 8/9 cloud medium/high probability, 10 thin cirrus) as marginal quality.
* Sentinel-5P TROPOMI ``AER_AI_340_380``: UV aerosol index from the 340/380 nm pair,
  unitless (``INDEX`` units); > ~1 indicates absorbing aerosol (smoke, dust) — a smoke
  indicator, not an AOD.  Native pixels ~3.5 × 5.5 km, so ask for a few-km grid.

Both yield :class:`~burnwatch.aerosol.grid.AerosolGrid` values, one per acquisition day;
failed days are collected in ``errors`` and the batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np

from burnwatch.aerosol.grid import QA_GOOD, QA_MARGINAL, QA_NONE, AerosolGrid
from burnwatch.config import Settings
from burnwatch.errors import AuthError, BurnwatchError, NoDataError
from burnwatch.types import AOI, utc

log = logging.getLogger(__name__)

AOT_SCALE = 1000.0  # S2 L2A: AOD = DN / 1000
SCL_CLOUDY = (3, 8, 9, 10)


def _quality(values: np.ndarray, marginal: np.ndarray | None = None) -> np.ndarray:
    q = np.where(np.isfinite(values), QA_GOOD, QA_NONE).astype(np.uint8)
    if marginal is not None:
        q[np.isfinite(values) & marginal] = QA_MARGINAL
    return q


class L2AAotProvider:
    """Sentinel-2 L2A AOT grids over an AOI, one per acquisition day."""

    def __init__(
        self, settings: Settings | None = None, resolution_m: float = 200.0, max_cloud: float | None = 80.0
    ):
        self.settings = settings
        self.resolution_m = resolution_m
        self.max_cloud = max_cloud
        self.errors: list[BurnwatchError] = []

    def grids(self, aoi: AOI, start: datetime, end: datetime) -> Iterator[AerosolGrid]:
        from burnwatch.sources.sentinelhub import fetch_bands, search_catalog

        items = search_catalog(
            "sentinel2-l2a", aoi, start, end, max_cloud=self.max_cloud, settings=self.settings
        )
        if not items:
            raise NoDataError(
                f"Sentinel-2 L2A: no acquisitions over {aoi.name} {aoi.bbox} in the time window"
            )
        days = sorted({i.time.date(): i.time for i in items}.items())
        for _, when in days:
            try:
                scene = fetch_bands(
                    "sentinel2-l2a", ["AOT", "SCL"], aoi, when, self.resolution_m, units=["DN", "DN"],
                    settings=self.settings,
                )  # fmt: skip
            except AuthError:
                raise
            except BurnwatchError as exc:
                log.error("%s", exc)
                self.errors.append(exc)
                continue
            aot = np.asarray(scene.bands["AOT"], dtype=np.float64) / AOT_SCALE
            scl = np.asarray(scene.bands["SCL"])
            cloudy = np.isin(np.nan_to_num(scl, nan=0).astype(int), SCL_CLOUDY)
            yield AerosolGrid(
                values=aot.astype(np.float32),
                quality=_quality(aot, cloudy),
                transform=scene.transform,
                crs=scene.crs,
                time=when,
                quantity="aod550",
                source="sentinel2-l2a:AOT",
                scene_id=scene.scene_id,
                metadata={"algorithm": "sen2cor-aot", "scale": f"DN/{AOT_SCALE:g}", **dict(scene.metadata)},
            )


class S5PAerosolIndexProvider:
    """Sentinel-5P UV aerosol index (340/380 nm) grids, one per UTC day in the window."""

    def __init__(self, settings: Settings | None = None, resolution_m: float = 5000.0):
        self.settings = settings
        self.resolution_m = resolution_m
        self.errors: list[BurnwatchError] = []

    def grids(self, aoi: AOI, start: datetime, end: datetime) -> Iterator[AerosolGrid]:
        from burnwatch.sources.sentinelhub import fetch_bands

        day = utc(start).replace(hour=0, minute=0, second=0, microsecond=0)
        last = utc(end)
        while day <= last:
            try:
                scene = fetch_bands(
                    "SENTINEL5P", ["AER_AI_340_380"], aoi, day, self.resolution_m, units=["INDEX"],
                    settings=self.settings,
                )  # fmt: skip
            except AuthError:
                raise
            except BurnwatchError as exc:
                log.error("%s", exc)
                self.errors.append(exc)
                day += timedelta(days=1)
                continue
            ai = np.asarray(scene.bands["AER_AI_340_380"], dtype=np.float64)
            yield AerosolGrid(
                values=ai.astype(np.float32),
                quality=_quality(ai),
                transform=scene.transform,
                crs=scene.crs,
                time=day + timedelta(hours=6),  # S5P overpasses Vietnam ~13:30 local = 06:30 UTC
                quantity="aerosol_index",
                source="sentinel5p:AER_AI_340_380",
                scene_id=scene.scene_id,
                metadata={"algorithm": "tropomi-uvai", **dict(scene.metadata)},
            )
            day += timedelta(days=1)
