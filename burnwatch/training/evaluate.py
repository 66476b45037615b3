"""Evaluate a detector on a YOLO-format dataset: per-class P, R, AP50, AP50-95 and mAP50.

Matching follows COCO (Lin et al., "Microsoft COCO", ECCV 2014; pycocotools ``COCOeval``): per
image and class, predictions in decreasing score order are greedily matched to the unmatched
ground-truth box of highest IoU >= t, for t in 0.50:0.05:0.95. AP is the 101-point interpolated
area under the precision envelope (precision at recall r = max precision at recall >= r, for
r in 0, 0.01 .. 1). AP50-95 is the mean over the ten thresholds. Precision and recall are
reported at the operating confidence (default 0.25) and IoU 0.5. Boxes are pixels.

Label problems are errors naming the file (and line): a class id outside ``names``, a missing
labels folder, a split without one ground-truth box. An image that cannot be read is skipped
and listed (``EvalResult.skipped``); only a split where no image can be read fails. A metric
that does not exist (recall or AP of a class without ground truth) is NaN in Python and
``null`` in JSON.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from burnwatch.detect.imageio import is_image_path, read_rgb
from burnwatch.detect.slicing import iou_matrix
from burnwatch.errors import BurnwatchError, InputError

log = logging.getLogger(__name__)

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (N, 4) xyxy, scores (N,), classes (N,)
Predictor = Callable[[np.ndarray], Arrays]


@dataclass(frozen=True)
class ClassMetrics:
    """Metrics for one class; ``instances`` ground-truth boxes, ``images`` holding any."""

    name: str
    images: int
    instances: int
    precision: float
    recall: float
    ap50: float
    ap50_95: float


@dataclass(frozen=True)
class EvalResult:
    """Per-class metrics plus the overall means over classes with ground truth.

    ``images`` counts the images scored; ``skipped`` lists ``(file, problem)`` of those that
    could not be read.
    """

    split: str
    images: int
    conf: float
    classes: tuple[ClassMetrics, ...]
    map50: float
    map50_95: float
    skipped: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready metrics; NaN (a metric without ground truth) becomes None."""
        data: dict[str, object] = {
            "split": self.split, "images": self.images, "conf": self.conf,
            "map50": self.map50, "map50_95": self.map50_95,
            "classes": {c.name: asdict(c) for c in self.classes},
            "skipped": [{"file": f, "error": e} for f, e in self.skipped]}
        return {k: _no_nan(v) for k, v in data.items()}

    def table(self) -> str:
        """A fixed-width text table for the terminal."""
        rows = [f"{'class':<8}{'images':>8}{'boxes':>8}{'P':>8}{'R':>8}{'AP50':>8}{'AP50-95':>9}"]
        for c in self.classes:
            rows.append(f"{c.name:<8}{c.images:>8}{c.instances:>8}{_num(c.precision, 8)}"
                        f"{_num(c.recall, 8)}{_num(c.ap50, 8)}{_num(c.ap50_95, 9)}")
        rows.append(f"{'all':<8}{self.images:>8}{sum(c.instances for c in self.classes):>8}"
                    f"{'':>16}{_num(self.map50, 8)}{_num(self.map50_95, 9)}")
        return "\n".join(rows)


def _num(value: float, width: int) -> str:
    """``value`` to 3 decimals right-aligned, or "-" when it does not exist (NaN)."""
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:>{width}.3f}"


def _no_nan(value: object) -> object:
    """``value`` with every NaN float (also inside dicts/lists) replaced by None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def find_split(data: Path, split: str | None = None) -> tuple[str, Path, Path, list[str]]:
    """Resolve (split name, images dir, labels dir, class names) of a dataset.

    ``data`` is a ``data.yaml`` or the dataset folder holding it; ``split`` None picks ``test``
    if present, else ``val``.
    """
    import yaml

    yml = data / "data.yaml" if data.is_dir() else data
    if not yml.is_file():
        raise InputError("dataset YAML not found", path=yml)
    try:
        cfg = yaml.safe_load(yml.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", path=yml) from exc
    if not isinstance(cfg, dict) or "names" not in cfg:
        raise InputError("dataset YAML has no 'names'", path=yml)
    raw = cfg["names"]
    names = [str(raw[k]) for k in sorted(raw)] if isinstance(raw, dict) else [str(n) for n in raw]
    root = Path(str(cfg.get("path") or "."))
    if not root.is_absolute():
        root = (yml.resolve().parent / root).resolve()
    candidates = [split] if split else ["test", "val"]
    looked: list[str] = []
    for name in candidates:
        rel = cfg.get(name) or f"images/{name}"
        if isinstance(rel, list):
            rel = rel[0]
        img_dir = root / str(rel)
        looked.append(str(img_dir))
        if img_dir.is_dir():
            lab_dir = Path(str(img_dir).replace(f"{Path('/images/')}", f"{Path('/labels/')}"))
            if "images" not in img_dir.parts:
                lab_dir = img_dir.parent / "labels"
            return name, img_dir, lab_dir, names
    raise InputError(f"no split {' or '.join(candidates)} with an images folder "
                     f"(looked for {', '.join(looked)})", path=yml)


def read_labels(path: Path, width: int, height: int, nc: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """YOLO label file -> (classes (N,), boxes (N, 4) xyxy pixels); missing file = no boxes.

    With ``nc`` (number of classes) a class id outside 0..nc-1 is an InputError naming the
    file and line.
    """
    if not path.is_file():
        return np.zeros(0, np.int64), np.zeros((0, 4))
    cls, boxes = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            raise InputError(f"line {n}: expected 'class cx cy w h', got {line!r}", path=path)
        try:
            c = int(parts[0])
            cx, cy, bw, bh = (float(p) for p in parts[1:])
        except ValueError as exc:
            raise InputError(f"line {n}: {exc}", path=path) from exc
        if nc is not None and not 0 <= c < nc:
            raise InputError(f"line {n}: class id {c} is not one of the dataset's {nc} classes "
                             f"(0-{nc - 1})", path=path)
        cls.append(c)
        boxes.append([(cx - bw / 2) * width, (cy - bh / 2) * height,
                      (cx + bw / 2) * width, (cy + bh / 2) * height])
    return np.asarray(cls, np.int64), np.asarray(boxes, np.float64).reshape(-1, 4)


def match_image(pred_boxes: np.ndarray, pred_scores: np.ndarray, gt_boxes: np.ndarray
                ) -> np.ndarray:
    """COCO greedy matching for one image and class: (N, 10) bool, true positive per threshold."""
    tp = np.zeros((len(pred_boxes), len(IOU_THRESHOLDS)), bool)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return tp
    order = np.argsort(-pred_scores, kind="stable")
    ious = iou_matrix(pred_boxes[order], gt_boxes)
    for t, thr in enumerate(IOU_THRESHOLDS):
        taken = np.zeros(len(gt_boxes), bool)
        for row, p in enumerate(order):
            cand = np.where(~taken & (ious[row] >= thr - 1e-12), ious[row], -1.0)
            g = int(cand.argmax())
            if cand[g] >= 0:
                taken[g] = True
                tp[p, t] = True
    return tp


def average_precision(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> np.ndarray:
    """101-point interpolated AP per IoU threshold from pooled detections -> (10,)."""
    if n_gt == 0:
        return np.full(tp.shape[1] if tp.ndim == 2 else len(IOU_THRESHOLDS), np.nan)
    if len(scores) == 0:
        return np.zeros(len(IOU_THRESHOLDS))
    order = np.argsort(-scores, kind="mergesort")
    tps = np.cumsum(tp[order], 0)
    fps = np.cumsum(~tp[order], 0)
    recall = tps / n_gt
    precision = tps / np.maximum(tps + fps, 1e-12)
    aps = np.zeros(tp.shape[1])
    for t in range(tp.shape[1]):
        env = np.maximum.accumulate(precision[::-1, t])[::-1]
        idx = np.searchsorted(recall[:, t], RECALL_POINTS, side="left")
        vals = np.where(idx < len(env), env[np.minimum(idx, len(env) - 1)], 0.0)
        aps[t] = vals.mean()
    return aps


def evaluate_predictions(records: Iterable[tuple[Arrays, tuple[np.ndarray, np.ndarray]]],
                         names: Sequence[str], conf: float = 0.25, split: str = "val"
                         ) -> EvalResult:
    """Metrics from per-image ((pred boxes, scores, classes), (gt classes, gt boxes))."""
    nc = len(names)
    tps: list[list[np.ndarray]] = [[] for _ in range(nc)]
    scs: list[list[np.ndarray]] = [[] for _ in range(nc)]
    n_gt = np.zeros(nc, int)
    n_img = np.zeros(nc, int)
    images = 0
    for (pb, ps, pc), (gc, gb) in records:
        images += 1
        for c in range(nc):
            g = gb[gc == c]
            m = pc == c
            n_gt[c] += len(g)
            n_img[c] += int(len(g) > 0)
            tps[c].append(match_image(pb[m], ps[m], g))
            scs[c].append(ps[m])
    per_class = []
    for c in range(nc):
        tp = np.concatenate(tps[c]) if tps[c] else np.zeros((0, 10), bool)
        sc = np.concatenate(scs[c]) if scs[c] else np.zeros(0)
        aps = average_precision(tp, sc, int(n_gt[c]))
        at = sc >= conf
        tp_op = int(tp[at, 0].sum())
        precision = tp_op / max(int(at.sum()), 1)
        recall = tp_op / n_gt[c] if n_gt[c] else float("nan")
        per_class.append(ClassMetrics(names[c], int(n_img[c]), int(n_gt[c]), float(precision),
                                      float(recall), float(aps[0]), float(np.mean(aps))))
    have = [m for m in per_class if m.instances > 0]
    map50 = float(np.mean([m.ap50 for m in have])) if have else float("nan")
    map5095 = float(np.mean([m.ap50_95 for m in have])) if have else float("nan")
    return EvalResult(split, images, conf, tuple(per_class), map50, map5095)


def evaluate_dataset(predict: Predictor, data: Path, split: str | None = None,
                     conf: float = 0.25, progress: Callable[[Iterable[Path]], Iterable[Path]]
                     | None = None) -> EvalResult:
    """Run ``predict`` (RGB uint8 image -> arrays, low confidence threshold) over a split.

    Unreadable images are skipped (``EvalResult.skipped``, logged as warnings). Raises
    InputError when the labels folder is missing, a label is invalid, no image can be read, or
    the split has no ground-truth box at all.
    """
    split_name, img_dir, lab_dir, names = find_split(data, split)
    files = sorted(p for p in img_dir.iterdir() if is_image_path(p))
    if not files:
        raise InputError("split holds no images", path=img_dir)
    if not lab_dir.is_dir():
        raise InputError(f"labels folder not found (expected next to {img_dir})", path=lab_dir)
    skipped: list[tuple[str, str]] = []

    def records() -> Iterable[tuple[Arrays, tuple[np.ndarray, np.ndarray]]]:
        for f in progress(files) if progress else files:
            try:
                img = read_rgb(f)
            except BurnwatchError as exc:  # one bad photo must not sink the evaluation
                log.warning("skipped %s", exc.message)
                skipped.append((str(f), exc.message))
                continue
            h, w = img.shape[:2]
            yield predict(img), read_labels(lab_dir / f"{f.stem}.txt", w, h, len(names))

    result = evaluate_predictions(records(), names, conf, split_name)
    if result.images == 0:
        raise InputError(f"no image could be read ({len(skipped)} skipped)", path=img_dir)
    if not any(c.instances for c in result.classes):
        raise InputError(f"no ground-truth boxes: none of the {result.images} images has a "
                         "non-empty label file, so there is nothing to score", path=lab_dir)
    return replace(result, skipped=tuple(skipped))


def write_json(result: EvalResult, path: Path) -> Path:
    """Write the metrics as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    return path
