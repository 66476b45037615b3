"""Train the shipped fire/smoke detector: a baseline on the real data and a run with synthetic
aerial composites added, same schedule; both logged under runs/train/.

    nice -n 10 .venv/bin/python scripts/train_detector.py --variant real
    nice -n 10 .venv/bin/python scripts/train_detector.py --variant synthetic --synthetic 800

Reads ../shared (allowed for scripts). See models/README.md for the runs that were shipped.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "fire-smoke" / "data.yaml"
BASE = SHARED / "weights" / "coco-yolov5nu-backbone-neck.pt"
DRONE = [SHARED / "data" / "drone" / "dji_fc300s_brighton",
         SHARED / "data" / "drone" / "dji_p4rtk_oblique" / "odm" / "images"]


def subset_yaml(data: Path, n: int, seed: int, tag: str, k: int, n_val: int | None = None
                ) -> Path:
    """A dataset YAML whose train list is ``n`` random real images (+ ``k`` synthetic ones)."""
    import random

    import yaml

    cfg = yaml.safe_load(data.read_text())
    root = Path(cfg["path"]) if Path(str(cfg["path"])).is_absolute() else data.parent
    trains = cfg["train"] if isinstance(cfg["train"], list) else [cfg["train"]]
    real_dir = DATA.parent / "images" / "train"
    real = sorted(real_dir.iterdir())
    chosen = random.Random(seed).sample(real, n)
    extra = [p for t in trains if Path(root, t).resolve() != real_dir.resolve()
             for p in sorted(Path(root, t).iterdir())]
    extra = random.Random(seed + 1).sample(extra, min(k, len(extra)))
    out = ROOT / "runs" / f"subset-{tag}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.txt").write_text("".join(f"{p}\n" for p in chosen + extra))
    val: str = str(DATA.parent / "images" / "val")
    if n_val:
        vals = random.Random(seed + 2).sample(sorted(Path(val).iterdir()), n_val)
        (out / "val.txt").write_text("".join(f"{p}\n" for p in sorted(vals)))
        val = str(out / "val.txt")
    cfg.update(path=str(out), train=str(out / "train.txt"), val=val)
    (out / "data.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out / "data.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--variant", choices=["real", "synthetic"], required=True)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--synthetic", type=int, default=800, help="synthetic images to add")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--equal-epochs", action="store_true",
                    help="sample the train list so an epoch has as many images as the real split")
    ap.add_argument("--final-val-only", action="store_true",
                    help="validate only after the last epoch (saves CPU)")
    ap.add_argument("--hours", type=float, default=None,
                    help="wall-clock budget; ultralytics refits the epoch count/LR schedule to it")
    ap.add_argument("--fraction", type=float, default=None, help="use this fraction of train")
    ap.add_argument("--name", default=None, help="run name (default fire-smoke-VARIANT)")
    ap.add_argument("--subset", type=int, default=None,
                    help="train on a random subset of this many real images (ablation runs)")
    ap.add_argument("--val-subset", type=int, default=None,
                    help="with --subset: validate on this many random val images (same seed)")
    ap.add_argument("--prepare-only", action="store_true", help="write the synthetic set, exit")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)

    from burnwatch.training.offline import prepare_offline

    prepare_offline(ROOT / ".yolo")
    from burnwatch.training.train import train

    data = DATA
    fraction = 1.0
    if args.variant == "synthetic":
        from burnwatch.training.synthetic import build_augmented_dataset

        backgrounds = [p for d in DRONE for p in sorted(d.iterdir())
                       if p.suffix.lower() in {".jpg", ".jpeg", ".tif", ".tiff"}]
        data = build_augmented_dataset(DATA, ROOT / "runs" / "synthetic-data",
                                       n=args.synthetic, backgrounds=backgrounds,
                                       size=max(args.imgsz, 320) * 2, seed=args.seed,
                                       reuse=True)
        if args.prepare_only:
            return
        if args.equal_epochs:
            n_real = sum(1 for _ in (DATA.parent / "images" / "train").iterdir())
            fraction = n_real / (n_real + args.synthetic)
    if args.subset:
        k = round(args.subset * args.synthetic / 3314) if args.variant == "synthetic" else 0
        data = subset_yaml(data, args.subset, args.seed, args.name or args.variant, k,
                           args.val_subset)
    extra: dict[str, object] = {"close_mosaic": 2, "warmup_epochs": 1.0}
    if args.final_val_only:
        extra["val"] = False
    if args.hours:
        extra["time"] = args.hours
    if args.fraction:
        fraction = args.fraction
    result = train(data, BASE, epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
                   name=args.name or f"fire-smoke-{args.variant}", project=ROOT / "runs" / "train",
                   seed=args.seed, fraction=fraction, extra=extra)
    summary = {"variant": args.variant, "hours": args.hours, "epochs": args.epochs, "imgsz": args.imgsz,
               "batch": args.batch, "synthetic": args.synthetic if args.variant == "synthetic" else 0,
               "fraction": fraction, "seconds": round(result.seconds, 1), "best": str(result.best),
               "run_dir": str(result.run_dir)}
    (result.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
