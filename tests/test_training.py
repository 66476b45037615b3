"""Training pipeline: offline one-epoch run, synthetic composites, COCO-style evaluation."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from burnwatch.training import evaluate as ev
from burnwatch.training import synthetic as syn


def _tiny_dataset(root: Path, n: int = 8, size: int = 96) -> Path:
    syn.write_synthetic(root, n, size, seed=5)
    data = root / "data.yaml"
    data.write_text(
        yaml.safe_dump(
            {
                "path": str(root),
                "train": "images/train",
                "val": "images/train",
                "names": {0: "fire", 1: "smoke"},
            }
        )
    )
    return data


def test_synthetic_boxes_are_the_visible_alpha() -> None:
    alpha = np.zeros((50, 60), np.float32)
    alpha[10:20, 30:45] = 0.9
    alpha[5, 5] = 0.1  # below threshold: invisible
    box = syn._box_from_alpha(alpha, syn.FIRE, x0=100, y0=200)
    assert box == syn.LabeledBox(0, 130, 210, 145, 220)
    assert box.yolo(200, 400) == "0 0.687500 0.537500 0.075000 0.025000"


def test_composite_labels_cover_drawn_flames_and_smoke() -> None:
    rng = np.random.default_rng(3)
    bg = syn.paddy_background(256, rng)
    img, boxes = syn.composite(bg, rng, n_fires=2, smoke_prob=1.0)
    assert img.shape == bg.shape and img.dtype == np.uint8
    fires = [b for b in boxes if b.class_id == syn.FIRE]
    assert len(fires) == 2 and any(b.class_id == syn.SMOKE for b in boxes)
    changed = np.abs(img.astype(int) - bg.astype(int)).sum(-1) > 30
    for b in fires:
        assert 0 <= b.x1 < b.x2 <= 256 and 0 <= b.y1 < b.y2 <= 256
        assert changed[b.y1 : b.y2, b.x1 : b.x2].mean() > 0.3  # the flame is really there
        patch = img[b.y1 : b.y2, b.x1 : b.x2].astype(int)
        assert ((patch[..., 0] > 180) & (patch[..., 0] > patch[..., 2] + 60)).any()


def test_write_synthetic_writes_matching_yolo_labels(tmp_path: Path) -> None:
    img_dir = syn.write_synthetic(tmp_path, 4, 128, seed=1)
    images = sorted(img_dir.glob("*.jpg"))
    assert len(images) == 4
    for im in images:
        lines = (tmp_path / "labels" / "train" / f"{im.stem}.txt").read_text().split("\n")
        rows = [ln.split() for ln in lines if ln]
        assert rows, "every composite holds at least one labelled object"
        for r in rows:
            assert r[0] in {"0", "1"} and all(0 <= float(v) <= 1 for v in r[1:])


def test_ap_matches_hand_computed_value() -> None:
    gt = (np.array([0, 0]), np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]]))
    # ranked: TP (0.9), FP (0.8), TP (0.7) -> precision 1, 1/2, 2/3 at recall .5, .5, 1
    pred = (
        np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30.0]]),
        np.array([0.9, 0.8, 0.7]),
        np.array([0, 0, 0]),
    )
    res = ev.evaluate_predictions([(pred, gt)], ["fire", "smoke"], conf=0.75)
    fire = res.classes[0]
    expected = (51 * 1.0 + 50 * (2 / 3)) / 101  # 101-point interpolation
    assert fire.ap50 == pytest.approx(expected)
    assert fire.ap50_95 == pytest.approx(expected)  # exact boxes match at every IoU
    assert fire.precision == pytest.approx(0.5) and fire.recall == pytest.approx(0.5)
    assert res.map50 == pytest.approx(expected)  # smoke has no ground truth: not averaged
    assert res.classes[1].instances == 0


def test_ap_iou_thresholds_and_duplicates() -> None:
    gt = (np.array([0]), np.array([[0, 0, 10, 10.0]]))
    # IoU of [0,0,10,8] with gt = 0.8: TP at 0.50..0.80 (7 thresholds), miss above
    pred = (np.array([[0, 0, 10, 8.0], [0, 0, 10, 8.0]]), np.array([0.9, 0.5]), np.array([0, 0]))
    res = ev.evaluate_predictions([(pred, gt)], ["fire", "smoke"])
    assert res.classes[0].ap50 == pytest.approx(1.0)  # duplicate ranks below the TP
    assert res.classes[0].ap50_95 == pytest.approx(0.7)


def _label_dataset(root: Path, split: str) -> Path:
    img_dir = root / "images" / split
    syn.write_synthetic(root, 3, 160, seed=9)
    (root / "images" / "train").rename(img_dir)
    (root / "labels" / "train").rename(root / "labels" / split)
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: fire\n  1: smoke\n"
    )
    return root


def test_evaluate_dataset_with_known_predictor_finds_test_split(tmp_path: Path) -> None:
    root = _label_dataset(tmp_path, "test")
    name, img_dir, lab_dir, names = ev.find_split(root)
    assert name == "test" and names == ["fire", "smoke"]

    def oracle(image: np.ndarray) -> ev.Arrays:
        # perfect predictor reads the labels of the image with this exact content
        for f in sorted(img_dir.iterdir()):
            from burnwatch.detect.imageio import read_rgb

            if np.array_equal(read_rgb(f), image):
                c, b = ev.read_labels(lab_dir / f"{f.stem}.txt", image.shape[1], image.shape[0])
                return b, np.linspace(0.9, 0.8, len(c)), c
        raise AssertionError("unknown image")

    res = ev.evaluate_dataset(oracle, root)
    assert res.images == 3 and res.map50 == pytest.approx(1.0) and res.map50_95 == pytest.approx(1.0)
    assert "fire" in res.table()


def test_bad_label_line_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.txt"
    bad.write_text("0 0.5 0.5 0.1\n")
    from burnwatch.errors import InputError

    with pytest.raises(InputError, match=r"x\.txt: line 1"):
        ev.read_labels(bad, 10, 10)


def _nothing(image: np.ndarray) -> ev.Arrays:
    return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)


def _strict_json(text: str) -> Any:
    import json

    def refuse(name: str) -> None:
        raise AssertionError(f"invalid JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_out_of_range_class_id_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    from burnwatch.errors import InputError

    root = _label_dataset(tmp_path, "val")
    label = sorted((root / "labels" / "val").glob("*.txt"))[1]
    label.write_text("0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.2 0.2\n")
    with pytest.raises(InputError, match=rf"{label.name}: line 2: class id 7 is not one of the dataset's 2"):
        ev.evaluate_dataset(_nothing, root)
    label.write_text("-1 0.5 0.5 0.2 0.2\n")
    with pytest.raises(InputError, match=rf"{label.name}: line 1: class id -1"):
        ev.evaluate_dataset(_nothing, root)


def test_missing_labels_folder_or_no_ground_truth_is_an_error(tmp_path: Path) -> None:
    import shutil

    from burnwatch.errors import InputError

    root = _label_dataset(tmp_path, "val")
    labels = root / "labels" / "val"
    for f in labels.glob("*.txt"):
        f.write_text("")
    with pytest.raises(InputError, match=r"labels.val: no ground-truth boxes"):
        ev.evaluate_dataset(_nothing, root)
    shutil.rmtree(labels)
    with pytest.raises(InputError, match=r"labels.val: labels folder not found"):
        ev.evaluate_dataset(_nothing, root)


def test_metrics_json_has_null_not_nan(tmp_path: Path) -> None:
    root = _label_dataset(tmp_path, "val")
    for f in (root / "labels" / "val").glob("*.txt"):  # fire only: smoke has no ground truth
        f.write_text("0 0.5 0.5 0.2 0.2\n")
    res = ev.evaluate_dataset(_nothing, root)
    smoke = _strict_json(ev.write_json(res, tmp_path / "m.json").read_text())["classes"]["smoke"]
    assert smoke["recall"] is None and smoke["ap50"] is None and smoke["instances"] == 0
    assert " - " in res.table() and "nan" not in res.table()


def test_unreadable_image_is_skipped_and_listed(tmp_path: Path) -> None:
    from burnwatch.errors import InputError

    root = _label_dataset(tmp_path, "val")
    images = sorted((root / "images" / "val").glob("*.jpg"))
    images[0].write_bytes(b"\xff\xd8\xff not a jpeg")
    res = ev.evaluate_dataset(_nothing, root)
    assert res.images == 2
    assert [Path(f).name for f, _ in res.skipped] == [images[0].name]
    assert images[0].name in res.skipped[0][1] and "not an image" in res.skipped[0][1]
    assert _strict_json(ev.write_json(res, tmp_path / "m.json").read_text())["skipped"][0]["file"] == str(images[0])
    for f in images:
        f.write_bytes(b"junk")
    with pytest.raises(InputError, match=r"images.val: no image could be read \(3 skipped\)"):
        ev.evaluate_dataset(_nothing, root)


def test_missing_split_folder_is_one_error_naming_it(tmp_path: Path) -> None:
    from burnwatch.errors import InputError
    from burnwatch.training.train import check_dataset_yaml

    data = _tiny_dataset(tmp_path / "d", n=2, size=64)
    check_dataset_yaml(data)
    cfg = yaml.safe_load(data.read_text())
    data.write_text(yaml.safe_dump({**cfg, "train": "images/nope"}))
    with pytest.raises(InputError, match=r"d/images/nope: train split folder not found \(from 'train' in data\.yaml\)"):
        check_dataset_yaml(data)
    data.write_text(yaml.safe_dump({**cfg, "val": ["images/train", str(tmp_path / "gone")]}))
    with pytest.raises(InputError, match=r"gone: val split folder not found"):
        check_dataset_yaml(data)
    data.write_text(yaml.safe_dump({k: v for k, v in cfg.items() if k != "val"}))
    with pytest.raises(InputError, match=r"needs 'train', 'val' and 'names'"):
        check_dataset_yaml(data)


def test_model_train_cli_missing_train_folder_is_one_error_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from burnwatch.cli.main import cli

    (tmp_path / "images" / "val").mkdir(parents=True)
    data = tmp_path / "data.yaml"
    data.write_text("path: .\ntrain: images/nope\nval: images/val\nnames:\n  0: fire\n  1: smoke\n")
    res = CliRunner().invoke(cli, ["model", "train", "--data", str(data), "--project", str(tmp_path / "runs")])
    assert res.exit_code == 2, res.output
    assert f"Error: {tmp_path / 'images' / 'nope'}: train split folder not found" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "runs").exists()


def test_find_split_error_names_the_folders_it_looked_for(tmp_path: Path) -> None:
    from burnwatch.errors import InputError

    (tmp_path / "data.yaml").write_text("path: .\nval: images/v\nnames: [fire, smoke]\n")
    with pytest.raises(InputError, match=rf"looked for {tmp_path}/images/test, {tmp_path}/images/v\)"):
        ev.find_split(tmp_path)


@pytest.mark.slow
def test_train_one_epoch_offline_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []

    def no_network(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    for var in ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "YOLO_CONFIG_DIR", "YOLO_VERBOSE"):
        monkeypatch.setenv(var, "")
    from burnwatch.training.offline import prepare_offline

    cfg = prepare_offline(tmp_path / "yolo-config", threads=2)
    assert (cfg / "Ultralytics" / "Arial.ttf").stat().st_size > 100_000
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from burnwatch.training.train import build_base_checkpoint, train

    sd_path = tmp_path / "base-sd.pt"
    torch.save(DetectionModel("yolov5nu.yaml", nc=80, verbose=False).state_dict(), sd_path)
    base = build_base_checkpoint(sd_path, tmp_path / "base.pt")
    assert base.loaded > 300 and base.total > base.loaded  # head (nc=80 vs 2) not transferred

    data = _tiny_dataset(tmp_path / "data")
    result = train(
        data,
        sd_path,
        epochs=1,
        imgsz=64,
        batch=4,
        workers=0,
        project=tmp_path / "runs",
        name="tiny",
        cache=False,
    )
    assert result.best.is_file() and result.last.is_file()
    assert (result.run_dir / "results.csv").is_file()
    assert attempts == []
    assert result.seconds > 0
