"""Refine each photo's camera attitude from the flight's own photos (integrated sensor orientation).

The GNSS/RTK camera centres and the gimbal angles are *observations* with their sigmas; tie
points between overlapping photos (:mod:`burnwatch.georef.tiepoints`) add the photos' image
content. A small bundle adjustment (Triggs et al. 2000, "Bundle adjustment — a modern
synthesis") solves for each photo's three angle corrections (yaw, pitch, roll, degrees), its
centre correction (metres, held by the GNSS sigma) and every tie point's 3D position, with
``scipy.optimize.least_squares`` (trust region, soft-L1 robust loss, sparse finite-difference
Jacobian). With a DSM, each tie point's height is also tied to the DSM (``ground_sigma_m``),
which links the block to the terrain the detections are placed on.

Nothing else is used: no ground control, no reference poses. A photo keeps its metadata pose
(``refined`` False, with the reason) when it has fewer than ``min_tie_points`` tie points,
when the adjusted attitude is not better determined than the gimbal tags, when a correction
exceeds ``max_correction_sigma`` gimbal sigmas, or when the whole adjustment fails or is
ill-conditioned. Refined angle sigmas come from the adjustment's covariance (inverse of the
Gauss–Newton normal matrix, tie points eliminated by the Schur complement, scaled by the
a-posteriori variance factor when it exceeds 1), floored at ``min_angle_sigma_deg``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from burnwatch.georef.camera import Camera, DSMGround, Ground, PoseSigma, rotation_enu_from_camera
from burnwatch.georef.tiepoints import (
    Features,
    PairMatches,
    build_tracks,
    ground_points,
    match_pair,
    overlapping_pairs,
)

log = logging.getLogger(__name__)

_CAM = 6  # parameters per photo: d_yaw, d_pitch, d_roll (deg), dx, dy, dz (m)


@dataclass(frozen=True)
class RefineParams:
    """Knobs of the refinement. Pixel values are full-resolution pixels unless marked."""

    ratio: float = 0.8  # Lowe's ratio test
    radius_sigmas: float = 2.0  # search radius = this many gimbal sigmas (+ 10 px), capped below
    max_radius_px: float = 150.0
    ransac_feature_px: float = 1.5  # essential-matrix threshold, in pixels of the SIFT image
    min_pair_inliers: int = 30
    min_tie_points: int = 30  # per photo
    max_tracks_per_pair: int = 400
    sigma_feature_px: float = 1.0  # keypoint precision, in pixels of the SIFT image
    ground_sigma_m: float | None = 2.0  # DSM height of tie points (None: not used)
    loss_scale: float = 2.0  # soft-L1 knee, in sigmas
    outlier_sigmas: float = 4.0
    max_correction_sigma: float = 3.0
    min_sigma_gain: float = 0.8  # refined angle sigma must be below this fraction of the tag sigma
    # floor of the reported refined angle sigmas (degrees): the adjustment's formal sigmas
    # (0.05-0.14° on the P4 RTK frames) leave out the intrinsics' own error; measured against the
    # photogrammetric reference the refined angles are off by 0.23° RMS (docs/drone.md)
    min_angle_sigma_deg: float = 0.25


@dataclass(frozen=True)
class RefinePhoto:
    """One photo's input: name, metadata-posed camera, pose sigma and SIFT features."""

    name: str
    camera: Camera
    sigma: PoseSigma
    features: Features


@dataclass(frozen=True)
class PhotoRefinement:
    """One photo's outcome. ``camera``/``sigma``: refined, or the metadata ones when not refined.
    Corrections in degrees (yaw in the CRS's grid frame, same as true-north corrections) and
    metres; RMS reprojection errors of its tie points in full-resolution pixels, with the
    metadata pose (tie points triangulated) and after the adjustment."""

    name: str
    camera: Camera
    sigma: PoseSigma
    refined: bool
    tie_points: int
    message: str
    rms_before_px: float = math.nan
    rms_after_px: float = math.nan
    d_yaw_deg: float = 0.0
    d_pitch_deg: float = 0.0
    d_roll_deg: float = 0.0
    d_centre_m: float = 0.0
    partners: tuple[str, ...] = ()
    #: tie-point observations used, counted in a 4 x 4 grid over the frame (row 0 = top)
    coverage: tuple[tuple[int, ...], ...] = ()

    def summary(self) -> dict[str, object]:
        """JSON-ready summary (report.json)."""
        return {
            "refined": self.refined,
            "tie_points": self.tie_points,
            "partners": list(self.partners),
            "rms_before_px": _r(self.rms_before_px, 2),
            "rms_after_px": _r(self.rms_after_px, 2),
            "d_yaw_deg": round(self.d_yaw_deg, 3),
            "d_pitch_deg": round(self.d_pitch_deg, 3),
            "d_roll_deg": round(self.d_roll_deg, 3),
            "d_centre_m": round(self.d_centre_m, 3),
            "sigma_deg": [
                round(self.sigma.yaw_deg, 3),
                round(self.sigma.pitch_deg, 3),
                round(self.sigma.roll_deg, 3),
            ],
            "coverage_4x4": [list(row) for row in self.coverage],
            "message": self.message,
        }


def _r(x: float, nd: int) -> float | None:
    return None if math.isnan(x) else round(x, nd)


@dataclass
class RefineResult:
    photos: list[PhotoRefinement]
    pairs: list[dict[str, object]] = field(default_factory=list)

    @property
    def refined(self) -> int:
        return sum(p.refined for p in self.photos)


def refine_attitudes(
    photos: Sequence[RefinePhoto], ground: Ground, params: RefineParams | None = None
) -> RefineResult:
    """Match tie points between overlapping photos and adjust their attitudes (see module doc).

    ``ground`` (DSM or plane, in the cameras' CRS) predicts where a keypoint appears in the
    other photos and, when it is a :class:`DSMGround`, constrains the tie points' heights.
    """
    p = params or RefineParams()
    cams = [ph.camera for ph in photos]
    gpts = [ground_points(ph.camera, ph.features.xy, ground) for ph in photos]
    matches: list[PairMatches] = []
    pair_info: list[dict[str, object]] = []
    rng = np.random.default_rng(0)
    for a, b in overlapping_pairs(cams, gpts):
        fa, fb = photos[a].features, photos[b].features
        if len(fa) < 8 or len(fb) < 8:
            continue
        radius = min(
            p.max_radius_px, 10.0 + p.radius_sigmas * max(_angle_px(photos[a]), _angle_px(photos[b]))
        )
        ransac = p.ransac_feature_px * max(fa.scale, fb.scale)
        idx, n_cand = match_pair(cams[a], fa, gpts[a], cams[b], fb, gpts[b], radius, p.ratio, ransac)
        ok = len(idx) >= p.min_pair_inliers
        pair_info.append(
            {"a": photos[a].name, "b": photos[b].name, "candidates": n_cand, "inliers": len(idx), "used": ok}
        )
        if ok:
            if len(idx) > p.max_tracks_per_pair:
                idx = idx[np.sort(rng.choice(len(idx), p.max_tracks_per_pair, replace=False))]
            matches.append(PairMatches(a, b, idx, n_cand))
    tracks = build_tracks(matches, len(photos))
    adj = _Adjustment(photos, tracks, ground, p)
    return RefineResult(adj.run(), pair_info)


def _angle_px(ph: RefinePhoto) -> float:
    """How far (pixels) a 1-sigma attitude error moves a point in this photo."""
    s = ph.sigma
    return ph.camera.intrinsics.fx * math.radians(math.sqrt(s.yaw_deg**2 + s.pitch_deg**2 + s.roll_deg**2))


class _Adjustment:
    """The bundle adjustment over the photos that have enough tie points."""

    def __init__(
        self, photos: Sequence[RefinePhoto], tracks: list[dict[int, int]], ground: Ground, p: RefineParams
    ):
        self.photos, self.tracks, self.p, self.ground = photos, tracks, p, ground
        self.dsm = ground if isinstance(ground, DSMGround) and p.ground_sigma_m else None
        self.reasons: dict[int, str] = {}

    def run(self) -> list[PhotoRefinement]:
        active = self._prune(set(range(len(self.photos))))
        fit: _Fit | None = None
        for it in range(4):  # solve; drop outlier observations and refused photos; solve again
            if len(active) < 2:
                fit = None
                break
            fit = _Fit(
                self.photos,
                [t for t in self.tracks if len(t.keys() & active) >= 2],
                active,
                self.ground,
                self.dsm,
                self.p,
            )
            if not fit.solve():
                for i in active:
                    self.reasons.setdefault(i, f"adjustment failed ({fit.status})")
                fit = None
                break
            refused = set()
            for i in active:
                why = fit.refusal(i)
                if why:
                    self.reasons[i] = why
                    refused.add(i)
            bad = fit.outliers()
            if (not refused and not bad) or it == 3:
                active -= refused
                break
            self.tracks = fit.cleaned_tracks(bad)
            active = self._prune(active - refused)
        return [self._outcome(i, fit if (fit and i in active) else None) for i in range(len(self.photos))]

    def _prune(self, active: set[int]) -> set[int]:
        """Drop photos with too few tie points (repeatedly: dropping one thins its partners)."""
        while True:
            counts = {i: 0 for i in active}
            for t in self.tracks:
                seen = t.keys() & active
                if len(seen) >= 2:
                    for i in seen:
                        counts[i] += 1
            low = {i for i, n in counts.items() if n < self.p.min_tie_points}
            for i in low:
                self.reasons.setdefault(
                    i, f"{counts[i]} tie points, fewer than the {self.p.min_tie_points} needed"
                )
            if not low:
                return active
            active -= low

    def _outcome(self, i: int, fit: _Fit | None) -> PhotoRefinement:
        ph = self.photos[i]
        ties = sum(1 for t in self.tracks if i in t and len(t) >= 2)
        if fit is None:
            why = self.reasons.get(i, "no overlapping photo")
            return PhotoRefinement(
                ph.name, ph.camera, ph.sigma, False, ties, f"attitude not refined: {why}; metadata pose kept"
            )
        return fit.outcome(i)


class _Fit:
    """One least-squares solve over ``active`` photos (6 parameters each) and ``tracks``."""

    def __init__(
        self,
        photos: Sequence[RefinePhoto],
        tracks: list[dict[int, int]],
        active: set[int],
        ground: Ground,
        dsm: DSMGround | None,
        p: RefineParams,
    ) -> None:
        self.photos, self.tracks, self.p, self.ground, self.dsm = photos, tracks, p, ground, dsm
        self.order = sorted(active)
        self.slot = {i: k for k, i in enumerate(self.order)}
        obs_cam, obs_pt, obs_xy, obs_sig = [], [], [], []
        for j, t in enumerate(tracks):
            for i, kp in t.items():
                if i in self.slot:
                    f = photos[i].features
                    obs_cam.append(self.slot[i])
                    obs_pt.append(j)
                    obs_xy.append(f.xy[kp])
                    obs_sig.append(p.sigma_feature_px * f.scale)
        self.obs_cam, self.obs_pt = np.array(obs_cam, int), np.array(obs_pt, int)
        self.obs_xy, self.obs_sig = np.array(obs_xy).reshape(-1, 2), np.array(obs_sig)
        self.nc, self.np_ = len(self.order), len(tracks)
        self.prior_sig = np.array([self._prior(i) for i in self.order]).reshape(-1, _CAM)
        self.status = ""
        self.x = np.zeros(0)
        self.cov = np.zeros((0, 0))
        self.rms_before: dict[int, float] = {}

    def _prior(self, i: int) -> list[float]:
        s = self.photos[i].sigma
        h = max(s.horizontal_m / math.sqrt(2.0), 1e-3)
        return [s.yaw_deg, s.pitch_deg, s.roll_deg, h, h, max(s.vertical_m, 1e-3)]

    def _cameras(self, cam_params: np.ndarray) -> list[Camera]:
        out = []
        for k, i in enumerate(self.order):
            c = self.photos[i].camera
            d = cam_params[k]
            pose = replace(
                c.pose,
                yaw=c.pose.yaw + d[0],
                pitch=c.pose.pitch + d[1],
                roll=c.pose.roll + d[2],
                x=c.pose.x + d[3],
                y=c.pose.y + d[4],
                z=c.pose.z + d[5],
            )
            out.append(Camera(c.intrinsics, pose))
        return out

    def _reproject(self, cam_params: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """Reprojection residuals (Nobs x 2, pixels)."""
        res = np.zeros((len(self.obs_cam), 2))
        for k, cam in enumerate(self._cameras(cam_params)):
            sel = self.obs_cam == k
            if not sel.any():
                continue
            pose = cam.pose
            rot = rotation_enu_from_camera(pose.yaw, pose.pitch, pose.roll)
            pc = (pts[self.obs_pt[sel]] - pose.centre) @ rot
            z = np.maximum(pc[:, 2], 1e-3)  # behind the camera: a large, finite residual
            u, v = cam.intrinsics.project(pc[:, 0] / z, pc[:, 1] / z)
            res[sel] = np.stack([u, v], -1) - self.obs_xy[sel]
        return res

    def _residuals(self, x: np.ndarray, fixed_cams: np.ndarray | None = None) -> np.ndarray:
        if fixed_cams is None:
            cam_params, pts = x[: self.nc * _CAM].reshape(-1, _CAM), x[self.nc * _CAM :].reshape(-1, 3)
        else:
            cam_params, pts = fixed_cams, x.reshape(-1, 3)
        parts = [(self._reproject(cam_params, pts) / self.obs_sig[:, None]).ravel()]
        if fixed_cams is None:
            parts.append((cam_params / self.prior_sig).ravel())
        if self.dsm is not None and self.p.ground_sigma_m:
            h = self.dsm.height_at(pts[:, 0], pts[:, 1])
            parts.append(np.where(np.isfinite(h), (pts[:, 2] - h) / self.p.ground_sigma_m, 0.0))
        return np.concatenate(parts)

    def _sparsity(self, with_cams: bool) -> object:
        from scipy.sparse import lil_matrix

        n_obs = len(self.obs_cam)
        off = self.nc * _CAM if with_cams else 0
        rows = 2 * n_obs + (self.nc * _CAM if with_cams else 0) + (self.np_ if self.dsm is not None else 0)
        s = lil_matrix((rows, off + 3 * self.np_), dtype=np.int8)
        for o in range(n_obs):
            for r in (2 * o, 2 * o + 1):
                if with_cams:
                    s[r, self.obs_cam[o] * _CAM : (self.obs_cam[o] + 1) * _CAM] = 1
                s[r, off + 3 * self.obs_pt[o] : off + 3 * self.obs_pt[o] + 3] = 1
        r0 = 2 * n_obs
        if with_cams:
            for k in range(self.nc * _CAM):
                s[r0 + k, k] = 1
            r0 += self.nc * _CAM
        if self.dsm is not None:
            for j in range(self.np_):
                s[r0 + j, off + 3 * j : off + 3 * j + 3] = 1
        return s.tocsr()

    def _initial_points(self) -> np.ndarray:
        """Mean of the observations' ground points with the metadata poses."""
        acc = np.zeros((self.np_, 3))
        n = np.zeros(self.np_)
        for i in self.order:
            ph = self.photos[i]
            js = [j for j, t in enumerate(self.tracks) if i in t]
            kp = [self.tracks[j][i] for j in js]
            g = ground_points(ph.camera, ph.features.xy[kp], self.ground)
            ok = np.isfinite(g).all(axis=1)
            np.add.at(acc, np.array(js)[ok], g[ok])
            np.add.at(n, np.array(js)[ok], 1)
        return acc / np.maximum(n, 1)[:, None]

    def solve(self) -> bool:
        from scipy.optimize import least_squares

        if self.np_ == 0:
            self.status = "no tie points"
            return False
        pts0 = self._initial_points()
        zero = np.zeros((self.nc, _CAM))
        kw = {"loss": "soft_l1", "f_scale": self.p.loss_scale, "method": "trf", "x_scale": "jac"}
        # metadata poses held fixed: the tie points' RMS "before"
        pre = least_squares(
            lambda x: self._residuals(x, zero), pts0.ravel(), jac_sparsity=self._sparsity(False), **kw
        )
        err0 = np.hypot(*self._reproject(zero, pre.x.reshape(-1, 3)).T)
        for k, i in enumerate(self.order):
            self.rms_before[i] = _rms(err0[self.obs_cam == k])
        x0 = np.concatenate([zero.ravel(), pre.x])
        res = least_squares(self._residuals, x0, jac_sparsity=self._sparsity(True), max_nfev=200, **kw)
        self.status = res.message
        if not res.success or not np.all(np.isfinite(res.x)):
            return False
        self.x = res.x
        cov = self._covariance(res.jac)
        if cov is None:
            self.status = "ill-conditioned normal matrix"
            return False
        self.cov = cov
        return True

    def _covariance(self, jac: object) -> np.ndarray | None:
        """Covariance of the camera parameters (Schur complement over the tie points)."""
        from scipy.sparse import block_diag, csr_matrix

        j = csr_matrix(jac)
        h = (j.T @ j).tocsr()
        nc = self.nc * _CAM
        hcc = h[:nc, :nc].toarray()
        hcp = h[:nc, nc:]
        hpp = h[nc:, nc:].toarray() if self.np_ * 3 <= 600 else None
        blocks = []
        for t in range(self.np_):
            sl = slice(nc + 3 * t, nc + 3 * t + 3)
            b = hpp[3 * t : 3 * t + 3, 3 * t : 3 * t + 3] if hpp is not None else h[sl, sl].toarray()
            if np.linalg.cond(b) > 1e12:
                return None
            blocks.append(np.linalg.inv(b))
        s = hcc - (hcp @ block_diag(blocks, format="csr") @ hcp.T)
        s = np.asarray(s.toarray() if hasattr(s, "toarray") else s)
        if not np.all(np.isfinite(s)) or np.linalg.cond(s) > 1e12:
            return None
        r = self._reproject(self._cam_params(), self._points()) / self.obs_sig[:, None]
        # priors add as many equations as camera unknowns; DSM heights one per tie point
        dof = max(1, r.size - 3 * self.np_ + (self.np_ if self.dsm is not None else 0))
        s0sq = max(1.0, float(np.sum(np.minimum(r, self.p.outlier_sigmas) ** 2)) / dof)
        return np.linalg.inv(s) * s0sq

    def _cam_params(self) -> np.ndarray:
        return self.x[: self.nc * _CAM].reshape(-1, _CAM)

    def _points(self) -> np.ndarray:
        return self.x[self.nc * _CAM :].reshape(-1, 3)

    def _errors(self) -> np.ndarray:
        return np.hypot(*self._reproject(self._cam_params(), self._points()).T)

    def outliers(self) -> set[tuple[int, int]]:
        """(photo, track) observations whose residual exceeds ``outlier_sigmas``."""
        err = self._errors()
        bad = np.flatnonzero(err > self.p.outlier_sigmas * self.obs_sig)
        return {(self.order[self.obs_cam[o]], int(self.obs_pt[o])) for o in bad}

    def cleaned_tracks(self, bad: set[tuple[int, int]]) -> list[dict[int, int]]:
        out = []
        for j, t in enumerate(self.tracks):
            kept = {i: kp for i, kp in t.items() if (i, j) not in bad}
            if len(kept) >= 2:
                out.append(kept)
        return out

    def _sd(self, k: int) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov)[k * _CAM : (k + 1) * _CAM], 0.0, None))

    def refusal(self, i: int) -> str | None:
        """Why photo ``i``'s adjusted attitude must not be used, or None."""
        k = self.slot[i]
        d, sd, prior = self._cam_params()[k], self._sd(k), self.prior_sig[k]
        worst = int(np.argmax(np.abs(d[:3]) / prior[:3]))
        if abs(d[worst]) > self.p.max_correction_sigma * prior[worst]:
            name = ("yaw", "pitch", "roll")[worst]
            return (
                f"{name} correction {d[worst]:+.2f}° exceeds {self.p.max_correction_sigma:g} sigma of the "
                f"gimbal tag ({prior[worst]:.2f}°)"
            )
        if np.any(sd[:3] > self.p.min_sigma_gain * prior[:3]):
            return (
                "tie points do not constrain the attitude (sigma yaw/pitch/roll "
                + "/".join(f"{v:.2f}" for v in sd[:3])
                + f"° vs tags {prior[0]:.2f}/{prior[1]:.2f}/{prior[2]:.2f}°)"
            )
        return None

    def outcome(self, i: int) -> PhotoRefinement:
        k = self.slot[i]
        ph = self.photos[i]
        d, sd = self._cam_params()[k], self._sd(k)
        cam = self._cameras(self._cam_params())[k]
        err = self._errors()[self.obs_cam == k]
        partners = sorted(
            {self.photos[o].name for t in self.tracks if i in t for o in t if o != i and o in self.slot}
        )
        floor = self.p.min_angle_sigma_deg
        sigma = PoseSigma(
            horizontal_m=float(math.hypot(sd[3], sd[4])),
            vertical_m=float(sd[5]),
            yaw_deg=max(float(sd[0]), floor),
            pitch_deg=max(float(sd[1]), floor),
            roll_deg=max(float(sd[2]), floor),
        )
        rms0, rms1 = self.rms_before.get(i, math.nan), _rms(err)
        xy = self.obs_xy[self.obs_cam == k]
        msg = (
            f"attitude refined from {len(err)} tie points with {len(partners)} photo(s): "
            f"yaw {d[0]:+.2f}°, pitch {d[1]:+.2f}°, roll {d[2]:+.2f}° "
            f"(sigma {sigma.yaw_deg:.2f}/{sigma.pitch_deg:.2f}/{sigma.roll_deg:.2f}° used, formal "
            f"{sd[0]:.2f}/{sd[1]:.2f}/{sd[2]:.2f}°), "
            f"centre moved {float(np.linalg.norm(d[3:])):.2f} m; tie-point RMS {rms0:.1f} -> {rms1:.1f} px"
        )
        return PhotoRefinement(
            ph.name,
            cam,
            sigma,
            True,
            len(err),
            msg,
            rms0,
            rms1,
            float(d[0]),
            float(d[1]),
            float(d[2]),
            float(np.linalg.norm(d[3:])),
            tuple(partners),
            coverage_grid(xy, ph.camera.intrinsics.width, ph.camera.intrinsics.height),
        )


def coverage_grid(xy: np.ndarray, width: int, height: int, cells: int = 4) -> tuple[tuple[int, ...], ...]:
    """Counts of points (photo pixels, Nx2) in a ``cells`` x ``cells`` grid over the frame.

    Where the tie points sit decides what they can fix: points on one side only leave the roll
    (rotation about the view axis) to a short lever arm, and points only at the frame's edges
    inherit the lens model's largest errors.
    """
    grid = np.zeros((cells, cells), int)
    if len(xy):
        col = np.clip((xy[:, 0] / width * cells).astype(int), 0, cells - 1)
        row = np.clip((xy[:, 1] / height * cells).astype(int), 0, cells - 1)
        np.add.at(grid, (row, col), 1)
    return tuple(tuple(int(n) for n in r) for r in grid)


def _rms(e: np.ndarray) -> float:
    return float(np.sqrt(np.mean(e**2))) if e.size else math.nan
