"""Tie points between a flight's photos, matched where the metadata poses say they must be.

Features are SIFT keypoints (Lowe 2004) found on a downsampled grey copy of each photo (in
the worker that decodes it) and stored in the full-resolution pixel frame (corner origin,
:class:`~burnwatch.types.Box` convention). Matching is *guided* by the metadata poses: each
keypoint of photo A is put on the ground (DSM or plane) with A's metadata pose and projected
into photo B; only B's keypoints within a search radius of that prediction are candidates
(nearest descriptor, Lowe's ratio test, mutual check). This makes matching robust to the
90–180° view changes between oblique frames looking in different directions. Each pair is
verified with an essential matrix (RANSAC on undistorted normalised coordinates), and the
pairwise matches are chained into multi-photo tracks (union-find; a track that would hold two
keypoints of one photo is dropped).

OpenCV is imported lazily, inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from burnwatch.georef.camera import DEFAULT_MAX_RANGE_M, Camera, DSMGround, FlatGround, Ground

#: Photos are downsampled to at most this many pixels on their long side before SIFT.
FEATURE_MAX_SIDE = 1600
FEATURE_COUNT = 4000


@dataclass(frozen=True)
class Features:
    """SIFT keypoints of one photo: ``xy`` (Nx2, full-resolution pixels, corner origin),
    ``descriptors`` (Nx128 float32) and ``scale`` (full-resolution pixels per pixel of the
    image SIFT ran on; a keypoint's precision is about ``scale`` pixels)."""

    xy: np.ndarray
    descriptors: np.ndarray
    scale: float

    def __len__(self) -> int:
        return int(self.xy.shape[0])


def extract_features(
    rgb: np.ndarray, max_side: int = FEATURE_MAX_SIDE, n_features: int = FEATURE_COUNT
) -> Features:
    """SIFT keypoints and descriptors of an RGB (HxWx3) or grey (HxW) uint8 image."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    h, w = grey.shape
    scale = max(1.0, max(h, w) / max_side)
    if scale > 1.0:
        grey = cv2.resize(grey, (round(w / scale), round(h / scale)), interpolation=cv2.INTER_AREA)
    sift = cv2.SIFT_create(nfeatures=n_features)  # type: ignore[attr-defined]  # missing from cv2's stubs
    keypoints, desc = sift.detectAndCompute(grey, None)
    if desc is None or not keypoints:
        return Features(np.zeros((0, 2)), np.zeros((0, 128), np.float32), scale)
    # OpenCV puts pixel centres on integers; ours are at +0.5
    xy = (np.array([k.pt for k in keypoints], dtype=float) + 0.5) * np.array(
        [w / grey.shape[1], h / grey.shape[0]]
    )
    return Features(xy, np.asarray(desc, np.float32), scale)


@dataclass(frozen=True)
class PairMatches:
    """Verified matches between photos ``a`` and ``b`` (indices into the photo list):
    ``idx`` (Mx2 keypoint indices, a then b), ``candidates`` (mutual ratio-test matches before
    the essential-matrix check)."""

    a: int
    b: int
    idx: np.ndarray
    candidates: int


def ground_points(camera: Camera, xy: np.ndarray, ground: Ground) -> np.ndarray:
    """Ground points (Nx3) of pixels; rays that leave a DSM continue on its median plane and
    rays that miss altogether are NaN."""
    pts, hit = camera.pixel_to_ground(xy[:, 0], xy[:, 1], ground, DEFAULT_MAX_RANGE_M)
    if isinstance(ground, DSMGround) and not hit.all():
        flat, flat_hit = FlatGround(ground.zmedian).intersect(
            camera.pose.centre, camera.rays(xy[~hit, 0], xy[~hit, 1]), DEFAULT_MAX_RANGE_M
        )
        pts[~hit] = flat
        hit[~hit] = flat_hit
    pts[~hit] = np.nan
    return pts


def _predict(camera: Camera, pts: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of ground points in ``camera`` and whether they fall inside the image (+ margin)."""
    ok = np.isfinite(pts).all(axis=1)
    uv = np.full((len(pts), 2), np.nan)
    if ok.any():
        u, v, front = camera.ground_to_pixel(pts[ok, 0], pts[ok, 1], pts[ok, 2])
        uv[np.flatnonzero(ok)] = np.stack([u, v], -1)
        ok[np.flatnonzero(ok)[~front]] = False
    w, h = camera.intrinsics.width, camera.intrinsics.height
    with np.errstate(invalid="ignore"):
        ok &= (uv[:, 0] > -margin) & (uv[:, 0] < w + margin) & (uv[:, 1] > -margin) & (uv[:, 1] < h + margin)
    return uv, ok


def _guided(
    pred: np.ndarray,
    ok: np.ndarray,
    desc_a: np.ndarray,
    xy_b: np.ndarray,
    desc_b: np.ndarray,
    radius: float,
    ratio: float,
) -> np.ndarray:
    """For each keypoint of A with a prediction in B: the index of its match in B, or -1."""
    from scipy.spatial import cKDTree

    out = np.full(len(pred), -1)
    if len(xy_b) < 2 or not ok.any():
        return out
    tree = cKDTree(xy_b)
    rows = np.flatnonzero(ok)
    for i, cand in zip(rows, tree.query_ball_point(pred[rows], radius), strict=True):
        if not cand:
            continue
        d = np.linalg.norm(desc_b[cand] - desc_a[i], axis=1)
        if len(cand) == 1:
            out[i] = cand[0]  # a lone candidate: the mutual check below still applies
            continue
        two = np.argpartition(d, 1)[:2]
        best, second = (two[0], two[1]) if d[two[0]] <= d[two[1]] else (two[1], two[0])
        if d[best] < ratio * d[second]:
            out[i] = cand[best]
    return out


def match_pair(
    cam_a: Camera,
    feat_a: Features,
    pts_a: np.ndarray,
    cam_b: Camera,
    feat_b: Features,
    pts_b: np.ndarray,
    radius_px: float,
    ratio: float = 0.8,
    ransac_px: float = 2.0,
) -> tuple[np.ndarray, int]:
    """Guided, mutual, essential-matrix-verified matches (Mx2 keypoint indices) and the number of
    candidates before verification. ``pts_a``/``pts_b``: ground points of each photo's keypoints
    with its metadata pose; ``radius_px``/``ransac_px`` in full-resolution pixels."""
    import cv2

    pred_ab, ok_ab = _predict(cam_b, pts_a, radius_px)
    pred_ba, ok_ba = _predict(cam_a, pts_b, radius_px)
    ab = _guided(pred_ab, ok_ab, feat_a.descriptors, feat_b.xy, feat_b.descriptors, radius_px, ratio)
    ba = _guided(pred_ba, ok_ba, feat_b.descriptors, feat_a.xy, feat_a.descriptors, radius_px, ratio)
    ia = np.flatnonzero(ab >= 0)
    ia = ia[ba[ab[ia]] == ia]  # mutual
    pairs = np.stack([ia, ab[ia]], -1)
    if len(pairs) < 8:
        return np.zeros((0, 2), int), len(pairs)
    na = np.stack(cam_a.intrinsics.unproject(*feat_a.xy[pairs[:, 0]].T), -1)
    nb = np.stack(cam_b.intrinsics.unproject(*feat_b.xy[pairs[:, 1]].T), -1)
    focal = math.sqrt(cam_a.intrinsics.fx * cam_b.intrinsics.fx)
    _, mask = cv2.findEssentialMat(
        na, nb, np.eye(3), method=cv2.RANSAC, prob=0.9999, threshold=ransac_px / focal, maxIters=2000
    )
    if mask is None:
        return np.zeros((0, 2), int), len(pairs)
    return pairs[mask.ravel().astype(bool)], len(pairs)


def overlapping_pairs(cameras: Sequence[Camera], ground_pts: Sequence[np.ndarray]) -> list[tuple[int, int]]:
    """Pairs whose ground coverage can overlap: centres closer than the sum of the two photos'
    largest horizontal distances from camera to a keypoint's ground point."""
    reach = []
    for cam, pts in zip(cameras, ground_pts, strict=True):
        ok = np.isfinite(pts).all(axis=1)
        d = np.hypot(pts[ok, 0] - cam.pose.x, pts[ok, 1] - cam.pose.y)
        reach.append(float(d.max()) if d.size else 0.0)
    out = []
    for i in range(len(cameras)):
        for j in range(i + 1, len(cameras)):
            dist = math.hypot(cameras[i].pose.x - cameras[j].pose.x, cameras[i].pose.y - cameras[j].pose.y)
            if dist < reach[i] + reach[j]:
                out.append((i, j))
    return out


def build_tracks(matches: Sequence[PairMatches], n_photos: int) -> list[dict[int, int]]:
    """Chain pairwise matches into tracks {photo index: keypoint index} (union-find); a track
    that would hold two different keypoints of one photo is inconsistent and dropped."""
    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(x: tuple[int, int]) -> tuple[int, int]:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m in matches:
        for ka, kb in m.idx:
            ra, rb = find((m.a, int(ka))), find((m.b, int(kb)))
            if ra != rb:
                parent[ra] = rb
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for node in list(parent):
        groups.setdefault(find(node), []).append(node)
    tracks = []
    for nodes in groups.values():
        photos = [p for p, _ in nodes]
        if len(set(photos)) == len(photos) >= 2 and max(photos) < n_photos:
            tracks.append(dict(nodes))
    tracks.sort(key=lambda t: sorted(t.items()))
    return tracks
