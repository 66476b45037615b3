"""Active-fire detection on reflective (SWIR) bands: the result type, dispatch and shared tests.

The published algorithms live next to this module:

* :mod:`burnwatch.detect.sentinel2_fire` — Sentinel-2 MSI (20 m): Hu, Ban & Nascetti (2021)
  biome-specific multi-criteria test plus a normalised SWIR index with a contextual check.
* :mod:`burnwatch.detect.landsat_fire` — Landsat 8/9 OLI and Landsat-7 ETM+ (30 m):
  Schroeder et al. (2016) with its 61x61 contextual test, and Murphy et al. (2016) HOTMAP.

Every algorithm returns a :class:`FireResult`: a per-pixel confidence class (0 none, 1 low,
2 nominal, 3 high), the names of the tests that actually ran, and the water/cloud masks it used.
Inputs are TOA reflectance (0-1, ``NaN`` invalid) keyed by spectral role (see
:mod:`burnwatch.types`); no CRS is needed for detection (it is pixel-wise and contextual).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from burnwatch.errors import InputError
from burnwatch.types import Scene

log = logging.getLogger(__name__)

#: Confidence classes written into :attr:`FireResult.confidence`.
NONE, LOW, NOMINAL, HIGH = 0, 1, 2, 3
CLASS_NAMES: Mapping[int, str] = {LOW: "low", NOMINAL: "nominal", HIGH: "high"}

#: Side of the contextual window (pixels), Schroeder et al. (2016).
CONTEXT_WINDOW = 61
#: A contextual test needs this fraction of the window to be valid background, else it fails
#: (the 25 % rule of Kumar & Roy 2018, used because Schroeder et al. give no minimum).
MIN_BACKGROUND_FRACTION = 0.25


@dataclass(frozen=True, eq=False)
class FireResult:
    """Output of a spectral fire detector for one scene.

    ``confidence``: uint8 array of the scene's shape, 0 none / 1 low / 2 nominal / 3 high.
    ``tests_run``: names of the tests that were evaluated (e.g. without a red band the
    Hu et al. biome test cannot run and is absent). ``masks``: boolean ``water`` and
    ``cloud`` masks (and ``valid``) used to exclude background pixels.
    """

    confidence: np.ndarray
    algorithm: str
    algorithm_version: str
    tests_run: tuple[str, ...]
    masks: Mapping[str, np.ndarray] = field(default_factory=dict)
    parameters: Mapping[str, object] = field(default_factory=dict)

    @property
    def fire_mask(self) -> np.ndarray:
        """Boolean mask of every pixel with class >= low."""
        return self.confidence >= LOW

    @property
    def fire_pixel_count(self) -> int:
        return int(np.count_nonzero(self.confidence))


def band(scene: Scene, role: str) -> np.ndarray:
    """A band as float32 (no copy when already float32); InputError when missing."""
    if role not in scene.bands:
        raise InputError(
            f"scene {scene.scene_id}: band role {role!r} is required, has {sorted(scene.bands)}"
        )
    return np.asarray(scene.bands[role], dtype=np.float32)


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with 0 where den <= 0 or either is NaN (float32)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(num, den, dtype=np.float32)
    out[~(den > 0) | ~np.isfinite(out)] = 0.0
    return out


def cloud_mask(scene: Scene) -> np.ndarray | None:
    """Bright-cloud test of Giglio et al. (2003, Remote Sens. Environ. 87:273-282), daytime
    reflective part: ρ_red + ρ_nir > 0.9. ``None`` when the scene lacks red or NIR."""
    nir_role = "nir" if "nir" in scene.bands else "nir_narrow"
    if not scene.has("red", nir_role):
        return None
    s = band(scene, "red") + band(scene, nir_role)
    return np.asarray(s > 0.9)


def _box_sums(sat: np.ndarray, r0: np.ndarray, r1: np.ndarray, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    """Sums over boxes [r0, r1) x [c0, c1) from a summed-area table padded with a zero row/col."""
    return np.asarray(sat[r1, c1] - sat[r0, c1] - sat[r1, c0] + sat[r0, c0])


def _sat(a: np.ndarray) -> np.ndarray:
    """Summed-area table (float64) with a leading zero row and column."""
    out = np.zeros((a.shape[0] + 1, a.shape[1] + 1), dtype=np.float64)
    np.cumsum(a, axis=0, dtype=np.float64, out=out[1:, 1:])
    np.cumsum(out[1:, 1:], axis=1, out=out[1:, 1:])
    return out


def contextual_test(
    candidates: np.ndarray,
    background: np.ndarray,
    tests: Sequence[tuple[np.ndarray, float]],
    *,
    window: int = CONTEXT_WINDOW,
    k_sigma: float = 3.0,
    min_fraction: float = MIN_BACKGROUND_FRACTION,
    block: int = 128,
) -> np.ndarray:
    """Schroeder et al. (2016) style contextual test, vectorised.

    A candidate passes when, for every ``(values, floor)`` in ``tests``,
    ``values > mean_bg + max(k_sigma * std_bg, floor)`` where mean/std are taken over the
    ``background`` pixels of the ``window`` x ``window`` neighbourhood centred on it (at the
    image edge, the part of the window inside the image). Candidates whose window holds less
    than ``min_fraction`` x window² background pixels fail. The image is processed in
    ``block`` x ``block`` tiles; only tiles holding candidates are touched, and there the
    window sums come from summed-area tables evaluated at the candidate pixels only.
    """
    rows, cols = candidates.shape
    out = np.zeros(candidates.shape, dtype=bool)
    half = window // 2
    need = min_fraction * window * window
    for r0 in range(0, rows, block):
        for c0 in range(0, cols, block):
            cr, cc = np.nonzero(candidates[r0 : r0 + block, c0 : c0 + block])
            if cr.size == 0:
                continue
            pr0, pc0 = max(0, r0 - half), max(0, c0 - half)
            pr1, pc1 = min(rows, r0 + block + half), min(cols, c0 + block + half)
            bg = background[pr0:pr1, pc0:pc1]
            # candidate positions inside the padded tile, and their clipped windows
            rr, cc2 = cr + (r0 - pr0), cc + (c0 - pc0)
            wr0, wr1 = np.maximum(rr - half, 0), np.minimum(rr + half + 1, pr1 - pr0)
            wc0, wc1 = np.maximum(cc2 - half, 0), np.minimum(cc2 + half + 1, pc1 - pc0)
            count = _box_sums(_sat(bg), wr0, wr1, wc0, wc1)
            ok = count >= need
            for values, floor in tests:
                v = np.where(bg, values[pr0:pr1, pc0:pc1], 0.0).astype(np.float64)
                s1 = _box_sums(_sat(v), wr0, wr1, wc0, wc1)
                s2 = _box_sums(_sat(v * v), wr0, wr1, wc0, wc1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = s1 / count
                    std = np.sqrt(np.maximum(s2 / count - mean * mean, 0.0))
                ok &= values[cr + r0, cc + c0] > mean + np.maximum(k_sigma * std, floor)
            out[cr[ok] + r0, cc[ok] + c0] = True
    return out


Detector = Callable[[Scene], FireResult]


def _registry() -> dict[str, Detector]:
    from burnwatch.detect import landsat_fire, sentinel2_fire

    return {
        sentinel2_fire.ALGORITHM: sentinel2_fire.detect_sentinel2,
        landsat_fire.ALGORITHM: landsat_fire.detect_landsat,
    }


ALGORITHMS: tuple[str, ...] = ("hu2021-s2", "schroeder2016-hotmap")


def choose_algorithm(scene: Scene) -> str:
    """Algorithm for a scene: by sensor name first, then by which bands are present."""
    sensor = scene.sensor.upper()
    if sensor.startswith("MSI") or scene.source == "sentinel2":
        return "hu2021-s2"
    if sensor in {"OLI", "OLI2", "OLI-2", "ETM+", "ETM", "TM"} or scene.source == "landsat":
        return "schroeder2016-hotmap"
    if scene.has("nir", "swir1", "swir2") and scene.has("red", "green", "blue"):
        return "schroeder2016-hotmap"
    if scene.has("swir1", "swir2"):
        return "hu2021-s2"
    raise InputError(
        f"scene {scene.scene_id}: no fire algorithm fits sensor {scene.sensor!r} with bands "
        f"{sorted(scene.bands)} (need at least swir1 and swir2)"
    )


def detect_fires(scene: Scene, algorithm: str | None = None) -> FireResult:
    """Run the active-fire algorithm for ``scene`` (chosen by :func:`choose_algorithm` when
    ``algorithm`` is None) and return the per-pixel confidence classes."""
    name = algorithm or choose_algorithm(scene)
    if scene.level != "toa":
        # the published thresholds were derived on top-of-atmosphere reflectance
        log.warning("scene %s: level %r; fire thresholds assume TOA reflectance", scene.scene_id, scene.level)
    registry = _registry()
    if name not in registry:
        raise InputError(f"unknown fire algorithm {name!r}; choose one of {sorted(registry)}")
    return registry[name](scene)
