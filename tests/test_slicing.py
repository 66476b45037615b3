"""Sliced inference: windows, NMS, and merging of boxes cut by tile seams (deterministic fake)."""

from __future__ import annotations

import numpy as np
import pytest

from burnwatch.detect import slicing
from burnwatch.detect.yolo import sliced_detect


def red_blob_detector(tile: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fake raw detector: one 'fire' box per connected pure-red region of the tile."""
    import cv2

    mask = ((tile[..., 0] > 200) & (tile[..., 1] < 50)).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    boxes = [[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:n]]
    return (np.asarray(boxes, np.float64).reshape(-1, 4), np.full(len(boxes), 0.9),
            np.zeros(len(boxes), np.int64))


def test_windows_cover_the_image_and_stay_inside() -> None:
    wins = slicing.tile_windows(3000, 4000, 640, 0.2)
    cover = np.zeros((3000, 4000), bool)
    for x0, y0, x1, y1 in wins:
        assert 0 <= x0 < x1 <= 4000 and 0 <= y0 < y1 <= 3000
        assert x1 - x0 == 640 and y1 - y0 == 640
        cover[y0:y1, x0:x1] = True
    assert cover.all()
    assert slicing.tile_windows(100, 200, 640) == [(0, 0, 200, 100)]
    with pytest.raises(ValueError):
        slicing.tile_windows(10, 10, 640, 1.0)


def test_nms_keeps_best_of_overlapping_and_separates_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10.]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert slicing.nms(boxes, scores, 0.5).tolist() == [0, 2]
    classes = np.array([0, 0, 0, 1])
    assert sorted(slicing.batched_nms(boxes, scores, classes, 0.5).tolist()) == [0, 2, 3]


def test_box_straddling_a_seam_comes_out_as_one_box() -> None:
    img = np.zeros((600, 1000, 3), np.uint8)
    # windows of 400 px with 20 % overlap start at 0, 320, 600: seams at x=400 and x=320 etc.
    img[100:180, 360:470, 0] = 255  # straddles x=400 (end of the first tile)
    img[400:450, 50:90, 0] = 255  # inside one tile only
    dets = sliced_detect(red_blob_detector, img, tile=400, overlap=0.2, names=["fire", "smoke"],
                         select="all")
    boxes = sorted((round(d.box.x1), round(d.box.y1), round(d.box.x2), round(d.box.y2))
                   for d in dets)
    assert boxes == [(50, 400, 90, 450), (360, 100, 470, 180)]


def test_fire_spanning_four_tiles_is_merged_transitively() -> None:
    img = np.zeros((700, 700, 3), np.uint8)
    img[250:450, 250:450, 0] = 255  # around the centre: cut by both seams
    dets = sliced_detect(red_blob_detector, img, tile=300, overlap=0.1, names=["fire", "smoke"],
                         select="all")
    assert len(dets) == 1
    b = dets[0].box
    assert (b.x1, b.y1, b.x2, b.y2) == (250, 250, 450, 450)


def test_separate_fires_either_side_of_a_seam_stay_separate() -> None:
    img = np.zeros((400, 800, 3), np.uint8)
    img[100:150, 330:380, 0] = 255
    img[250:300, 420:470, 0] = 255  # different rows: no overlap along the seam
    dets = sliced_detect(red_blob_detector, img, tile=400, overlap=0.0, names=["fire", "smoke"],
                         select="all")
    assert len(dets) == 2


def test_candidate_selection_skips_empty_tiles() -> None:
    calls: list[tuple[int, int]] = []

    def counting(tile: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        calls.append(tile.shape[:2])
        return red_blob_detector(tile)

    img = np.full((1200, 1600, 3), 90, np.uint8)
    img[500:540, 700:760] = (255, 20, 0)
    dets = sliced_detect(counting, img, tile=400, overlap=0.2, names=["fire", "smoke"],
                         select="candidates")
    n_windows = len(slicing.tile_windows(1200, 1600, 400, 0.2))
    assert 0 < len(calls) < n_windows
    assert [(d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d in dets] == [(700, 500, 760, 540)]


def test_whole_frame_pass_keeps_large_object_whole() -> None:
    img = np.zeros((800, 800, 3), np.uint8)

    def tiles_see_fragments(tile: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return red_blob_detector(tile)

    img[100:700, 100:700, 0] = 255

    def coarse(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.array([[100., 100., 700., 700.]]), np.array([0.95]), np.array([0])

    dets = sliced_detect(tiles_see_fragments, img, 300, 0.2, ["fire", "smoke"], select="all",
                         coarse=coarse)
    assert len(dets) == 1
    assert dets[0].score == pytest.approx(0.95)


def test_no_box_below_conf_from_the_whole_frame_pass() -> None:
    img = np.full((800, 800, 3), 90, np.uint8)

    def tiles(tile: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.array([[10., 10., 40., 40.]]), np.array([0.7]), np.array([0])

    def coarse(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        boxes = np.array([[100., 100., 700., 700.], [300., 300., 360., 360.]])
        return boxes, np.array([0.3, 0.12]), np.array([1, 0])

    for select in ("all", "candidates"):
        dets = sliced_detect(tiles, img, 300, 0.2, ["fire", "smoke"], select=select,  # type: ignore[arg-type]
                             coarse=coarse, conf=0.6)
        assert dets and min(d.score for d in dets) >= 0.6
        assert {d.class_name for d in dets} == {"fire"}


def test_detector_sliced_honours_its_conf_with_a_fake_model() -> None:
    """A fake network that always sees a weak (0.3) smoke and a strong (0.8) fire box."""
    from burnwatch.detect.yolo import Detector

    def run_batch(batch: np.ndarray) -> np.ndarray:
        out = np.zeros((1, 6, 2), np.float32)
        out[0, :4, 0] = (160, 160, 200, 200)  # cx, cy, w, h in model pixels
        out[0, 4:, 0] = (0.0, 0.3)
        out[0, :4, 1] = (60, 60, 30, 30)
        out[0, 4:, 1] = (0.8, 0.0)
        return out

    det = Detector(run_batch, imgsz=320, conf=0.6)
    img = np.full((960, 960, 3), 90, np.uint8)
    for select in ("all", "candidates"):
        dets = det.detect_sliced(img, select=select)  # type: ignore[arg-type]
        assert dets and all(d.score >= 0.6 for d in dets), [(d.class_name, d.score) for d in dets]
    assert [d.class_name for d in det.detect_sliced(img, conf=0.9)] == []
    low = det.detect_sliced(img, conf=0.2)
    assert {d.class_name for d in low} == {"fire", "smoke"}
