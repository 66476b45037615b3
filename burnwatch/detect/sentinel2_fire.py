"""Sentinel-2 MSI active-fire detection at 20 m.

Hu, X., Ban, Y. & Nascetti, A. (2021). Sentinel-2 MSI data for active fire detection in major
fire-prone biomes: A multi-criteria approach. Int. J. Appl. Earth Obs. Geoinf. 101:102347.

Hu et al. separate active fire from fire-free pixels with biome-specific boundaries in the
(B4, B12) plane, intersected with a B12/B11 ratio and, for some biomes, absolute/saturation
conditions on B11 and B12 (TOA reflectance, 0-1):

    C1  B4 <= a · B12 + b
    C2  B12 / B11 >= r_min                       (tropical moist forest: r_min = 1)
    C3  B12 >= b12_min  and  (B11 >= c  or  B12 >= d)   (Mediterranean: 0.355, 0.475, 1.0)

The coefficients in :data:`BIOMES` are those of the paper as implemented in public code we
could consult (the paper's tables themselves were not reachable offline); for
``tropical_dry`` that code's docstring says b = -0.071 but its code uses -0.052 (we use
-0.052). The Red River Delta lies in the Tropical & Subtropical Moist Broadleaf Forests biome
(WWF ecoregion "Red River freshwater swamp forests"), hence the default ``tropical_moist``.

Normalised SWIR index (NSI), our companion test, usable without the red band:
``NSI = (B12 - B11) / (B12 + B11)``. Fire-free land has NSI < 0 (B12 < B11 for soil,
vegetation, water, clouds, roofs); a sub-pixel fire adds ~6x more reflectance at 2.2 µm than
at 1.6 µm (Planck at 800-1200 K divided by E0), pushing NSI up. A candidate needs
NSI >= 0.05 (i.e. B12/B11 >= 1.105, a margin above Hu's ratio 1 chosen by us) and
B12 >= 0.10 (so the ratio of two near-zero water/shadow reflectances cannot pass), and must
then pass a Schroeder et al. (2016) style contextual test over 61x61 pixels on B12 and NSI:
``B12 > mean + max(3σ, 0.05)`` and ``NSI > mean + max(3σ, 0.10)`` (floors chosen by us).

Confidence classes (documented rules):

* high (3): Hu passes together with the NSI-contextual test or with Hu's saturation
  condition ``B11 >= 0.475 or B12 >= 1.0`` (a saturated pixel has B12/B11 ~ 1, so NSI is
  blind to it); without a red band: the NSI-contextual test and the saturation condition;
* nominal (2): Hu passes alone, or (no red band) the NSI-contextual test passes alone;
* low (1): with a red band, the NSI-contextual test passes but Hu does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from burnwatch.detect.spectral import (
    HIGH,
    LOW,
    NOMINAL,
    FireResult,
    band,
    cloud_mask,
    contextual_test,
    safe_ratio,
)
from burnwatch.errors import InputError
from burnwatch.types import Scene

ALGORITHM = "hu2021-s2"
VERSION = "1"

NSI_MIN = 0.05
SWIR2_MIN = 0.10
CTX_SWIR2_FLOOR = 0.05
CTX_NSI_FLOOR = 0.10
SAT_B11, SAT_B12 = 0.475, 1.0


@dataclass(frozen=True)
class BiomeCriteria:
    """Hu et al. (2021) boundary for one biome (see module docstring)."""

    a: float
    b: float
    ratio_min: float | None = None
    b12_min: float | None = None
    b11_or: float | None = None
    b12_or: float | None = None


BIOMES: Mapping[str, BiomeCriteria] = {
    "tropical_moist": BiomeCriteria(1.045, -0.071, ratio_min=1.0),
    "tropical_dry": BiomeCriteria(0.681, -0.052),
    "savanna": BiomeCriteria(0.677, -0.052),
    "mediterranean": BiomeCriteria(0.743, -0.068, b12_min=0.355, b11_or=0.475, b12_or=1.0),
    "temperate_conifer": BiomeCriteria(0.504, -0.198),
    "boreal": BiomeCriteria(0.727, -0.11),
}
DEFAULT_BIOME = "tropical_moist"


def hu_test(
    red: np.ndarray, b11: np.ndarray, b12: np.ndarray, criteria: BiomeCriteria
) -> np.ndarray:
    """Hu et al. (2021) multi-criteria fire test for one biome (boolean array)."""
    ok = red <= criteria.a * b12 + criteria.b
    if criteria.ratio_min is not None:
        ok &= (b12 >= criteria.ratio_min * b11) & (b11 > 0)  # B12/B11 >= r without dividing
    if criteria.b12_min is not None:
        ok &= b12 >= criteria.b12_min
    if criteria.b11_or is not None and criteria.b12_or is not None:
        ok &= (b11 >= criteria.b11_or) | (b12 >= criteria.b12_or)
    return np.asarray(ok)


def nsi(b11: np.ndarray, b12: np.ndarray) -> np.ndarray:
    """Normalised SWIR index (B12 - B11) / (B12 + B11), 0 where undefined."""
    return safe_ratio(b12 - b11, b12 + b11)


def water_mask(scene: Scene) -> np.ndarray:
    """Water: McFeeters NDWI (green - nir)/(green + nir) > 0 when green and NIR exist,
    else very dark SWIR (B11 < 0.05 and B12 < 0.05)."""
    nir_role = "nir" if "nir" in scene.bands else "nir_narrow"
    if scene.has("green", nir_role):
        g, n = band(scene, "green"), band(scene, nir_role)
        return np.asarray(safe_ratio(g - n, g + n) > 0.0)
    return np.asarray((band(scene, "swir1") < 0.05) & (band(scene, "swir2") < 0.05))


def detect_sentinel2(scene: Scene, biome: str | None = None) -> FireResult:
    """Hu et al. (2021) + NSI-contextual fire classes for a Sentinel-2 scene (see module doc).

    ``biome`` defaults to ``scene.metadata["biome"]`` or :data:`DEFAULT_BIOME`.
    Needs ``swir1`` (B11) and ``swir2`` (B12); ``red`` (B4) enables the Hu test.
    """
    biome = biome or str(scene.metadata.get("biome", DEFAULT_BIOME))
    if biome not in BIOMES:
        raise InputError(f"scene {scene.scene_id}: unknown biome {biome!r}; choose from {sorted(BIOMES)}")
    b11, b12 = band(scene, "swir1"), band(scene, "swir2")
    valid = np.isfinite(b11) & np.isfinite(b12)
    tests = ["nsi", "contextual_61x61"]

    index = nsi(b11, b12)
    candidate = valid & (index >= NSI_MIN) & (b12 >= SWIR2_MIN)

    water = water_mask(scene) & valid
    clouds = cloud_mask(scene)
    if clouds is not None:
        tests.append("cloud")
        clouds &= valid
    else:
        clouds = np.zeros_like(valid)
    tests.append("water")

    has_red = "red" in scene.bands
    hu = np.zeros_like(valid)
    if has_red:
        red = band(scene, "red")
        valid &= np.isfinite(red)
        hu = hu_test(red, b11, b12, BIOMES[biome]) & valid
        tests.insert(0, f"hu2021_{biome}")

    background = valid & ~candidate & ~hu & ~water & ~clouds
    context = contextual_test(
        candidate, background, [(b12, CTX_SWIR2_FLOOR), (index, CTX_NSI_FLOOR)]
    )

    conf = np.zeros(b12.shape, dtype=np.uint8)
    tests.append("saturation")
    saturated = (b11 >= SAT_B11) | (b12 >= SAT_B12)
    if has_red:
        conf[context] = LOW
        conf[hu] = NOMINAL
        conf[hu & (context | saturated)] = HIGH
    else:
        conf[context] = NOMINAL
        conf[context & saturated] = HIGH
    return FireResult(
        confidence=conf,
        algorithm=ALGORITHM,
        algorithm_version=VERSION,
        tests_run=tuple(tests),
        masks={"water": water, "cloud": clouds, "valid": valid},
        parameters={
            "biome": biome,
            "nsi_min": NSI_MIN,
            "swir2_min": SWIR2_MIN,
            "context_floors": (CTX_SWIR2_FLOOR, CTX_NSI_FLOOR),
        },
    )
