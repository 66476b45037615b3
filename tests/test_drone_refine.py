"""Attitude refinement from tie points (burnwatch.georef.refine) on synthetic photos of a known pose.

Four oblique photos (pitch -60°, 100 m above a flat textured ground, looking N/E/S/W from the
corners of a 40 m square, like the real P4 RTK frames) are rendered by the independent look-at
camera of ``drone_synth`` with their TRUE attitude, but written with gimbal tags off by 1–2°.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from drone_synth import GroundTexture, ShotSpec, offset_lonlat, render_textured, write_photo
from PIL import Image

from burnwatch.flights.place import sigma_for
from burnwatch.georef.camera import Camera, DSMGround, FlatGround, Ground, Pose, PoseSigma
from burnwatch.georef.refine import RefinePhoto, coverage_grid, refine_attitudes
from burnwatch.georef.tiepoints import extract_features
from burnwatch.sources.drone_meta import intrinsics_from_meta, read_photo_meta

LON, LAT, H = 105.9, 20.7, 5.0
CRS = "EPSG:32648"
#: east, north offset (m), true yaw, tag yaw error, tag pitch error (degrees)
LAYOUT = [
    (-20, -20, 0.0, 1.5, 1.0),
    (-20, 20, 90.0, -1.0, -1.2),
    (20, 20, 180.0, 2.0, 0.8),
    (20, -20, 270.0, -1.5, -0.5),
]
RTK: dict[str, object] = {"RtkStdLon": "0.01", "RtkStdLat": "0.01", "RtkStdHgt": "0.02"}


@dataclass
class Shot:
    path: Path
    true_camera: Camera
    meta_camera: Camera
    photo: RefinePhoto


def _shot(path: Path, spec: ShotSpec, rgb: np.ndarray, dyaw: float, dpitch: float) -> Shot:
    tags: dict[str, object] = {
        "GimbalYawDegree": f"{spec.yaw + dyaw:+.2f}",
        "GimbalPitchDegree": f"{spec.pitch + dpitch:+.2f}",
        **RTK,
    }
    write_photo(path, spec, rgb, extra_xmp=tags)
    m = read_photo_meta(path)
    assert m.lon is not None and m.lat is not None and m.abs_alt is not None and m.camera_yaw is not None
    assert m.gimbal_pitch is not None
    intr, _ = intrinsics_from_meta(m)
    meta = Camera(intr, Pose.from_gps(m.lon, m.lat, m.abs_alt, m.camera_yaw, m.gimbal_pitch, 0.0, crs=CRS))
    true = Camera(intr, Pose.from_gps(m.lon, m.lat, m.abs_alt, spec.yaw, spec.pitch, 0.0, crs=CRS))
    with Image.open(path) as img:
        feats = extract_features(np.asarray(img.convert("RGB")))
    return Shot(path, true, meta, RefinePhoto(m.name, meta, sigma_for(m, PoseSigma()), feats))


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> list[Shot]:
    out = tmp_path_factory.mktemp("refine")
    tex = GroundTexture.random(LON, LAT, H)
    shots = []
    for k, (e, n, yaw, dy, dp) in enumerate(LAYOUT):
        lon, lat = offset_lonlat(LON, LAT, e, n)
        spec = ShotSpec(lon, lat, H + 100.0, 100.0, yaw, -60.0)
        shots.append(_shot(out / f"DJI_{k:04d}.JPG", spec, render_textured(spec, tex), dy, dp))
    return shots


def _flat_dsm() -> DSMGround:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(LON, LAT)
    return DSMGround(np.full((300, 300), H), Affine(2.0, 0, x - 300.0, 0, -2.0, y + 300.0), CRS)


def _ground_errors(cam: Camera, true: Camera, ground: Ground) -> np.ndarray:
    """Horizontal distances (m) between the two cameras' ground points of centre and corners."""
    u = np.array([684.0, 0.5, 1367.5, 1367.5, 0.5])
    v = np.array([456.0, 0.5, 0.5, 911.5, 911.5])
    a, _ = cam.pixel_to_ground(u, v, ground)
    b, _ = true.pixel_to_ground(u, v, ground)
    return np.hypot(*(a - b)[:, :2].T)


@pytest.mark.parametrize("ground_kind", ["plane", "dsm"])
def test_refinement_recovers_the_true_attitude(flight: list[Shot], ground_kind: str) -> None:
    ground: Ground = FlatGround(H) if ground_kind == "plane" else _flat_dsm()
    res = refine_attitudes([s.photo for s in flight], ground)
    assert [p.refined for p in res.photos] == [True] * 4, [p.message for p in res.photos]
    worst_meta, worst_refined = 0.0, 0.0
    for shot, r in zip(flight, res.photos, strict=True):
        t, m, a = shot.true_camera.pose, shot.meta_camera.pose, r.camera.pose
        assert max(abs(m.yaw - t.yaw), abs(m.pitch - t.pitch)) >= 1.0  # the tags really are off
        errs = np.array([a.yaw - t.yaw, a.pitch - t.pitch, a.roll - t.roll])
        assert np.all(np.abs(errs) < 0.35), (r.name, errs)
        # the reported sigmas are honest: true error within 3 sigma (+ 0.05° for texture aliasing)
        sd = np.array([r.sigma.yaw_deg, r.sigma.pitch_deg, r.sigma.roll_deg])
        assert np.all(np.abs(errs) < 3 * sd + 0.05), (r.name, errs, sd)
        assert np.all(sd < [2.0 * 0.5, 1.0 * 0.5, 1.0 * 0.5])  # much better than the gimbal tags
        assert r.tie_points >= 100 and len(r.partners) >= 2
        # every used observation is counted once in the 4 x 4 coverage grid of the frame
        assert len(r.coverage) == 4 and sum(map(sum, r.coverage)) == r.tie_points
        assert r.summary()["coverage_4x4"] == [list(row) for row in r.coverage]
        assert r.rms_before_px > 3.0 and r.rms_after_px < 1.0
        assert math.dist((a.x, a.y, a.z), (t.x, t.y, t.z)) < 0.1  # RTK centres held
        worst_meta = max(
            worst_meta, float(_ground_errors(shot.meta_camera, shot.true_camera, FlatGround(H)).max())
        )
        worst_refined = max(
            worst_refined, float(_ground_errors(r.camera, shot.true_camera, FlatGround(H)).max())
        )
    assert worst_meta > 5.0
    assert worst_refined < 1.5 and worst_refined < 0.2 * worst_meta


def test_photo_without_overlap_keeps_its_metadata_pose(flight: list[Shot], tmp_path: Path) -> None:
    far_lon, far_lat = offset_lonlat(LON, LAT, 1500.0, 0.0)
    tex = GroundTexture.random(far_lon, far_lat, H, size_m=300.0, seed=7)
    spec = ShotSpec(far_lon, far_lat, H + 100.0, 100.0, 45.0, -60.0)
    lonely = _shot(tmp_path / "DJI_0099.JPG", spec, render_textured(spec, tex), 1.5, 1.0)
    assert len(lonely.photo.features) > 300  # textured, just elsewhere
    res = refine_attitudes([s.photo for s in flight] + [lonely.photo], FlatGround(H))
    out = res.photos[-1]
    assert not out.refined and out.camera == lonely.meta_camera and out.sigma == lonely.photo.sigma
    assert "metadata pose kept" in out.message and out.tie_points == 0
    assert all(p.refined for p in res.photos[:4])


def test_photos_with_no_common_content_are_refused(tmp_path: Path) -> None:
    """Each photo sees a different random world at the same place: plenty of keypoints and
    candidate matches, but no true tie point; nothing may be 'refined'."""
    photos = []
    for k, (e, n, yaw, dy, dp) in enumerate(LAYOUT):
        lon, lat = offset_lonlat(LON, LAT, e, n)
        spec = ShotSpec(lon, lat, H + 100.0, 100.0, yaw, -60.0)
        rgb = render_textured(spec, GroundTexture.random(LON, LAT, H, size_m=400.0, seed=100 + k))
        photos.append(_shot(tmp_path / f"N_{k}.JPG", spec, rgb, dy, dp))
    assert all(len(s.photo.features) > 300 for s in photos), [len(s.photo.features) for s in photos]
    res = refine_attitudes([s.photo for s in photos], FlatGround(H))
    for s, r in zip(photos, res.photos, strict=True):
        assert not r.refined and r.camera == s.meta_camera, r.message


def test_corrections_beyond_the_gimbal_sigma_are_refused(flight: list[Shot]) -> None:
    """Tags claimed to be good to 0.3° but off by 1–2°: the adjustment's corrections exceed 3 sigma
    of the tags, so the metadata poses are kept (something is inconsistent) rather than trusted."""
    from dataclasses import replace

    tight = PoseSigma(0.02, 0.03, 0.3, 0.3, 0.3)
    res = refine_attitudes([replace(s.photo, sigma=tight) for s in flight], FlatGround(H))
    assert not any(p.refined for p in res.photos)
    for shot, r in zip(flight, res.photos, strict=True):
        if not r.refined:
            assert "exceeds 3 sigma" in r.message and r.camera == shot.meta_camera


def test_ingest_with_refined_attitude_places_markers_better(tmp_path: Path) -> None:
    """burnwatch's own ingest: orange markers on the textured ground, gimbal tags off by 1–2°."""
    import json

    import cv2
    from drone_synth import geodesic_m, orange_factory, project_markers

    from burnwatch.flights import ingest_flight

    tex = GroundTexture.random(LON, LAT, H)
    east, north = np.meshgrid(np.arange(-60.0, 61.0, 20.0), np.arange(-60.0, 61.0, 20.0))
    markers = np.array(
        [offset_lonlat(LON, LAT, e, n) for e, n in zip(east.ravel(), north.ravel(), strict=True)]
    )
    photos = tmp_path / "flight"
    photos.mkdir()
    for k, (e, n, yaw, dy, dp) in enumerate(LAYOUT):
        lon, lat = offset_lonlat(LON, LAT, e, n)
        spec = ShotSpec(lon, lat, H + 100.0, 100.0, yaw, -60.0)
        rgb = np.ascontiguousarray(render_textured(spec, tex))
        for u, v in zip(*project_markers(spec, markers, H), strict=True):
            if 8 < u < spec.width - 8 and 8 < v < spec.height - 8:
                cv2.circle(rgb, (int(u), int(v)), 5, (255, 140, 0), -1)
        tags: dict[str, object] = {
            "GimbalYawDegree": f"{yaw + dy:+.2f}",
            "GimbalPitchDegree": f"{-60 + dp:+.2f}",
            **RTK,
        }
        write_photo(photos / f"DJI_{k:04d}.JPG", spec, rgb, extra_xmp=tags)

    def errors(refine: bool) -> tuple[list[float], list[float], dict]:
        out = tmp_path / ("refined" if refine else "meta")
        res = ingest_flight(photos, out, detector_factory=orange_factory, workers=0, refine_attitude=refine)
        errs = [min(geodesic_m(h.lon, h.lat, lo, la) for lo, la in markers) for h in res.hotspots]
        return (
            errs,
            [h.uncertainty_m or 0.0 for h in res.hotspots],
            json.loads((out / "report.json").read_text()),
        )

    e_meta, u_meta, rep_meta = errors(False)
    e_ref, u_ref, rep = errors(True)
    assert len(e_ref) == len(e_meta) >= 40
    assert rep_meta["attitude_refinement"] is None
    assert rep["attitude_refinement"]["refined"] == 4
    assert all(
        p["refined"] and p["tie_points"] >= 100 for p in rep["attitude_refinement"]["per_photo"].values()
    )
    assert max(e_meta) > 4.0 and float(np.median(e_meta)) > 1.5
    assert max(e_ref) < 1.5 and float(np.median(e_ref)) < 0.6
    assert float(np.median(u_ref)) < 0.5 * float(np.median(u_meta))  # uncertainty from the adjustment
    assert all(e < 3 * u + 0.3 for e, u in zip(e_ref, u_ref, strict=True))  # and still honest
    fp = json.loads((tmp_path / "refined" / "footprints.geojson").read_text())["features"]
    assert {f["properties"]["attitude"] for f in fp} == {"tie-point refined"}


def test_coverage_grid_counts_points_per_cell() -> None:
    xy = np.array([[0.5, 0.5], [1367.5, 0.5], [1367.9, 911.9], [684.0, 456.0], [700.0, 500.0]])
    grid = coverage_grid(xy, 1368, 912)
    assert grid[0] == (1, 0, 0, 1)
    assert grid[2] == (0, 0, 2, 0)  # the centre belongs to the cell below and right of it
    assert grid[3] == (0, 0, 0, 1)
    assert sum(map(sum, grid)) == 5
    assert coverage_grid(np.zeros((0, 2)), 1368, 912) == ((0,) * 4,) * 4
