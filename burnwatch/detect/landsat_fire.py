"""Landsat active-fire detection (daytime, reflective bands): Schroeder et al. (2016) + HOTMAP.

Band naming: ρN is the TOA reflectance of Landsat-8/9 OLI band N, i.e. ρ1 coastal, ρ2 blue,
ρ3 green, ρ4 red, ρ5 NIR, ρ6 SWIR1 (1.6 µm), ρ7 SWIR2 (2.2 µm). For Landsat-7 ETM+ the
bands 4/5/7 (NIR, SWIR1, SWIR2) serve as OLI 5/6/7 and bands 1/2/3 as OLI 2/3/4; ETM+ has
no coastal band, so ρ1 falls back to blue. Roles come from the scene, so the mapping is
implicit in :mod:`burnwatch.types` roles.

Schroeder, W., Oliva, P., Giglio, L., Quayle, B., Lorenz, E. & Morelli, F. (2016). Active fire
detection using Landsat-8/OLI data. Remote Sens. Environ. 185:210-220. Daytime tests
(R75 = ρ7/ρ5, R76 = ρ7/ρ6):

* unambiguous fire: (R75 > 2.5 and ρ7 - ρ5 > 0.3 and ρ7 > 0.5)                      (eq. 1)
  or (ρ6 > 0.8 and ρ1 < 0.2 and (ρ5 > 0.4 or ρ7 < 0.1))  — saturated/folded pixels (eq. 2)
* candidate: R75 > 1.8 and ρ7 - ρ5 > 0.17 and R76 > 1.6                          (eqs. 3, 6)
* contextual (61x61 window, background without fire, candidates, water, cloud):
  R75 > mean(R75) + max(3σ, 0.8) and ρ7 > mean(ρ7) + max(3σ, 0.08)               (eqs. 4, 5)
* water: ρ4 > ρ5 > ρ6 > ρ7 and ρ1 - ρ7 < 0.2 and (ρ3 > ρ2 or (ρ1 > ρ2 > ρ3 > ρ4)) (eqs. 7-9)

Schroeder et al. mask clouds with the Landsat QA band, which a reflectance scene does not
carry; we use the reflective cloud test of Giglio et al. (2003), ρ4 + ρ5 > 0.9.

Murphy, S.W., de Souza Filho, C.R., Wright, R., Sabatino, G. & Correa Pabon, R. (2016). HOTMAP:
Global hot target detection at moderate spatial resolution. Remote Sens. Environ. 177:78-88:

* hot: ρ7/ρ6 >= 1.4 and ρ7/ρ5 >= 1.4 and ρ7 >= 0.15
* plus 8-neighbours of hot pixels with ρ6/ρ5 >= 2 and ρ6 >= 0.5 (SWIR2-saturated cores).

Sensor saturation (our extension, needed for Landsat-7 ETM+ whose 8-bit high-gain bands 5
and 7 saturate near ρ6 = 0.53 and ρ7 = 0.5, so eq. 1 can never fire and the ρ7/ρ6 ratio of a
large fire collapses to ~1): when ``scene.metadata["saturation"]`` maps roles to the
reflectance at which they saturate, eq. 2 also accepts pixels with *both* SWIR bands
saturated while the visible stays dark, ρ1 < 0.2 and ρ4 < 0.2 (a fire adds almost nothing
below 0.7 µm; every fire-free pixel that saturates both SWIR bands in the Landsat-7 control
scene has ρ4 >= 0.25). Schroeder et al. built eq. 2 for saturated/folded OLI pixels.
At 1200 K a large fire also raises ρ5 (NIR), which is why R75 is not used there. Likewise a
candidate with a saturated ρ7 and a dark visible (ρ1, ρ4 < 0.2) skips R76 > 1.6 (its true
ρ7 is unknown) but must still pass the contextual test.

Confidence classes: high (3) = Schroeder unambiguous and HOTMAP agree, or Schroeder's
saturation branch (eq. 2); nominal (2) = any other Schroeder fire (unambiguous or a candidate
confirmed by the contextual test); low (1) = HOTMAP only.
"""

from __future__ import annotations

from collections.abc import Mapping

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
from burnwatch.types import Scene

ALGORITHM = "schroeder2016-hotmap"
VERSION = "1"


def water_mask(r1: np.ndarray, r2: np.ndarray, r3: np.ndarray, r4: np.ndarray,
               r5: np.ndarray, r6: np.ndarray, r7: np.ndarray) -> np.ndarray:
    """Schroeder et al. (2016) eqs. 7-9 water test."""
    common = (r4 > r5) & (r5 > r6) & (r6 > r7) & (r1 - r7 < 0.2)
    return np.asarray(common & ((r3 > r2) | ((r1 > r2) & (r2 > r3) & (r3 > r4))))


def hotmap(r5: np.ndarray, r6: np.ndarray, r7: np.ndarray) -> np.ndarray:
    """Murphy et al. (2016) HOTMAP hot-pixel mask (with the saturated-neighbour rule).

    Ratios are tested as products (ρ7 >= 1.4 ρ6 with ρ6 > 0) to avoid full-image divisions.
    """
    hot = (r7 >= 0.15) & (r7 >= 1.4 * r6) & (r7 >= 1.4 * r5) & (r6 > 0) & (r5 > 0)
    rows, cols = np.nonzero(hot)
    if rows.size:
        near = np.zeros(hot.shape, dtype=bool)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                near[np.clip(rows + dr, 0, hot.shape[0] - 1), np.clip(cols + dc, 0, hot.shape[1] - 1)] = True
        hot |= near & (r6 >= 2.0 * r5) & (r5 > 0) & (r6 >= 0.5)
    return np.asarray(hot)


def _saturated(scene: Scene, role: str, values: np.ndarray) -> np.ndarray:
    """Pixels at (>= 99.5 % of) the band's saturation reflectance, if the scene gives one."""
    limits = scene.metadata.get("saturation")
    if not isinstance(limits, Mapping) or role not in limits:
        return np.zeros(values.shape, dtype=bool)
    return np.asarray(values >= 0.995 * float(limits[role]))


def detect_landsat(scene: Scene) -> FireResult:
    """Schroeder et al. (2016) + HOTMAP fire classes for a Landsat OLI/ETM+ scene.

    Needs blue, green, red, nir, swir1, swir2 (coastal optional). See the module docstring.
    """
    r2, r3, r4 = band(scene, "blue"), band(scene, "green"), band(scene, "red")
    r5, r6, r7 = band(scene, "nir"), band(scene, "swir1"), band(scene, "swir2")
    r1 = band(scene, "coastal") if "coastal" in scene.bands else r2
    valid = np.isfinite(r1) & np.isfinite(r2) & np.isfinite(r3) & np.isfinite(r4)
    valid &= np.isfinite(r5) & np.isfinite(r6) & np.isfinite(r7)

    sat6, sat7 = _saturated(scene, "swir1", r6), _saturated(scene, "swir2", r7)
    r75 = safe_ratio(r7, r5)
    d75 = r7 - r5
    unamb_1 = valid & (r75 > 2.5) & (d75 > 0.3) & (r7 > 0.5)
    eq2 = (r6 > 0.8) & ((r5 > 0.4) | (r7 < 0.1))
    unamb_2 = valid & (r1 < 0.2) & (eq2 | (sat6 & sat7 & (r4 < 0.2)))
    unamb = unamb_1 | unamb_2
    dark_visible = (r1 < 0.2) & (r4 < 0.2)
    r76_ok = (r7 > 1.6 * r6) & (r6 > 0)  # R76 > 1.6 without a full-image division
    candidate = valid & ~unamb & (r75 > 1.8) & (d75 > 0.17) & (r76_ok | (sat7 & dark_visible))

    water = valid & water_mask(r1, r2, r3, r4, r5, r6, r7)
    clouds = cloud_mask(scene)
    clouds = (clouds & valid) if clouds is not None else np.zeros_like(valid)
    background = valid & ~unamb & ~candidate & ~water & ~clouds & (r7 > 0)
    confirmed = contextual_test(candidate, background, [(r75, 0.8), (r7, 0.08)])
    hot = valid & hotmap(r5, r6, r7)

    schroeder = unamb | confirmed
    conf = np.zeros(r7.shape, dtype=np.uint8)
    conf[hot] = LOW
    conf[schroeder] = NOMINAL
    conf[(unamb & hot) | unamb_2] = HIGH
    tests = (
        "schroeder2016_unambiguous",
        "schroeder2016_candidate",
        "schroeder2016_contextual_61x61",
        "schroeder2016_water",
        "cloud_giglio2003",
        "hotmap2016",
    )
    return FireResult(
        confidence=conf,
        algorithm=ALGORITHM,
        algorithm_version=VERSION,
        tests_run=tests,
        masks={"water": water, "cloud": clouds, "valid": valid},
        parameters={"window": 61, "rho1": "coastal" if "coastal" in scene.bands else "blue"},
    )
