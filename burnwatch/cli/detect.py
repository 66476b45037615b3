"""``burnwatch detect``: fire/smoke detection on photos, writing JSON and annotated previews."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import click

from burnwatch.types import Detection

COLOURS = {"fire": (255, 60, 0), "smoke": (0, 200, 255)}


def detections_record(path: Path, width: int, height: int, dets: list[Detection]) -> dict[str, Any]:
    """The JSON record for one image (pixel boxes x1, y1, x2, y2; x right, y down)."""
    return {"file": str(path), "width": width, "height": height,
            "detections": [{"class": d.class_name, "class_id": d.class_id,
                            "score": round(d.score, 4),
                            "box": [round(d.box.x1, 1), round(d.box.y1, 1),
                                    round(d.box.x2, 1), round(d.box.y2, 1)]} for d in dets]}


def write_preview(image: Any, dets: list[Detection], out: Path, max_side: int = 1600) -> Path:
    """Annotated JPEG preview, downscaled so its longer side is at most ``max_side`` px."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image)
    scale = min(1.0, max_side / max(im.size))
    if scale < 1:
        im = im.resize((round(im.width * scale), round(im.height * scale)))
    draw = ImageDraw.Draw(im)
    for d in dets:
        col = COLOURS.get(d.class_name, (255, 255, 0))
        box = [d.box.x1 * scale, d.box.y1 * scale, d.box.x2 * scale, d.box.y2 * scale]
        draw.rectangle(box, outline=col, width=3)
        draw.text((box[0] + 3, max(box[1] - 12, 0)), f"{d.class_name} {d.score:.2f}", fill=col)
    im.save(out, quality=85)
    return out


def backend_for(weights: Path | None, backend: str | None) -> Literal["onnx", "torch"]:
    """The backend asked for, else the one the weights' suffix implies (``.pt``: torch)."""
    if backend in ("onnx", "torch"):
        return "onnx" if backend == "onnx" else "torch"
    return "torch" if weights is not None and weights.suffix.lower() == ".pt" else "onnx"


def preview_name(path: Path) -> str:
    """Preview file name for ``path``: its full name kept (``ok.jpg`` -> ``ok.jpg.preview.jpg``),
    so ``ok.jpg``, ``ok.png`` and ``ok.webp`` in one folder get three previews."""
    return f"{path.name}.preview.jpg"


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Output folder for detections.json and previews.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Model file; default: the shipped ONNX model (sha256-checked).")
@click.option("--backend", type=click.Choice(["onnx", "torch"]), default=None,
              help="Default: from the weights' suffix (.pt: torch, else onnx).")
@click.option("--conf", type=click.FloatRange(0, 1), default=0.25, show_default=True)
@click.option("--sliced/--no-sliced", default=True, show_default=True,
              help="Tile images larger than the model input (drone photos).")
@click.option("--all-tiles", is_flag=True,
              help="Run every tile (slower) instead of only tiles with candidates.")
@click.option("--previews/--no-previews", default=True, show_default=True)
def detect(source: Path, out_dir: Path, weights: Path | None, backend: str | None, conf: float,
           sliced: bool, all_tiles: bool, previews: bool) -> None:
    """Detect fire and smoke in IMAGE_OR_DIR; writes OUT/detections.json and a preview per
    image, OUT/<file name>.preview.jpg (photo.jpg -> photo.jpg.preview.jpg).

    Unreadable files are reported and skipped; the exit code is non-zero only when no image
    could be processed.
    """
    from burnwatch.detect.imageio import is_image_path, read_rgb
    from burnwatch.detect.yolo import Detector
    from burnwatch.errors import BurnwatchError

    files = [source] if source.is_file() else sorted(
        p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    if source.is_dir():
        files = [p for p in files if is_image_path(p)] + [
            p for p in files if not is_image_path(p)]
    det = Detector.load(weights, backend=backend_for(weights, backend), conf=conf)
    out_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    with click.progressbar(files, label="detecting", file=None) as bar:
        for path in bar:
            try:
                image = read_rgb(path)
                h, w = image.shape[:2]
                if sliced and max(h, w) > det.imgsz * 1.5:
                    dets = det.detect_sliced(image, select="all" if all_tiles else "candidates")
                else:
                    dets = det.detect(image)
                record = detections_record(path, w, h, dets)
                if previews:
                    record["preview"] = write_preview(image, dets, out_dir / preview_name(path)).name
                records.append(record)
            except BurnwatchError as exc:
                errors.append({"file": str(path), "error": exc.message})
    (out_dir / "detections.json").write_text(json.dumps(
        {"model": str(det.weights), "backend": det.backend, "images": records,
         "errors": errors}, indent=2) + "\n")
    for e in errors:
        click.echo(f"error: {e['error']}", err=True)
    n = sum(len(r["detections"]) for r in records)
    click.echo(f"{len(records)} image(s) processed, {n} detection(s), {len(errors)} error(s); "
               f"wrote {out_dir / 'detections.json'}")
    if not records:
        raise SystemExit(1)
