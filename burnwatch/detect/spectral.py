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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from burnwatch.errors import InputError
from burnwatch.types import Scene

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
    out = np.zeros(num.shape, dtype=np.float32)
    np.divide(num, den, out=out, where=den > 0)
    out[~np.isfinite(out)] = 0.0
    return out


def cloud_mask(scene: Scene) -> np.ndarray | None:
    """Bright-cloud test of Giglio et al. (2003, Remote Sens. Environ. 87:273-282), daytime
    reflective part: ρ_red + ρ_nir > 0.9. ``None`` when the scene lacks red or NIR."""
    nir_role = "nir" if "nir" in scene.bands else "nir_narrow"
    if not scene.has("red", nir_role):
        return None
    s = band(scene, "red") + band(scene, nir_role)
    return np.asarray(s > 0.9)


def _window_stats(
    values: np.ndarray, valid: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, std and valid fraction of ``values`` over ``valid`` pixels in a square window."""
    from scipy.ndimage import uniform_filter

    w = valid.astype(np.float64)
    v = np.where(valid, values, 0.0).astype(np.float64)
    frac = uniform_filter(w, window, mode="constant")
    s1 = uniform_filter(v, window, mode="constant")
    s2 = uniform_filter(v * v, window, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / frac
        var = np.maximum(s2 / frac - mean * mean, 0.0)
    return mean, np.sqrt(var), frac


def contextual_test(
    candidates: np.ndarray,
    background: np.ndarray,
    tests: Sequence[tuple[np.ndarray, float]],
    *,
    window: int = CONTEXT_WINDOW,
    k_sigma: float = 3.0,
    min_fraction: float = MIN_BACKGROUND_FRACTION,
    block: int = 512,
) -> np.ndarray:
    """Schroeder et al. (2016) style contextual test, vectorised.

    A candidate passes when, for every ``(values, floor)`` in ``tests``,
    ``values > mean_bg + max(k_sigma * std_bg, floor)`` where mean/std are taken over the
    ``background`` pixels of the ``window`` x ``window`` neighbourhood (edges: the part of the
    window inside the image). Candidates with less than ``min_fraction`` of the window as
    background fail. Statistics come from box filters (``scipy.ndimage.uniform_filter``) and
    are computed only for ``block`` x ``block`` tiles that contain candidates.
    """
    rows, cols = candidates.shape
    out = np.zeros(candidates.shape, dtype=bool)
    half = window // 2
    for r0 in range(0, rows, block):
        for c0 in range(0, cols, block):
            cand = candidates[r0 : r0 + block, c0 : c0 + block]
            if not cand.any():
                continue
            pr0, pc0 = max(0, r0 - half), max(0, c0 - half)
            pr1, pc1 = min(rows, r0 + block + half), min(cols, c0 + block + half)
            bg = background[pr0:pr1, pc0:pc1]
            inner = (slice(r0 - pr0, r0 - pr0 + cand.shape[0]), slice(c0 - pc0, c0 - pc0 + cand.shape[1]))
            ok = cand.copy()
            # fraction of the full window (not just its in-image part) that is background
            for values, floor in tests:
                vals = values[pr0:pr1, pc0:pc1]
                mean, std, frac = _window_stats(vals, bg, window)
                mean, std, frac = mean[inner], std[inner], frac[inner]
                thresh = mean + np.maximum(k_sigma * std, floor)
                ok &= (frac >= min_fraction) & (vals[inner] > thresh)
            out[r0 : r0 + block, c0 : c0 + block] = ok
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
    registry = _registry()
    if name not in registry:
        raise InputError(f"unknown fire algorithm {name!r}; choose one of {sorted(registry)}")
    return registry[name](scene)
