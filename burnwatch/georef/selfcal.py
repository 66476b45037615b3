"""In-flight self-calibration: camera intrinsics estimated inside the tie-point bundle adjustment.

Photos taken with the same camera (same model and the same calibration tags, hence the same
:class:`~burnwatch.georef.camera.Intrinsics`) share one set of corrections to the tags:

* ``focal`` — relative change of fx and fy (their ratio is kept),
* ``cx``, ``cy`` — principal point shift, pixels of the stored image,
* ``k1``, ``k2`` — change of the first two radial distortion coefficients
  (k3, p1, p2 stay at the tags: with a handful of photos they are not separable from k1/k2).

Each correction has a prior (an observation "correction = 0" with a sigma) chosen *a priori*
from the physics of the camera, never from a reference solution (docs/drone.md):

* focal ±1 %: the calibrated focal length of a fixed-focus drone camera moves with focus,
  temperature and lens mounting by a few tenths of a percent to about 1 %;
* principal point ±0.4 % of the long side: lens decentring of about ±50 µm, i.e. ±20 px on a
  5472-px sensor with 2.4 µm pixels (±5.5 px on a 1368-px copy);
* k1, k2 ±0.01: a few percent of the typical |k1| ≈ 0.1–0.3 of drone lenses; 0.01 in k1 moves
  a point at the edge of the long side (normalised radius ≈ 0.75) by ≈ 0.4 % of the focal length.

Intrinsics are only *used* when the photos determine them: enough photos of the camera in the
adjustment, tie-point observations spread over the frame, and for every parameter a posterior
sigma (from the adjustment's covariance) clearly below its prior sigma and no near-duplicate
parameter (correlation). Parameters that fail are fixed at the tags and the adjustment is run
again; a camera with none left keeps its tags (:class:`IntrinsicsRefinement` says why).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from burnwatch.georef.camera import Intrinsics

#: Parameters that can be estimated, in the order they are tried.
CALIB_PARAMS: tuple[str, ...] = ("focal", "cx", "cy", "k1", "k2")


@dataclass(frozen=True)
class CalibPrior:
    """Prior 1-sigma of each correction to the tags (see module docstring for the reasons)."""

    focal_rel: float = 0.01
    pp_frac: float = 0.004  # of the image's long side
    k1: float = 0.01
    k2: float = 0.01

    def sigma(self, name: str, intr: Intrinsics) -> float:
        """Prior sigma of ``name`` in its own unit (fraction for focal, pixels for cx/cy)."""
        if name == "focal":
            return self.focal_rel
        if name in ("cx", "cy"):
            return self.pp_frac * max(intr.width, intr.height)
        return float(getattr(self, name))


@dataclass(frozen=True)
class CalibParams:
    """When the photos are allowed to determine a camera's intrinsics."""

    prior: CalibPrior = field(default_factory=CalibPrior)
    min_photos: int = 3  # photos of the camera in the adjustment
    grid: int = 4  # the frame is cut into grid x grid cells ...
    min_cells: int = 10  # ... at least this many must hold tie-point observations ...
    min_cell_obs: int = 5  # ... with at least this many each
    min_sigma_gain: float = 0.8  # posterior sigma must be below this fraction of the prior sigma
    max_correlation: float = 0.98  # between two estimated intrinsic parameters


def apply_delta(intr: Intrinsics, delta: Sequence[float] | np.ndarray, names: Sequence[str]) -> Intrinsics:
    """The tags ``intr`` corrected by ``delta`` (one value per name, units as in the module doc)."""
    d = dict(zip(names, (float(v) for v in delta), strict=True))
    scale = 1.0 + d.get("focal", 0.0)
    return replace(
        intr,
        fx=intr.fx * scale,
        fy=intr.fy * scale,
        cx=intr.cx + d.get("cx", 0.0),
        cy=intr.cy + d.get("cy", 0.0),
        k1=intr.k1 + d.get("k1", 0.0),
        k2=intr.k2 + d.get("k2", 0.0),
    )


@dataclass(frozen=True)
class CameraGroup:
    """Photos (indices) sharing one camera: same ``camera_id`` (model) and the same tags."""

    key: str
    members: tuple[int, ...]
    tags: Intrinsics


def camera_groups(camera_ids: Sequence[str], intrinsics: Sequence[Intrinsics]) -> list[CameraGroup]:
    """Group photos by camera id and calibration tags (equal :class:`Intrinsics`)."""
    groups: dict[tuple[str, Intrinsics], list[int]] = {}
    for i, (cid, intr) in enumerate(zip(camera_ids, intrinsics, strict=True)):
        groups.setdefault((cid, intr), []).append(i)
    out = []
    for n, ((cid, intr), members) in enumerate(groups.items()):
        key = f"{cid or 'camera'} {intr.width}x{intr.height}" + (f" #{n + 1}" if len(groups) > 1 else "")
        out.append(CameraGroup(key, tuple(members), intr))
    return out


def coverage_cells(xy: np.ndarray, width: int, height: int, grid: int, min_obs: int) -> int:
    """How many of the grid x grid cells of the frame hold at least ``min_obs`` points ``xy``."""
    if len(xy) == 0:
        return 0
    col = np.clip((xy[:, 0] / width * grid).astype(int), 0, grid - 1)
    row = np.clip((xy[:, 1] / height * grid).astype(int), 0, grid - 1)
    counts = np.bincount(row * grid + col, minlength=grid * grid)
    return int(np.sum(counts >= min_obs))


def undetermined(
    names: Sequence[str], prior: np.ndarray, sd: np.ndarray, corr: np.ndarray, p: CalibParams
) -> dict[str, str]:
    """Parameters the photos do not determine, with the reason: posterior sigma not below
    ``min_sigma_gain`` x prior, or correlated beyond ``max_correlation`` with an earlier one."""
    out: dict[str, str] = {}
    for k, name in enumerate(names):
        if not sd[k] < p.min_sigma_gain * prior[k]:
            out[name] = (
                f"sigma {fmt_param(name, sd[k])} not below "
                f"{p.min_sigma_gain:g} x prior {fmt_param(name, prior[k])}"
            )
    for k, name in enumerate(names):
        for j in range(k):
            if name not in out and names[j] not in out and abs(corr[k, j]) > p.max_correlation:
                out[name] = f"correlation {corr[k, j]:+.3f} with {names[j]}"
    return out


def fmt_param(name: str, v: float, sign: bool = False) -> str:
    """A correction or sigma with its unit (focal in %, principal point in px)."""
    s = "+" if sign else ""
    if name == "focal":
        return f"{100 * v:{s}.2f} %"
    if name in ("cx", "cy"):
        return f"{v:{s}.2f} px"
    return f"{v:{s}.4f}"


@dataclass(frozen=True)
class IntrinsicsRefinement:
    """One camera's outcome: ``intrinsics`` are the self-calibrated ones, or the tags when not
    ``refined``. ``sigma`` (posterior) and ``prior_sigma`` per estimated parameter;
    ``max_correlation``: each estimated parameter's largest |correlation| with any other
    adjusted parameter (angles, centres, other intrinsics)."""

    camera: str
    photos: tuple[str, ...]
    refined: bool
    message: str
    tags: Intrinsics
    intrinsics: Intrinsics
    estimated: tuple[str, ...] = ()
    sigma: dict[str, float] = field(default_factory=dict)
    prior_sigma: dict[str, float] = field(default_factory=dict)
    max_correlation: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """JSON-ready summary (report.json); focal in pixels of the stored image."""
        t, e = self.tags, self.intrinsics
        return {
            "refined": self.refined,
            "photos": list(self.photos),
            "estimated": list(self.estimated),
            "tags": _values(t),
            "estimate": _values(e),
            "sigma": {k: _round(v) for k, v in self.sigma.items()},
            "prior_sigma": {k: _round(v) for k, v in self.prior_sigma.items()},
            "max_correlation": {k: round(v, 3) for k, v in self.max_correlation.items()},
            "message": self.message,
        }


def _values(i: Intrinsics) -> dict[str, float]:
    return {
        "fx": round(i.fx, 2),
        "fy": round(i.fy, 2),
        "cx": round(i.cx, 2),
        "cy": round(i.cy, 2),
        "k1": round(i.k1, 5),
        "k2": round(i.k2, 5),
    }


def _round(v: float) -> float:
    return float(f"{v:.4g}") if math.isfinite(v) else math.nan
