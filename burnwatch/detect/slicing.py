"""Sliced inference helpers: tile windows, NMS and seam merging, all in numpy (pixels).

Large images (4000x3000 drone photos, satellite RGB mosaics) are cut into overlapping tiles at
the model's input size so small flames keep their native resolution (the SAHI approach,
Akyon et al., "Slicing Aided Hyper Inference", ICIP 2022). Boxes are mapped back to the full
image; a fire cut by a tile edge shows up as partial boxes in neighbouring tiles, so boxes that
touch an interior tile edge are merged with same-class boxes that overlap or abut them, then a
class-wise greedy NMS removes the remaining duplicates.

Box arrays are float (N, 4) as x1, y1, x2, y2 in pixels of the full image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from burnwatch.types import Box, Detection

Window = tuple[int, int, int, int]  # x0, y0, x1, y1 (pixels, end exclusive)


def tile_windows(height: int, width: int, tile: int, overlap: float = 0.2) -> list[Window]:
    """Overlapping square windows covering a ``height`` x ``width`` image.

    Windows are ``tile`` pixels wide (clipped for images smaller than a tile); the last row and
    column are shifted back so every window lies inside the image. ``overlap`` is a fraction of
    the tile (0 <= overlap < 1).
    """
    if tile <= 0 or not 0 <= overlap < 1:
        raise ValueError(f"bad tiling: tile={tile} overlap={overlap}")
    stride = max(1, round(tile * (1 - overlap)))

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        s = list(range(0, n - tile, stride))
        s.append(n - tile)
        return sorted(set(s))

    return [(x, y, min(x + tile, width), min(y + tile, height))
            for y in starts(height) for x in starts(width)]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4) -> (N, M)."""
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.asarray(inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, in decreasing score order."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_matrix(boxes[i:i + 1], boxes[rest])[0] <= iou]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                iou: float) -> np.ndarray:
    """Class-wise NMS (boxes of different classes never suppress each other)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    offset = (classes.astype(np.float64) * (float(boxes.max()) + 1))[:, None]
    return nms(boxes + offset, scores, iou)


@dataclass(frozen=True)
class TileDetections:
    """Raw detections of one window, already in full-image pixel coordinates."""

    window: Window
    boxes: np.ndarray  # (N, 4)
    scores: np.ndarray  # (N,)
    classes: np.ndarray  # (N,) int


def _touches_seam(box: np.ndarray, win: Window, height: int, width: int, tol: float) -> bool:
    x0, y0, x1, y1 = win
    return bool((x0 > 0 and box[0] <= x0 + tol) or (y0 > 0 and box[1] <= y0 + tol)
                or (x1 < width and box[2] >= x1 - tol) or (y1 < height and box[3] >= y1 - tol))


def _gap(a: np.ndarray, b: np.ndarray) -> float:
    """Largest axis gap between two boxes (negative when they overlap on both axes)."""
    return float(max(a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3]))


def merge_seams(tiles: Sequence[TileDetections], height: int, width: int,
                touch_tol: float = 2.0, gap_tol: float = 4.0,
                min_overlap: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge same-class boxes cut by tile edges into one box per object.

    Two boxes from *different* tiles are joined (union box, max score) when at least one of them
    touches an interior edge of its tile (within ``touch_tol`` px), they overlap or are at most
    ``gap_tol`` px apart, and their extents along the seam overlap by ``min_overlap`` of the
    shorter one. Joining is transitive (union-find), so a fire spanning four tiles becomes one box.
    Returns boxes, scores, classes.
    """
    boxes, scores, classes, tile_id, seam = [], [], [], [], []
    for t, td in enumerate(tiles):
        for b, s, c in zip(td.boxes, td.scores, td.classes, strict=True):
            boxes.append(np.asarray(b, np.float64))
            scores.append(float(s))
            classes.append(int(c))
            tile_id.append(t)
            seam.append(_touches_seam(b, td.window, height, width, touch_tol))
    n = len(boxes)
    if n == 0:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        if not seam[i]:
            continue
        for j in range(n):
            if j == i or tile_id[j] == tile_id[i] or classes[j] != classes[i]:
                continue
            a, b = boxes[i], boxes[j]
            if _gap(a, b) > gap_tol:
                continue
            ox = min(a[2], b[2]) - max(a[0], b[0])
            oy = min(a[3], b[3]) - max(a[1], b[1])
            along = max(ox / max(min(a[2] - a[0], b[2] - b[0]), 1e-9),
                        oy / max(min(a[3] - a[1], b[3] - b[1]), 1e-9))
            if along >= min_overlap:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    out_b, out_s, out_c = [], [], []
    for members in groups.values():
        mb = np.stack([boxes[m] for m in members])
        out_b.append([mb[:, 0].min(), mb[:, 1].min(), mb[:, 2].max(), mb[:, 3].max()])
        out_s.append(max(scores[m] for m in members))
        out_c.append(classes[members[0]])
    return np.asarray(out_b, np.float64), np.asarray(out_s), np.asarray(out_c, np.int64)


def suppress_contained(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                       iou: float, contain: float = 0.85) -> np.ndarray:
    """Class-wise NMS that also drops a box lying mostly (``contain`` of its area) inside a
    higher-scoring box of the same class — the fragments a whole-frame pass and tiles both see.
    """
    keep = batched_nms(boxes, scores, classes, iou)
    kept: list[int] = []
    for i in keep:
        b = boxes[i]
        area = max((b[2] - b[0]) * (b[3] - b[1]), 1e-9)
        inside = False
        for k in kept:
            if classes[k] != classes[i]:
                continue
            o = boxes[k]
            ix = max(0.0, min(b[2], o[2]) - max(b[0], o[0]))
            iy = max(0.0, min(b[3], o[3]) - max(b[1], o[1]))
            if ix * iy / area >= contain:
                inside = True
                break
        if not inside:
            kept.append(int(i))
    return np.asarray(kept, np.int64)


def to_detections(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                  names: Sequence[str], image: str | None = None) -> list[Detection]:
    """Typed :class:`~burnwatch.types.Detection` values, highest score first."""
    order = np.argsort(-scores, kind="stable")
    return [Detection(int(classes[i]), names[int(classes[i])], float(scores[i]),
                      Box(float(boxes[i, 0]), float(boxes[i, 1]),
                          float(boxes[i, 2]), float(boxes[i, 3])), image)
            for i in order]


def from_detections(dets: Sequence[Detection]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays (boxes, scores, classes) from typed detections."""
    if not dets:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    return (np.asarray([[d.box.x1, d.box.y1, d.box.x2, d.box.y2] for d in dets], np.float64),
            np.asarray([d.score for d in dets], np.float64),
            np.asarray([d.class_id for d in dets], np.int64))
