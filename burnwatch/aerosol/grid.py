"""A gridded aerosol quantity (AOD, aerosol index, PM2.5) with its quality flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
from affine import Affine

from burnwatch.types import utc

Quantity = Literal["aod550", "aerosol_index", "pm25"]

#: Quality flag values (MODIS Dark Target style, simplified).
QA_GOOD, QA_MARGINAL, QA_NONE = 0, 1, 2
QA_MEANING: Mapping[int, str] = {
    QA_GOOD: "good",
    QA_MARGINAL: "marginal (few dark pixels, cloud nearby or blue/red disagree)",
    QA_NONE: "no retrieval (too few dark pixels, cloud or water)",
}

UNITS: Mapping[str, str] = {
    "aod550": "1 (AOD at 550 nm)",
    "aerosol_index": "1 (UV aerosol index)",
    "pm25": "ug/m3",
}


@dataclass(frozen=True, eq=False)
class AerosolGrid:
    """Values on a regular grid in ``crs``; ``NaN`` where there is no value (never filled).

    ``quality`` holds :data:`QA_GOOD`/:data:`QA_MARGINAL`/:data:`QA_NONE` per cell.
    ``transform`` maps (col, row) cell corners to ``crs`` coordinates (rasterio convention).
    """

    values: np.ndarray
    quality: np.ndarray
    transform: Affine
    crs: str
    time: datetime
    quantity: Quantity
    source: str
    scene_id: str = ""
    metadata: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.values.shape != self.quality.shape:
            raise ValueError(f"values {self.values.shape} and quality {self.quality.shape} differ")
        object.__setattr__(self, "time", utc(self.time))

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    @property
    def cell_size(self) -> float:
        """Cell size in CRS units (metres for projected CRSs)."""
        return abs(float(self.transform.a))

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) arrays of cell-centre coordinates in ``crs``, each shaped like ``values``."""
        rows, cols = np.indices(self.shape)
        x = self.transform.c + (cols + 0.5) * self.transform.a + (rows + 0.5) * self.transform.b
        y = self.transform.f + (cols + 0.5) * self.transform.d + (rows + 0.5) * self.transform.e
        return x, y

    @property
    def valid_fraction(self) -> float:
        return float(np.isfinite(self.values).mean()) if self.values.size else 0.0
