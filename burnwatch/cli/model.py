"""``burnwatch model``: train, evaluate and export the fire/smoke YOLO detector (offline, CPU)."""

from __future__ import annotations

from pathlib import Path

import click

IMAGE_DIRS_HELP = "Folder of aerial/nadir background photos for synthetic composites (repeatable)."


@click.group()
def model() -> None:
    """Train, evaluate and export the fire/smoke detector."""


@model.command()
@click.option("--data", "data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="YOLO dataset YAML (names 0: fire, 1: smoke).")
@click.option("--base", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Starting weights: ultralytics .pt or a plain yolov5nu state dict.")
@click.option("--epochs", type=click.IntRange(1), default=6, show_default=True)
@click.option("--imgsz", type=click.IntRange(32), default=320, show_default=True,
              help="Training image size (pixels, multiple of 32).")
@click.option("--batch", type=click.IntRange(1), default=16, show_default=True)
@click.option("--workers", type=click.IntRange(0), default=2, show_default=True)
@click.option("--synthetic", type=click.IntRange(0), default=0, show_default=True,
              help="Add this many synthetic aerial flame/smoke composites to the train split.")
@click.option("--backgrounds", type=click.Path(exists=True, file_okay=False, path_type=Path),
              multiple=True, help=IMAGE_DIRS_HELP)
@click.option("--project", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/train"), show_default=True, help="Where runs are written.")
@click.option("--name", default="fire-smoke", show_default=True, help="Run name.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--cache/--no-cache", default=True, show_default=True, help="Cache images in RAM.")
@click.option("--hours", type=click.FloatRange(0, min_open=True), default=None,
              help="Wall-clock budget; ultralytics re-fits the epoch count and LR schedule to it.")
@click.option("--final-val-only", is_flag=True, help="Validate only after the last epoch.")
def train(data: Path, base: Path | None, epochs: int, imgsz: int, batch: int, workers: int,
          synthetic: int, backgrounds: tuple[Path, ...], project: Path, name: str, seed: int,
          cache: bool, hours: float | None, final_val_only: bool) -> None:
    """Train the detector with ultralytics, fully offline (no network access is attempted)."""
    from burnwatch.detect.imageio import is_image_path
    from burnwatch.training.offline import prepare_offline
    from burnwatch.training.train import check_dataset_yaml

    check_dataset_yaml(data)  # before ultralytics: one clear error naming a missing split folder
    prepare_offline()
    from burnwatch.training.train import train as run_train

    if synthetic:
        from burnwatch.training.synthetic import build_augmented_dataset

        bgs = [p for d in backgrounds for p in sorted(d.iterdir()) if is_image_path(p)]
        click.echo(f"writing {synthetic} synthetic composites ({len(bgs)} background photos)")
        data = build_augmented_dataset(data, project / f"{name}-synthetic", synthetic, bgs,
                                       size=max(imgsz, 320) * 2, seed=seed)
    click.echo(f"training {epochs} epochs at {imgsz}px from {base or 'scratch'} ...")
    extra: dict[str, object] = {"close_mosaic": 2, "warmup_epochs": 1.0}
    if hours:
        extra["time"] = hours
    if final_val_only:
        extra["val"] = False
    result = run_train(data, base, epochs=epochs, imgsz=imgsz, batch=batch, workers=workers,
                       project=project, name=name, seed=seed, cache="ram" if cache else False,
                       extra=extra)
    click.echo(f"done in {result.seconds / 60:.1f} min; best weights: {result.best}")


@model.command(name="eval")
@click.option("--data", "data", type=click.Path(exists=True, path_type=Path), required=True,
              help="Dataset YAML or the folder holding data.yaml.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model file (.onnx or .pt); default: the shipped ONNX model.")
@click.option("--split", type=click.Choice(["test", "val"]), default=None,
              help="Split to score; default: test if present, else val.")
@click.option("--backend", type=click.Choice(["onnx", "torch"]), default=None,
              help="Default: from the weights' suffix (onnx for the shipped model).")
@click.option("--imgsz", type=click.IntRange(32), default=None,
              help="Inference size; default: the model's training size.")
@click.option("--conf", type=click.FloatRange(0, 1), default=0.25, show_default=True,
              help="Operating confidence for precision/recall (AP uses all scores).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the metrics to this JSON file.")
def eval_cmd(data: Path, weights: Path | None, split: str | None, backend: str | None,
             imgsz: int | None, conf: float, json_out: Path | None) -> None:
    """Per-class precision, recall, AP50, AP50-95 and mAP50 on a YOLO-format dataset."""
    from burnwatch.cli.detect import backend_for
    from burnwatch.detect.yolo import Detector
    from burnwatch.training.evaluate import evaluate_dataset, find_split, write_json

    det = Detector.load(weights, backend=backend_for(weights, backend), conf=0.001, iou=0.6,
                        imgsz=imgsz)
    split_name, img_dir, _, _ = find_split(data, split)
    n = sum(1 for _ in img_dir.iterdir())
    with click.progressbar(length=n, label=f"scoring {split_name} ({det.backend})") as bar:

        def progress(files):  # type: ignore[no-untyped-def]
            for f in files:
                yield f
                bar.update(1)

        result = evaluate_dataset(lambda img: det.raw(img), data, split_name, conf, progress)
    for _, problem in result.skipped:
        click.echo(f"warning: skipped {problem}", err=True)
    click.echo(result.table())
    if result.skipped:
        click.echo(f"{len(result.skipped)} unreadable image(s) skipped; "
                   f"metrics are over the {result.images} scored")
    if json_out:
        write_json(result, json_out)
        click.echo(f"wrote {json_out}")


@model.command()
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Trained ultralytics checkpoint (best.pt).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("models"), show_default=True)
@click.option("--name", default="fire-smoke-yolov5nu", show_default=True)
@click.option("--imgsz", type=click.IntRange(32), default=320, show_default=True,
              help="Default inference size recorded in the manifest (the training size).")
@click.option("--simplify/--no-simplify", default=True, show_default=True,
              help="Simplify the ONNX graph with onnxslim.")
def export(weights: Path, out_dir: Path, name: str, imgsz: int, simplify: bool) -> None:
    """Export to ONNX (dynamic H/W), strip the .pt, and record sha256 in manifest.json."""
    from burnwatch.training.offline import prepare_offline

    prepare_offline()
    from burnwatch.training.export import export_onnx, strip_checkpoint, write_manifest
    from burnwatch.training.train import CLASS_NAMES

    onnx = export_onnx(weights, out_dir / f"{name}.onnx", imgsz, simplify=simplify)
    pt = strip_checkpoint(weights, out_dir / f"{name}.pt")
    manifest = write_manifest(out_dir, [onnx, pt], {
        "imgsz": imgsz, "names": CLASS_NAMES, "architecture": "yolov5nu", "opset": 17})
    for f in (onnx, pt, manifest):
        click.echo(f"wrote {f} ({f.stat().st_size / 1e6:.1f} MB)")
