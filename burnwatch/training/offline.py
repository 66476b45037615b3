"""Offline set-up for ultralytics: no downloads, no telemetry, a local font, all CPU threads.

ultralytics reaches for the network in several places (settings sync, font download for plots,
AMP check weights, auto-install of missing packages). :func:`prepare_offline` sets the
environment variables that switch those off and puts a TrueType font where ultralytics looks for
``Arial.ttf``, copied from matplotlib's bundled DejaVuSans. It must run before ultralytics is
imported; it is called explicitly by the training/export commands, never at import time.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from burnwatch.errors import ModelError

#: Fonts ultralytics may try to fetch; all get the same local DejaVuSans copy.
_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def default_config_dir() -> Path:
    """Project-local ultralytics config dir (``.yolo/`` under the current directory)."""
    return Path.cwd() / ".yolo"


def prepare_offline(config_dir: Path | None = None, threads: int | None = None) -> Path:
    """Configure ultralytics for offline use; returns the config directory used.

    Sets ``YOLO_OFFLINE=1``, ``YOLO_AUTOINSTALL=0``, ``YOLO_CONFIG_DIR`` and places a local font
    in ``$YOLO_CONFIG_DIR/Ultralytics/``. ``threads`` (default: all cores) sets torch's intra-op
    thread count. If ultralytics was already imported with a different config dir the settings
    object is not re-read; call this first.
    """
    cfg = (config_dir or default_config_dir()).resolve()
    font_dir = cfg / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ["YOLO_CONFIG_DIR"] = str(cfg)
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("WANDB_MODE", "disabled")
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise ModelError(f"matplotlib is needed for the offline font: {exc}") from exc
    src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    if not src.is_file():
        raise ModelError("bundled DejaVuSans.ttf not found", path=src)
    targets = [font_dir]
    loaded = sys.modules.get("ultralytics.utils")
    if loaded is not None:
        # ultralytics fixed its config dir when it was imported; put the font there too
        targets.append(Path(loaded.USER_CONFIG_DIR))
    for target in targets:
        target.mkdir(parents=True, exist_ok=True)
        for name in _FONT_NAMES:
            dst = target / name
            if not dst.is_file():
                shutil.copyfile(src, dst)
    from burnwatch._torchcompat import install as _compat

    _compat()  # CPU torchvision ops before torchvision/ultralytics load
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)
    _disable_settings_sync()
    return cfg


def _disable_settings_sync() -> None:
    """Turn off ultralytics' hub sync/telemetry in its settings file (local, offline)."""
    from ultralytics.utils import SETTINGS

    wanted = {"sync": False, "wandb": False, "tensorboard": False, "mlflow": False,
              "comet": False, "clearml": False, "dvc": False, "neptune": False,
              "raytune": False, "vscode_msg": False, "openvino_msg": False}
    changes = {k: v for k, v in wanted.items() if k in SETTINGS and SETTINGS[k] != v}
    if changes:
        SETTINGS.update(changes)


def thread_callback(threads: int | None = None) -> object:
    """An ``on_train_start`` callback that sets torch's thread count (ultralytics resets it)."""

    def _cb(trainer: object) -> None:
        import torch

        torch.set_num_threads(threads or os.cpu_count() or 1)

    return _cb
