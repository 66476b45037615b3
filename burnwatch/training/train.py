"""Train the fire/smoke YOLO detector with ultralytics, fully offline on a CPU.

The starting point is a plain state dict for ultralytics' ``yolov5nu.yaml`` (COCO-pretrained
backbone and neck, no head). ultralytics' trainer rebuilds the model from its config and then
transfers weights from whatever checkpoint it was given, so :func:`build_base_checkpoint` first
builds ``yolov5nu.yaml`` with ``nc`` classes, loads the state dict (``strict=False``), verifies how
many tensors were taken, and saves an ultralytics-format ``.pt``; training starts from that file.
The architecture is YOLOv5 with the anchor-free ultralytics head ("u" variant; Jocher et al.,
ultralytics 2023).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from burnwatch.errors import InputError, ModelError

log = logging.getLogger(__name__)

ARCH = "yolov5nu.yaml"
CLASS_NAMES: dict[int, str] = {0: "fire", 1: "smoke"}


@dataclass(frozen=True)
class BaseCheckpoint:
    """An ultralytics checkpoint built from a plain state dict; ``loaded`` of ``total`` tensors."""

    path: Path
    loaded: int
    total: int


@dataclass(frozen=True)
class TrainResult:
    """Where a training run wrote its weights and how long it took (seconds, wall clock)."""

    run_dir: Path
    best: Path
    last: Path
    seconds: float


def build_base_checkpoint(state_dict: Path, out: Path, nc: int = 2) -> BaseCheckpoint:
    """Build ``yolov5nu.yaml`` with ``nc`` classes, load ``state_dict`` into it, save to ``out``.

    Only tensors whose name and shape match are loaded; raises :class:`ModelError` if none do.
    """
    from burnwatch._torchcompat import install as _compat

    _compat()  # CPU torchvision ops before torchvision/ultralytics load
    import torch
    from ultralytics.nn.tasks import DetectionModel

    try:
        sd = torch.load(state_dict, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"cannot read state dict: {exc}", path=state_dict) from exc
    if not isinstance(sd, dict):
        raise ModelError("not a plain state dict", path=state_dict)
    model = DetectionModel(ARCH, nc=nc, verbose=False)
    own = model.state_dict()
    matched = {k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ModelError(f"no tensor matches {ARCH}", path=state_dict)
    result = model.load_state_dict(matched, strict=False)
    log.info("base weights: %d of %d tensors loaded (%d missing)",
             len(matched), len(own), len(result.missing_keys))
    model.names = dict(CLASS_NAMES) if nc == len(CLASS_NAMES) else {i: str(i) for i in range(nc)}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {}, "epoch": -1, "optimizer": None,
                "ema": None, "updates": 0, "date": None, "version": None}, out)
    return BaseCheckpoint(out, len(matched), len(own))


#: Dataset YAML keys naming image folders (or image-list files); train and val are required.
SPLIT_KEYS: tuple[str, ...] = ("train", "val", "test")


def dataset_root(data: Path, cfg: dict[str, object]) -> Path:
    """The dataset's ``path``, resolved against the YAML's folder when relative."""
    root = Path(str(cfg.get("path") or "."))
    return root if root.is_absolute() else (data.resolve().parent / root).resolve()


def split_paths(data: Path, cfg: dict[str, object]) -> dict[str, list[Path]]:
    """Absolute folder (or list file) paths of every split the YAML names."""
    root = dataset_root(data, cfg)
    out: dict[str, list[Path]] = {}
    for key in SPLIT_KEYS:
        value = cfg.get(key)
        if value in (None, ""):
            continue
        entries = value if isinstance(value, list) else [value]
        out[key] = [Path(str(e)) if Path(str(e)).is_absolute() else root / str(e) for e in entries]
    return out


def check_dataset_yaml(data: Path) -> None:
    """Raise :class:`InputError` unless ``data`` is a readable YOLO dataset YAML with names
    whose train and val (and test, when given) folders exist; the error names the folder."""
    import yaml

    if not data.is_file():
        raise InputError("dataset YAML not found", path=data)
    try:
        cfg = yaml.safe_load(data.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", path=data) from exc
    if not isinstance(cfg, dict) or "names" not in cfg or not cfg.get("train") or not cfg.get("val"):
        raise InputError("dataset YAML needs 'train', 'val' and 'names'", path=data)
    for key, paths in split_paths(data, cfg).items():
        for folder in paths:
            if not folder.exists():
                raise InputError(f"{key} split folder not found (from '{key}' in {data.name})",
                                 path=folder)


def resolve_dataset_yaml(data: Path, out_dir: Path) -> Path:
    """Write a copy of ``data`` whose ``path`` is absolute (relative to the YAML's folder).

    ultralytics resolves a relative ``path`` against the working directory; datasets shipped as
    ``path: .`` (like the fire-smoke set) mean "next to this file".
    """
    import yaml

    check_dataset_yaml(data)
    cfg = yaml.safe_load(data.read_text())
    cfg["path"] = str(dataset_root(data, cfg))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{data.stem}.resolved.yaml"
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out


def train(
    data: Path,
    base: Path | None,
    *,
    epochs: int = 10,
    imgsz: int = 320,
    batch: int = 16,
    workers: int = 2,
    project: Path = Path("runs/train"),
    name: str = "fire-smoke",
    cache: str | bool = "ram",
    fraction: float = 1.0,
    seed: int = 0,
    threads: int | None = None,
    patience: int = 100,
    extra: dict[str, object] | None = None,
) -> TrainResult:
    """Train on ``data`` (YOLO dataset YAML) starting from ``base``; returns the run's weights.

    ``base`` is either an ultralytics ``.pt`` checkpoint or a plain state dict for
    ``yolov5nu.yaml`` (converted with :func:`build_base_checkpoint`); None trains from scratch.
    Call :func:`burnwatch.training.offline.prepare_offline` first.
    """
    check_dataset_yaml(data)
    from burnwatch._torchcompat import install as _compat

    _compat()  # CPU torchvision ops before torchvision/ultralytics load
    import torch
    from ultralytics import YOLO

    from burnwatch.training.offline import thread_callback

    project = project.resolve()
    model_src: str = ARCH
    if base is not None:
        if not base.is_file():
            raise ModelError("base weights not found", path=base)
        ckpt = torch.load(base, map_location="cpu", weights_only=False)
        if isinstance(ckpt, dict) and "model" in ckpt:
            model_src = str(base)
        else:
            conv = build_base_checkpoint(base, project / f"{name}-base.pt")
            log.info("converted %s: %d/%d tensors", base, conv.loaded, conv.total)
            model_src = str(conv.path)
    model = YOLO(model_src, task="detect")
    model.add_callback("on_train_start", thread_callback(threads))
    args: dict[str, object] = dict(
        data=str(resolve_dataset_yaml(data, project / name)), epochs=epochs, imgsz=imgsz,
        batch=batch, workers=workers,
        project=str(project), name=name, exist_ok=True, device="cpu", cache=cache,
        fraction=fraction, seed=seed, deterministic=False, amp=False, plots=False,
        patience=patience, verbose=False, val=True,
    )
    args.update(extra or {})
    t0 = time.perf_counter()
    model.train(**args)
    seconds = time.perf_counter() - t0
    trainer = model.trainer
    if trainer is None:  # pragma: no cover - ultralytics always sets it
        raise ModelError("ultralytics returned no trainer")
    run_dir = Path(trainer.save_dir)
    return TrainResult(run_dir, Path(trainer.best), Path(trainer.last), seconds)
