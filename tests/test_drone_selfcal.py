"""In-flight self-calibration (burnwatch.georef.selfcal inside burnwatch.georef.refine).

Eight oblique photos (pitch -60° from 100 m and -45° from 60 m above a flat textured ground,
eight headings, RTK centres) are rendered by the independent look-at camera of
``drone_synth`` with a TRUE focal length and principal point that differ from the photos'
calibration tags by plausible amounts (+0.8 %, +4 / -3 px), and with gimbal tags off by 1–2°.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from drone_synth import GroundTexture, ShotSpec, offset_lonlat, render_textured, write_photo
from PIL import Image

from burnwatch.flights.place import sigma_for
from burnwatch.georef.camera import Camera, FlatGround, Intrinsics, Pose, PoseSigma
from burnwatch.georef.refine import RefinePhoto, refine_attitudes
from burnwatch.georef.selfcal import CalibParams, apply_delta, camera_groups, coverage_cells
from burnwatch.georef.tiepoints import extract_features
from burnwatch.sources.drone_meta import intrinsics_from_meta, read_photo_meta

LON, LAT, H = 105.9, 20.7, 5.0
CRS = "EPSG:32648"
TAG_F = 916.0
TRUE_F = TAG_F * 1.008
TRUE_PP = (4.0, -3.0)
#: east, north offset (m), height above ground (m), true yaw, true pitch, tag yaw / pitch error (deg):
#: a convergent block at two heights and eight headings (what self-calibration needs)
LAYOUT = [
    (-20, -20, 100.0, 0.0, -60.0, 1.5, 1.0),
    (-20, 20, 100.0, 90.0, -60.0, -1.0, -1.2),
    (20, 20, 100.0, 180.0, -60.0, 2.0, 0.8),
    (20, -20, 100.0, 270.0, -60.0, -1.5, -0.5),
    (0, -40, 60.0, 45.0, -45.0, 1.0, -1.0),
    (-40, 0, 60.0, 135.0, -45.0, -1.5, 0.5),
    (0, 40, 60.0, 225.0, -45.0, 0.5, 1.0),
    (40, 0, 60.0, 315.0, -45.0, -1.0, -0.8),
]


@dataclass
class Shot:
    true_camera: Camera
    photo: RefinePhoto


def _shot(path: Path, spec: ShotSpec, rgb: np.ndarray, dyaw: float, dpitch: float) -> Shot:
    tags: dict[str, object] = {
        "GimbalYawDegree": f"{spec.yaw + dyaw:+.2f}",
        "GimbalPitchDegree": f"{spec.pitch + dpitch:+.2f}",
        "RtkStdLon": "0.01",
        "RtkStdLat": "0.01",
        "RtkStdHgt": "0.02",
        # the calibration tags: the nominal camera, not the one the photo was rendered with
        "CalibratedFocalLength": f"{TAG_F:.6f}",
        "CalibratedOpticalCenterX": f"{spec.width / 2:.6f}",
        "CalibratedOpticalCenterY": f"{spec.height / 2:.6f}",
    }
    write_photo(path, spec, rgb, extra_xmp=tags)
    m = read_photo_meta(path)
    assert m.lon is not None and m.lat is not None and m.abs_alt is not None
    assert m.camera_yaw is not None and m.gimbal_pitch is not None
    intr, _ = intrinsics_from_meta(m)
    assert intr.fx == pytest.approx(TAG_F) and intr.cx == spec.width / 2  # tags as written
    meta = Camera(intr, Pose.from_gps(m.lon, m.lat, m.abs_alt, m.camera_yaw, m.gimbal_pitch, 0.0, crs=CRS))
    true_intr = replace(
        intr,
        fx=spec.focal_px,
        fy=spec.focal_px,
        cx=intr.cx + spec.pp_offset[0],
        cy=intr.cy + spec.pp_offset[1],
    )
    true = Camera(true_intr, Pose.from_gps(m.lon, m.lat, m.abs_alt, spec.yaw, spec.pitch, 0.0, crs=CRS))
    with Image.open(path) as img:
        feats = extract_features(np.asarray(img.convert("RGB")))
    return Shot(true, RefinePhoto(m.name, meta, sigma_for(m, PoseSigma()), feats, m.model or ""))


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> list[Shot]:
    out = tmp_path_factory.mktemp("selfcal")
    tex = GroundTexture.random(LON, LAT, H)
    shots = []
    for k, (e, n, alt, yaw, pitch, dy, dp) in enumerate(LAYOUT):
        lon, lat = offset_lonlat(LON, LAT, e, n)
        spec = ShotSpec(lon, lat, H + alt, alt, yaw, pitch, focal_px=TRUE_F, pp_offset=TRUE_PP)
        shots.append(_shot(out / f"DJI_{k:04d}.JPG", spec, render_textured(spec, tex), dy, dp))
    return shots


def _worst_corner_error(cam: Camera, true: Camera) -> float:
    """Largest horizontal distance (m) between the two cameras' ground points of centre and corners."""
    u = np.array([684.0, 0.5, 1367.5, 1367.5, 0.5])
    v = np.array([456.0, 0.5, 0.5, 911.5, 911.5])
    a, _ = cam.pixel_to_ground(u, v, FlatGround(H))
    b, _ = true.pixel_to_ground(u, v, FlatGround(H))
    return float(np.hypot(*(a - b)[:, :2].T).max())


def test_self_calibration_recovers_focal_and_principal_point(flight: list[Shot]) -> None:
    photos = [s.photo for s in flight]
    plain = refine_attitudes(photos, FlatGround(H))
    res = refine_attitudes(photos, FlatGround(H), self_calibrate=CalibParams())
    assert plain.intrinsics == [] and len(res.intrinsics) == 1
    cam = res.intrinsics[0]
    assert cam.refined, cam.message
    assert {"focal", "cx", "cy"} <= set(cam.estimated)
    est = cam.intrinsics
    # truth is 0.8 % / 4 px / 3 px away from the tags; recovered to 0.4 % and 1.5 px
    assert abs(est.fx / TRUE_F - 1.0) < 0.004, (est.fx, TRUE_F)
    assert abs(est.cx - (684.0 + TRUE_PP[0])) < 1.5 and abs(est.cy - (456.0 + TRUE_PP[1])) < 1.5, est
    assert abs(est.k1) < 0.005 and abs(est.k2) < 0.005  # no distortion was rendered
    for name, sd in cam.sigma.items():
        assert sd < 0.8 * cam.prior_sigma[name]  # determined by the photos, not by the prior
    # every photo carries the refined camera
    assert all(r.refined and r.camera.intrinsics == est for r in res.photos), [r.message for r in res.photos]
    worst_plain = max(
        _worst_corner_error(r.camera, s.true_camera) for r, s in zip(plain.photos, flight, strict=True)
    )
    worst_cal = max(
        _worst_corner_error(r.camera, s.true_camera) for r, s in zip(res.photos, flight, strict=True)
    )
    assert worst_cal < 0.3 * worst_plain, (worst_plain, worst_cal)  # measured 7.7 -> 1.8 m


def test_two_photos_cannot_self_calibrate(flight: list[Shot]) -> None:
    """Two photos cannot determine the camera: the tags are kept, with the reason, and every photo
    comes out exactly as from the attitude-only refinement."""
    photos = [s.photo for s in flight[:2]]
    res = refine_attitudes(photos, FlatGround(H), self_calibrate=CalibParams())
    cam = res.intrinsics[0]
    assert not cam.refined and cam.intrinsics == flight[0].photo.camera.intrinsics
    assert "fewer than the 3 needed" in cam.message and "tags kept" in cam.message
    plain = refine_attitudes(photos, FlatGround(H))
    assert [(r.camera, r.message) for r in res.photos] == [(r.camera, r.message) for r in plain.photos]


def test_tie_points_not_covering_the_frame_refuse_self_calibration(flight: list[Shot]) -> None:
    """Keypoints kept only in the lower half of the frames (8 of 16 cells): attitudes are refined,
    the camera keeps its tags."""
    photos = []
    for s in flight:
        f = s.photo.features
        low = f.xy[:, 1] > 456.0
        photos.append(replace(s.photo, features=replace(f, xy=f.xy[low], descriptors=f.descriptors[low])))
    res = refine_attitudes(photos, FlatGround(H), self_calibrate=CalibParams())
    cam = res.intrinsics[0]
    assert not cam.refined and cam.intrinsics == cam.tags, cam.message
    assert "cover 8 of 16 cells of the frame" in cam.message
    assert sum(r.refined for r in res.photos) >= 4
    assert all(r.camera.intrinsics == cam.tags for r in res.photos)


def test_undetermined_parameters_are_fixed_not_estimated(flight: list[Shot]) -> None:
    """A prior far tighter than anything the photos can resolve: the parameter is left at the tags."""
    from burnwatch.georef.selfcal import CalibPrior

    tight = CalibParams(prior=CalibPrior(k2=1e-6))
    res = refine_attitudes([s.photo for s in flight], FlatGround(H), self_calibrate=tight)
    cam = res.intrinsics[0]
    assert cam.refined and "k2" not in cam.estimated and "focal" in cam.estimated
    assert cam.intrinsics.k2 == cam.tags.k2 and "k2 fixed at the tags" in cam.message


def test_groups_and_helpers() -> None:
    a = Intrinsics(100, 80, 90.0, 90.0, 50.0, 40.0, k1=-0.1)
    b = replace(a, fx=91.0)
    groups = camera_groups(["FC6310R", "FC6310R", "FC6310R", "FC330"], [a, a, b, a])
    assert [g.members for g in groups] == [(0, 1), (2,), (3,)]
    moved = apply_delta(a, [0.01, 2.0, -1.0, 0.005], ("focal", "cx", "cy", "k1"))
    assert moved.fx == pytest.approx(90.9) and moved.fy == pytest.approx(90.9)
    assert (moved.cx, moved.cy, moved.k1, moved.k2) == (52.0, 39.0, pytest.approx(-0.095), 0.0)
    xy = np.array([[5.0, 5.0]] * 6 + [[95.0, 75.0]] * 4)
    assert coverage_cells(xy, 100, 80, 4, 5) == 1 and coverage_cells(xy, 100, 80, 4, 4) == 2
