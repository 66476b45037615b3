"""Make torchvision importable when its compiled ops cannot load (CPU torch + CUDA torchvision).

The installed torchvision wheel is a CUDA build whose ``_C`` extension does not load against the
CPU-only torch. Importing torchvision then fails inside ``torchvision/_meta_registrations.py``
(``operator torchvision::nms does not exist``) and ultralytics, which calls
``torchvision.ops.nms``, cannot run. :func:`install` defines the ``torchvision::nms`` and
``torchvision::qnms`` operator schemas with :mod:`torch.library` and registers pure-torch CPU
kernels for them *before* torchvision is imported; afterwards the box ops' "has ops" guard is
relaxed so ``torchvision.ops.nms`` dispatches to our kernel. Nothing else (roi_align, deform
conv) is provided: ultralytics' detection path only needs NMS.

Where the native extension loads, :func:`install` does nothing. Importing this module calls
:func:`install` once (that is its only purpose); import it before torch-based code imports
torchvision or ultralytics.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_state: dict[str, Any] = {"installed": False, "patched": False, "lib": None}


def nms_reference(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy NMS in pure torch, same contract as ``torchvision.ops.nms``.

    ``boxes``: float tensor (N, 4) as x1, y1, x2, y2 (pixels); ``scores``: (N,). Returns int64
    indices of kept boxes in decreasing score order. Boxes with IoU > ``iou_threshold`` against a
    higher-scoring kept box are suppressed (Neubeck & Van Gool 2006, the greedy variant).
    """
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    order = torch.argsort(scores.float(), descending=True, stable=True)
    b = boxes.float()[order]
    area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    # Remaining candidates, in score order; each step keeps the best and drops its overlaps,
    # so memory stays O(N) (ultralytics may pass up to 30,000 boxes).
    idx = torch.arange(b.shape[0], device=b.device)
    keep: list[torch.Tensor] = []
    while idx.numel() > 0:
        i = idx[0]
        keep.append(i)
        rest = idx[1:]
        if rest.numel() == 0:
            break
        bi, br = b[i], b[rest]
        w = (torch.minimum(bi[2], br[:, 2]) - torch.maximum(bi[0], br[:, 0])).clamp(min=0)
        h = (torch.minimum(bi[3], br[:, 3]) - torch.maximum(bi[1], br[:, 1])).clamp(min=0)
        inter = w * h
        iou = inter / (area[i] + area[rest] - inter).clamp(min=1e-12)
        idx = rest[iou <= iou_threshold]
    return order[torch.stack(keep)]


def _native_ops_load() -> bool:
    """True when torchvision's compiled extension loads (or torchvision is absent)."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return True
    libs = sorted(Path(spec.origin).parent.glob("_C*.so")) + sorted(
        Path(spec.origin).parent.glob("_C*.pyd")
    )
    if not libs:
        return False
    try:
        torch.ops.load_library(str(libs[0]))
        torch.ops.torchvision.nms  # noqa: B018  (raises if the op was not registered)
    except (OSError, RuntimeError, AttributeError) as exc:
        log.debug("torchvision native ops unavailable: %s", exc)
        return False
    return True


def _register_ops() -> None:
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

    def _nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
        return nms_reference(dets, scores, iou_threshold)

    def _qnms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
        return nms_reference(dets.float(), scores.float(), iou_threshold)

    lib.impl("nms", _nms, "CPU")
    lib.impl("qnms", _qnms, "CPU")
    _state["lib"] = lib  # keep the Library alive: dropping it unregisters the ops


def _relax_guard() -> None:
    """Let ``torchvision.ops.boxes`` call our registered kernels despite ``_has_ops() == False``."""
    if _state["patched"] or "torchvision" not in sys.modules:
        return
    import torchvision.ops.boxes as boxes

    boxes._assert_has_ops = lambda: None
    _state["patched"] = True


def install() -> bool:
    """Register CPU fallbacks for ``torchvision::nms``/``qnms`` if needed; idempotent.

    Returns True when fallbacks are (now) in use, False when torchvision's own ops load.
    """
    if _state["installed"]:
        _relax_guard()
        return _state["lib"] is not None
    _state["installed"] = True
    if "torchvision" in sys.modules:
        # Too late to pre-register; torchvision already imported (successfully, or it raised).
        return False
    if _native_ops_load():
        return False
    _register_ops()
    try:
        import torchvision  # noqa: F401
    except Exception as exc:  # pragma: no cover - depends on the installed wheel
        log.warning("torchvision still fails to import after registering CPU ops: %s", exc)
        return True
    _relax_guard()
    log.debug("registered pure-torch CPU kernels for torchvision::nms/qnms")
    return True


install()
