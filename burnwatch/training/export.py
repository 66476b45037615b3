"""Export trained weights to ONNX and record them in ``models/manifest.json``.

ultralytics' exporter writes the ONNX graph (opset 17, run by onnxruntime >= 1.16), optionally
simplified with onnxslim (offline). The manifest records each shipped file's sha256, size, the
training image size and class names; :meth:`burnwatch.detect.yolo.Detector.load` checks the hash.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from burnwatch.errors import ModelError

log = logging.getLogger(__name__)

OPSET = 17


def export_onnx(weights: Path, out: Path, imgsz: int, dynamic: bool = True,
                simplify: bool = True) -> Path:
    """Export an ultralytics ``.pt`` to ONNX at ``out``; returns ``out``.

    ``dynamic`` keeps height/width symbolic so one file serves letterboxed frames and tiles of
    any stride-multiple size. Call :func:`burnwatch.training.offline.prepare_offline` first.
    """
    from burnwatch._torchcompat import install as _compat

    _compat()  # CPU torchvision ops before torchvision/ultralytics load
    from ultralytics import YOLO

    if not weights.is_file():
        raise ModelError("weights not found", path=weights)
    model = YOLO(str(weights), task="detect")
    try:
        produced = model.export(format="onnx", imgsz=imgsz, opset=OPSET, dynamic=dynamic,
                                simplify=simplify, half=False, device="cpu", batch=1)
    except Exception as exc:
        if not simplify:
            raise ModelError(f"ONNX export failed: {exc}", path=weights) from exc
        log.warning("export with onnxslim failed (%s); retrying without", exc)
        produced = model.export(format="onnx", imgsz=imgsz, opset=OPSET, dynamic=dynamic,
                                simplify=False, half=False, device="cpu", batch=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    if Path(produced).resolve() != out.resolve():
        shutil.copyfile(produced, out)
    return out


def strip_checkpoint(weights: Path, out: Path) -> Path:
    """Copy an ultralytics checkpoint without optimizer state (smaller, inference-only)."""
    from burnwatch._torchcompat import install as _compat

    _compat()  # CPU torchvision ops before torchvision/ultralytics load
    from ultralytics.utils.torch_utils import strip_optimizer

    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, out)
    strip_optimizer(str(out))
    return out


def write_manifest(models_dir: Path, files: list[Path], info: dict[str, Any]) -> Path:
    """Write ``models_dir/manifest.json`` with sha256 and size for ``files`` plus ``info``."""
    from burnwatch.detect.yolo import sha256_file

    entries = {f.name: {"sha256": sha256_file(f), "bytes": f.stat().st_size} for f in files}
    manifest = {**info, "files": entries}
    path = models_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path
