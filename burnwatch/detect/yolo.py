"""Fire/smoke YOLO detector: one :class:`Detector` for the whole project, offline on a CPU.

Default backend: onnxruntime on the shipped ONNX model (``models/``, sha256-checked against
``models/manifest.json``); fallback: the ultralytics ``.pt`` through torch. Pre-processing is a
letterbox (aspect-preserving resize, grey padding to a multiple of the stride); post-processing
decodes the YOLOv8-style anchor-free head (boxes as centre/size in input pixels, per-class sigmoid
scores) and runs class-wise greedy NMS in numpy. Boxes are returned in pixels of the original
image (x right, y down).

Large images go through :meth:`Detector.detect_sliced`: a downscaled whole-frame pass finds large
fires and plumes whole, and overlapping tiles at native resolution find small flames; tiles
are run everywhere (``select="all"``) or only where the whole-frame pass or a flame-colour prior
sees a candidate (``select="candidates"``, the fast default for big photos). Seam-cut boxes are
merged (see :mod:`burnwatch.detect.slicing`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from burnwatch.detect import slicing
from burnwatch.detect.imageio import read_rgb
from burnwatch.errors import ModelError
from burnwatch.types import Detection

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = "fire-smoke-yolov5nu.onnx"
CLASS_NAMES: tuple[str, ...] = ("fire", "smoke")
Backend = Literal["onnx", "torch"]
RawFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


class ImageDetector(Protocol):
    """What other stages need from a detector: sliced detection on an RGB uint8 image."""

    def detect_sliced(self, image: np.ndarray) -> list[Detection]: ...


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(models_dir: Path | None = None) -> dict[str, Any]:
    """The ``models/manifest.json`` mapping (file name -> sha256, imgsz, classes ...)."""
    path = (models_dir or MODELS_DIR) / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError("model manifest not found", path=path) from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"manifest is not valid JSON: {exc}", path=path) from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ModelError("manifest has no 'files' mapping", path=path)
    return data


def verify_weights(path: Path, expected_sha256: str) -> None:
    """Raise :class:`ModelError` unless ``path`` exists and hashes to ``expected_sha256``."""
    if not path.is_file():
        raise ModelError("model file not found", path=path)
    got = sha256_file(path)
    if got != expected_sha256.lower():
        raise ModelError(f"sha256 mismatch: expected {expected_sha256}, got {got}", path=path)


def letterbox(image: np.ndarray, size: int, stride: int = 32, square: bool = False
              ) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize ``image`` (H, W, 3 uint8) to fit ``size`` keeping aspect; pad with grey 114.

    Padding goes to a multiple of ``stride`` (or to ``size`` x ``size`` when ``square``), split
    evenly on both sides. Returns (padded image, scale, (pad_x, pad_y)).
    """
    import cv2

    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = image if (nh, nw) == (h, w) else cv2.resize(
        image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    th = size if square else int(np.ceil(nh / stride) * stride)
    tw = size if square else int(np.ceil(nw / stride) * stride)
    px, py = (tw - nw) // 2, (th - nh) // 2
    out = np.full((th, tw, 3), 114, np.uint8)
    out[py:py + nh, px:px + nw] = resized
    return out, scale, (px, py)


def decode(output: np.ndarray, conf: float, iou: float, max_det: int = 300,
           agnostic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one image's head output (4 + nc, N) -> NMS'd (boxes xyxy, scores, classes)."""
    pred = output.T  # (N, 4 + nc)
    cls_scores = pred[:, 4:]
    classes = cls_scores.argmax(1)
    scores = cls_scores[np.arange(len(pred)), classes]
    m = scores > conf
    if not m.any():
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    xywh, scores, classes = pred[m, :4].astype(np.float64), scores[m], classes[m]
    boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
    if len(scores) > 30000:
        top = np.argsort(-scores)[:30000]
        boxes, scores, classes = boxes[top], scores[top], classes[top]
    keep = (slicing.nms(boxes, scores, iou) if agnostic
            else slicing.batched_nms(boxes, scores, classes, iou))[:max_det]
    return boxes[keep], scores[keep].astype(np.float64), classes[keep].astype(np.int64)


@dataclass
class Detector:
    """A loaded fire/smoke detector. Build with :meth:`load`; call :meth:`detect`."""

    run_batch: Callable[[np.ndarray], np.ndarray]  # (1, 3, H, W) float32 0-1 -> (1, 4+nc, N)
    imgsz: int
    names: tuple[str, ...] = CLASS_NAMES
    conf: float = 0.25
    iou: float = 0.5
    backend: str = "onnx"
    weights: Path | None = None
    stride: int = 32
    fixed_shape: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, weights: Path | None = None, backend: Backend = "onnx", conf: float = 0.25,
             iou: float = 0.5, imgsz: int | None = None, threads: int | None = None,
             sha256: str | None = None) -> Detector:
        """Load a detector.

        ``weights`` None loads the shipped model from ``models/`` (ONNX for ``backend="onnx"``,
        the ``.pt`` for ``"torch"``), verifying its sha256 against ``models/manifest.json``;
        for other files pass ``sha256`` to have it checked. ``imgsz`` defaults to the manifest's
        training size (or 640). ``threads`` defaults to all CPU cores. Raises
        :class:`~burnwatch.errors.ModelError` on a missing file, hash mismatch or load failure.
        """
        meta: dict[str, Any] = {}
        if weights is None:
            manifest = read_manifest()
            name = DEFAULT_MODEL if backend == "onnx" else DEFAULT_MODEL.replace(".onnx", ".pt")
            entry = manifest["files"].get(name)
            if not isinstance(entry, dict) or "sha256" not in entry:
                raise ModelError(f"{name} is not listed in the manifest",
                                 path=MODELS_DIR / "manifest.json")
            weights = MODELS_DIR / name
            verify_weights(weights, str(entry["sha256"]))
            meta = dict(manifest)
            imgsz = imgsz or int(manifest.get("imgsz", 640))
        elif sha256 is not None:
            verify_weights(weights, sha256)
        elif not weights.is_file():
            raise ModelError("model file not found", path=weights)
        threads = threads or os.cpu_count() or 1
        if backend == "onnx":
            return cls._load_onnx(weights, conf, iou, imgsz, threads, meta)
        if backend == "torch":
            return cls._load_torch(weights, conf, iou, imgsz, threads, meta)
        raise ModelError(f"unknown backend {backend!r} (use 'onnx' or 'torch')")

    @classmethod
    def _load_onnx(cls, weights: Path, conf: float, iou: float, imgsz: int | None,
                   threads: int, meta: dict[str, Any]) -> Detector:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            sess = ort.InferenceSession(str(weights), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"onnxruntime cannot load the model: {exc}", path=weights) from exc
        inp = sess.get_inputs()[0]
        shape = inp.shape
        fixed = all(isinstance(d, int) for d in shape[2:])
        smeta = sess.get_modelmeta().custom_metadata_map
        names = CLASS_NAMES
        if "names" in smeta:
            import ast

            parsed = ast.literal_eval(smeta["names"])
            names = tuple(str(parsed[k]) for k in sorted(parsed))
        size = int(shape[2]) if fixed else int(imgsz or meta.get("imgsz", 640))
        stride = int(smeta.get("stride", 32))
        in_name = inp.name

        def run(batch: np.ndarray) -> np.ndarray:
            return np.asarray(sess.run(None, {in_name: batch})[0])

        return cls(run, size, names, conf, iou, "onnx", weights, stride, fixed, meta)

    @classmethod
    def _load_torch(cls, weights: Path, conf: float, iou: float, imgsz: int | None,
                    threads: int, meta: dict[str, Any]) -> Detector:
        from burnwatch._torchcompat import install as _compat

        _compat()  # CPU torchvision ops before torchvision/ultralytics load
        import torch

        torch.set_num_threads(threads)
        try:
            from ultralytics.nn.tasks import load_checkpoint

            model, _ = load_checkpoint(str(weights), device="cpu", fuse=True)
        except Exception as exc:
            raise ModelError(f"cannot load the torch model: {exc}", path=weights) from exc
        model.eval()
        raw_names = getattr(model, "names", None) or dict(enumerate(CLASS_NAMES))
        names = tuple(str(raw_names[k]) for k in sorted(raw_names))
        size = int(imgsz or meta.get("imgsz") or model.args.get("imgsz", 640))

        def run(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out = model(torch.from_numpy(batch))
            out = out[0] if isinstance(out, (list, tuple)) else out
            return np.asarray(out.float().numpy())

        return cls(run, size, names, conf, iou, "torch", weights, 32, False, meta)

    # -- single pass -------------------------------------------------------------------------
    def raw(self, image: np.ndarray, size: int | None = None, conf: float | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One letterboxed pass: (boxes xyxy in image pixels, scores, classes), NMS'd."""
        size = size or self.imgsz
        if self.fixed_shape:
            size = self.imgsz
        lb, scale, (px, py) = letterbox(image, size, self.stride, square=self.fixed_shape)
        batch = np.ascontiguousarray(lb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        out = self.run_batch(batch)[0]
        boxes, scores, classes = decode(out, self.conf if conf is None else conf, self.iou)
        if len(boxes):
            boxes = (boxes - np.array([px, py, px, py])) / scale
            h, w = image.shape[:2]
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return boxes, scores, classes

    def detect(self, image: np.ndarray | Path | str, conf: float | None = None
               ) -> list[Detection]:
        """Detect fire and smoke in one image (RGB uint8 H x W x 3 array, or an image file)."""
        arr, name = _as_array(image)
        return slicing.to_detections(*self.raw(arr, conf=conf), self.names, name)

    def detect_sliced(self, image: np.ndarray | Path | str, tile: int | None = None,
                      overlap: float = 0.2,
                      select: Literal["all", "candidates"] = "candidates",
                      conf: float | None = None) -> list[Detection]:
        """Detect in a large image with a whole-frame pass plus overlapping native-resolution
        tiles (``tile`` px, default the model input size; ``overlap`` fraction of a tile).

        ``select="candidates"`` runs only tiles holding a whole-frame candidate (score >= 0.05)
        or flame-coloured pixels; ``"all"`` runs every tile. Images no bigger than a tile get a
        single pass. No box scoring below ``conf`` (default the detector's) is returned.
        """
        arr, name = _as_array(image)
        tile = tile or self.imgsz
        conf = self.conf if conf is None else conf
        coarse_conf = min(conf, 0.05)
        return sliced_detect(lambda a: self.raw(a, size=tile, conf=conf), arr, tile, overlap,
                             self.names, name, select=select,
                             coarse=lambda a: self.raw(a, size=self.imgsz, conf=coarse_conf),
                             iou=self.iou, conf=conf)


def _as_array(image: np.ndarray | Path | str) -> tuple[np.ndarray, str | None]:
    if isinstance(image, (str, Path)):
        return read_rgb(image), str(image)
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 array (H, W, 3), got {arr.dtype} {arr.shape}")
    return arr, None


def flame_colour_mask(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """Boolean mask at 1/``factor`` resolution of bright, saturated red-orange-yellow pixels
    (HSV hue <= 60 deg, saturation > 0.35, value > 0.6): a cheap prior for where flames may be.
    """
    import cv2

    small = image[::factor, ::factor]
    hsv = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0].astype(np.int32) * 2, hsv[..., 1], hsv[..., 2]
    return np.asarray((hue <= 60) & (sat > 89) & (val > 153))


def sliced_detect(raw: RawFn, image: np.ndarray, tile: int, overlap: float,
                  names: Sequence[str], image_name: str | None = None,
                  select: Literal["all", "candidates"] = "all",
                  coarse: RawFn | None = None, iou: float = 0.5,
                  min_flame_px: int = 2, conf: float = 0.25) -> list[Detection]:
    """Sliced inference around any raw per-tile detector (see :meth:`Detector.detect_sliced`).

    ``raw(tile_image)`` returns (boxes in tile pixels, scores, classes); ``coarse(image)`` the
    same for a downscaled whole-frame pass (boxes in image pixels), whose boxes scoring >=
    ``conf`` are kept and whose weaker ones only pick tiles when ``select="candidates"``.
    Final boxes: seam merge, then class-wise NMS with containment; none scores below ``conf``.
    """
    h, w = image.shape[:2]
    windows = slicing.tile_windows(h, w, tile, overlap)
    if len(windows) == 1 and coarse is None:
        b, s, c = raw(image)
        sure = s >= conf
        return slicing.to_detections(b[sure], s[sure], c[sure], names, image_name)
    parts: list[slicing.TileDetections] = []
    full_b, full_s, full_c = np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    if coarse is not None:
        full_b, full_s, full_c = coarse(image)
    if len(windows) == 1:
        b, s, c = raw(image)
        parts.append(slicing.TileDetections(windows[0], b, s, c))
    else:
        chosen = windows
        if select == "candidates":
            chosen = _candidate_windows(image, windows, full_b, min_flame_px)
        for win in chosen:
            x0, y0, x1, y1 = win
            b, s, c = raw(np.ascontiguousarray(image[y0:y1, x0:x1]))
            if len(b):
                b = b + np.array([x0, y0, x0, y0], np.float64)
            parts.append(slicing.TileDetections(win, b, s, c))
    tb, ts, tc = slicing.merge_seams(parts, h, w)
    boxes = np.concatenate([tb, full_b])
    scores = np.concatenate([ts, full_s])
    classes = np.concatenate([tc, full_c])
    sure = scores >= conf  # weak whole-frame boxes only chose tiles
    boxes, scores, classes = boxes[sure], scores[sure], classes[sure]
    keep = slicing.suppress_contained(boxes, scores, classes, iou)
    return slicing.to_detections(boxes[keep], scores[keep], classes[keep], names, image_name)


def _candidate_windows(image: np.ndarray, windows: Sequence[slicing.Window],
                       coarse_boxes: np.ndarray, min_flame_px: int) -> list[slicing.Window]:
    factor = 8
    mask = flame_colour_mask(image, factor)
    chosen = []
    for win in windows:
        x0, y0, x1, y1 = win
        sub = mask[y0 // factor:(y1 + factor - 1) // factor, x0 // factor:(x1 + factor - 1) // factor]
        hit = int(sub.sum()) >= min_flame_px
        if not hit and len(coarse_boxes):
            b = coarse_boxes
            hit = bool(np.any((b[:, 0] < x1) & (b[:, 2] > x0) & (b[:, 1] < y1) & (b[:, 3] > y0)))
        if hit:
            chosen.append(win)
    return chosen
