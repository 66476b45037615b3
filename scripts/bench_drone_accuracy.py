"""Measure drone pixel->ground accuracy on real data (../shared/data/drone).

1. P4RTK oblique frames (pitch -60°): the image centre, the 4 corners and the 4 edge
   midpoints are projected onto the ODM DSM twice — with the pose from the photo's own
   metadata (XMP GPS, AbsoluteAltitude, gimbal angles, DewarpData) via burnwatch, and with
   the photogrammetric pose + calibrated Brown camera from OpenSfM's reconstruction.json —
   and the horizontal distances are reported (metres).
   The same, with each frame's attitude refined from tie points between the four frames
   (burnwatch.georef.refine: the photos' own image content + metadata + DSM; the reference
   poses are used only to score the result, never as input).
2. FC300S nadir frames (no calibration tags -> sensor table, flat ground at take-off
   height): photo footprints vs the extent of the georeferenced point cloud ``model.laz``.

    .venv/bin/python scripts/bench_drone_accuracy.py [--shared ../shared] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from burnwatch.flights.place import sigma_for  # noqa: E402
from burnwatch.georef.camera import (  # noqa: E402
    Camera,
    DSMGround,
    FlatGround,
    Intrinsics,
    Pose,
    PoseSigma,
    ground_uncertainty,
)
from burnwatch.georef.refine import RefinePhoto, refine_attitudes  # noqa: E402
from burnwatch.georef.tiepoints import extract_features  # noqa: E402
from burnwatch.sources.drone_meta import intrinsics_from_meta, read_photo_meta  # noqa: E402

P4 = "data/drone/dji_p4rtk_oblique"
BRIGHTON = "data/drone/dji_fc300s_brighton"
UTM51 = "EPSG:32651"


def _rodrigues(r: list[float]) -> np.ndarray:
    theta = float(np.linalg.norm(r))
    if theta < 1e-12:
        return np.eye(3)
    k = np.asarray(r) / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx


def _opensfm_undistort(xd: np.ndarray, yd: np.ndarray, cam: dict) -> tuple[np.ndarray, np.ndarray]:
    k1, k2, k3, p1, p2 = cam["k1"], cam["k2"], cam["k3"], cam["p1"], cam["p2"]
    x, y = xd.copy(), yd.copy()
    for _ in range(100):
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = 2 * p2 * x * y + p1 * (r2 + 2 * y * y)
        x, y = (xd - dx) / radial, (yd - dy) / radial
    return x, y


def reference_rays(recon: dict, shot_id: str, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenSfM camera centre and unit rays (UTM 51N + height) for pixels (corner origin)."""
    from pyproj import Transformer

    shot = recon["shots"][shot_id]
    cam = recon["cameras"][shot["camera"]]
    w, h = cam["width"], cam["height"]
    size = max(w, h)
    xn = ((u - w / 2.0) / size - cam["c_x"]) / cam["focal_x"]
    yn = ((v - h / 2.0) / size - cam["c_y"]) / cam["focal_y"]
    x, y = _opensfm_undistort(xn, yn, cam)
    rot = _rodrigues(shot["rotation"])
    centre = -rot.T @ np.asarray(shot["translation"])
    bearings = np.stack([x, y, np.ones_like(x)], -1) @ rot  # rows: R^T b
    ref = recon["reference_lla"]
    topo_to_utm = Transformer.from_pipeline(
        f"+proj=pipeline +step +inv +proj=topocentric +ellps=WGS84 +lon_0={ref['longitude']} "
        f"+lat_0={ref['latitude']} +h_0={ref['altitude']} +step +inv +proj=cart +ellps=WGS84 "
        "+step +proj=utm +zone=51 +ellps=WGS84"
    )
    far = centre[None, :] + 100.0 * bearings / np.linalg.norm(bearings, axis=1, keepdims=True)
    c_utm = np.array(topo_to_utm.transform(*centre))
    f_utm = np.stack(topo_to_utm.transform(far[:, 0], far[:, 1], far[:, 2]), -1)
    dirs = f_utm - c_utm
    return c_utm, dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def test_pixels(w: int, h: int, inset: float = 0.5) -> tuple[np.ndarray, np.ndarray, list[str]]:
    u = np.array([w / 2, inset, w - inset, w - inset, inset, w / 2, w - inset, w / 2, inset])
    v = np.array([h / 2, inset, inset, h - inset, h - inset, inset, h / 2, h - inset, h / 2])
    names = [
        "centre",
        "top-left",
        "top-right",
        "bottom-right",
        "bottom-left",
        "top",
        "right",
        "bottom",
        "left",
    ]
    return u, v, names


def _opk_rotation(omega: float, phi: float, kappa: float) -> np.ndarray:
    """World-from-camera rotation, PATB convention (camera x right, y up, z back), degrees."""
    o, p, k = (math.radians(a) for a in (omega, phi, kappa))
    rx = np.array([[1, 0, 0], [0, math.cos(o), -math.sin(o)], [0, math.sin(o), math.cos(o)]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rz = np.array([[math.cos(k), -math.sin(k), 0], [math.sin(k), math.cos(k), 0], [0, 0, 1]])
    return rx @ ry @ rz


def opk_rays(
    recon: dict, opk_row: list[float], u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rays from the odm_xyz_opk.csv pose (UTM 51N) with the reconstruction's Brown camera."""
    cam = next(iter(recon["cameras"].values()))
    w, h = cam["width"], cam["height"]
    size = max(w, h)
    x, y = _opensfm_undistort(
        ((u - w / 2.0) / size - cam["c_x"]) / cam["focal_x"],
        ((v - h / 2.0) / size - cam["c_y"]) / cam["focal_y"],
        cam,
    )
    b = np.stack([x, -y, -np.ones_like(x)], -1) @ _opk_rotation(*opk_row[3:6]).T
    return np.asarray(opk_row[:3]), b / np.linalg.norm(b, axis=1, keepdims=True)


def bench_p4rtk(shared: Path) -> dict:
    """Errors (m) of metadata-posed ground points vs two photogrammetric references.

    ``opk``: io/odm_xyz_opk.csv pose; ``opensfm``: reconstruction.json shot pose. Grounds:
    the ODM DSM, and a flat plane at the DSM's median height (isolates pose error from DSM
    relief effects at grazing rays).
    """
    base = shared / P4
    recon = json.loads((base / "odm/opensfm/reconstruction.json").read_text())[0]
    dsm = DSMGround.open(base / "odm/odm_dem/dsm.tif")
    flat = FlatGround(float(np.nanmedian(dsm.heights)))
    opk = {}
    for line in (base / "io/odm_xyz_opk.csv").read_text().splitlines()[1:]:
        parts = line.split()
        opk[parts[0].strip("'")] = [float(p) for p in parts[1:7]]
    rows = []
    headings: list[dict] = []
    errors: dict[str, list[float]] = {}
    to_refine: list[RefinePhoto] = []
    for img in sorted((base / "odm/images").glob("*.tif")):
        meta = read_photo_meta(img)
        intr, source = intrinsics_from_meta(meta)
        assert meta.lon is not None and meta.lat is not None and meta.abs_alt is not None
        assert meta.camera_yaw is not None and meta.gimbal_pitch is not None
        pose = Pose.from_gps(
            meta.lon,
            meta.lat,
            meta.abs_alt,
            meta.camera_yaw,
            meta.gimbal_pitch,
            meta.gimbal_roll or 0.0,
            crs=UTM51,
        )
        cam = Camera(intr, pose)
        u, v, names = test_pixels(meta.width, meta.height)
        sig = sigma_for(meta, PoseSigma())
        from PIL import Image

        with Image.open(img) as im:
            to_refine.append(RefinePhoto(img.name, cam, sig, extract_features(np.asarray(im.convert("RGB")))))
        predicted = [ground_uncertainty(cam, float(a), float(b), dsm, sig) for a, b in zip(u, v, strict=True)]
        refs = {"opk": opk_rays(recon, opk[img.stem], u, v), "opensfm": reference_rays(recon, img.stem, u, v)}
        # the airframe's yaw instead of the gimbal's, for comparison (docs: which yaw tag)
        assert meta.flight_yaw is not None
        cam_fy = Camera(intr, replace(pose, yaw=pose.yaw + (meta.flight_yaw - meta.camera_yaw)))
        ours_fy, hit_fy = cam_fy.pixel_to_ground(u, v, dsm)
        theirs_fy, hit_ref_fy = dsm.intersect(*refs["opk"], 1000.0)
        for e, ok in zip(np.hypot(*(ours_fy[:, :2] - theirs_fy[:, :2]).T), hit_fy & hit_ref_fy, strict=True):
            if ok:
                errors.setdefault("opk/dsm FlightYaw", []).append(float(e))
        for gname, ground in (("dsm", dsm), ("flat", flat)):
            ours, hit = cam.pixel_to_ground(u, v, ground)
            for rname, (c_ref, d_ref) in refs.items():
                theirs, hit_ref = ground.intersect(c_ref, d_ref, 1000.0)
                d = np.hypot(*(ours[:, :2] - theirs[:, :2]).T)
                key = f"{rname}/{gname}"
                for name, e, ok, pred in zip(names, d, hit & hit_ref, predicted, strict=True):
                    rows.append(
                        {
                            "photo": img.name,
                            "pixel": name,
                            "reference": rname,
                            "ground": gname,
                            "error_m": round(float(e), 3),
                            "hit": bool(ok),
                            "predicted_sigma_m": round(pred, 2) if gname == "dsm" else None,
                        }
                    )
                    if ok:
                        errors.setdefault(key, []).append(float(e))
        fwd = _opk_rotation(*opk[img.stem][3:6]) @ np.array([0.0, 0.0, -1.0])
        true_yaw = math.degrees(math.atan2(fwd[0], fwd[1])) + (
            meta.camera_yaw - pose.yaw
        )  # grid -> true north
        assert meta.gimbal_yaw is not None and meta.flight_yaw is not None
        headings.append(
            {
                "photo": img.name,
                "opk_true_yaw": round(true_yaw, 2),
                "opk_pitch": round(math.degrees(math.asin(fwd[2])), 2),
                "gimbal_yaw": meta.gimbal_yaw,
                "flight_yaw": meta.flight_yaw,
                "gimbal_pitch": meta.gimbal_pitch,
                "gimbal_minus_opk": round(_wrap(meta.gimbal_yaw - true_yaw), 2),
                "flight_minus_opk": round(_wrap(meta.flight_yaw - true_yaw), 2),
            }
        )
        rows.append(
            {
                "photo": img.name,
                "pixel": "camera centre vs odm_xyz_opk",
                "reference": "opk",
                "ground": "-",
                "hit": True,
                "error_m": round(float(np.hypot(pose.x - opk[img.stem][0], pose.y - opk[img.stem][1])), 3),
                "dz_m": round(pose.z - opk[img.stem][2], 3),
                "intrinsics": source,
            }
        )
    refinement = _score_refinement(to_refine, dsm, flat, recon, opk, errors)
    calibration = _reference_calibration_spread(to_refine, dsm, recon, opk)
    summary = {
        k: {
            "n": len(e),
            "median_m": round(statistics.median(e), 2),
            "max_m": round(max(e), 2),
            "mean_m": round(statistics.fmean(e), 2),
        }
        for k, e in errors.items()
    }
    return {
        "rows": rows,
        "summary": summary,
        "headings": headings,
        "refinement": refinement,
        "reference_calibration_spread": calibration,
    }


def _reference_calibration_spread(
    photos: list[RefinePhoto], dsm: DSMGround, recon: dict, opk: dict[str, list[float]]
) -> list[dict]:
    """How far the *reference* ground point moves when only its camera calibration changes:
    the OPK pose with the reconstruction's Brown camera (the reference used everywhere here)
    vs the same OPK pose with the photo's own DJI factory calibration (DewarpData). Where this
    spread is large, the reference itself is not known to better than that."""
    out = []
    for ph in photos:
        row = opk[Path(ph.name).stem]
        yaw, pitch, roll = _ypr_deg(_opk_rotation(*row[3:6]) @ np.diag([1.0, -1.0, -1.0]))
        ref_pose = Pose(row[0], row[1], row[2], yaw, pitch, roll, UTM51)
        dji = Camera(ph.camera.intrinsics, ref_pose)
        u, v, names = test_pixels(ph.camera.intrinsics.width, ph.camera.intrinsics.height)
        a, hit_a = dji.pixel_to_ground(u, v, dsm)
        c_ref, d_ref = opk_rays(recon, row, u, v)
        b, hit_b = dsm.intersect(c_ref, d_ref, 1000.0)
        d = np.hypot(*(a[:, :2] - b[:, :2]).T)
        angle = np.degrees(np.arccos(np.clip(np.sum(dji.rays(u, v) * d_ref, axis=1), -1.0, 1.0)))
        gain = _radial_slope(ph.camera.intrinsics, u, v)
        out.append(
            {
                "photo": ph.name,
                "spread_m": {
                    n: round(float(e), 2) for n, e, ok in zip(names, d, hit_a & hit_b, strict=True) if ok
                },
                "ray_angle_deg": {n: round(float(x), 3) for n, x in zip(names, angle, strict=True)},
                "dji_radial_slope": {n: round(float(x), 2) for n, x in zip(names, gain, strict=True)},
            }
        )
    return out


def _radial_slope(intr: Intrinsics, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """d r_distorted / d r_undistorted of the lens model at each pixel (1 at the centre).

    Undistortion divides an image-space error by this slope: where it nears 0 the polynomial
    is close to its turning point (extrapolated beyond the calibrated field) and the ray
    direction is ill-conditioned."""
    x, y = intr.unproject(u, v)
    r2 = x * x + y * y
    return 1.0 + 3.0 * intr.k1 * r2 + 5.0 * intr.k2 * r2**2 + 7.0 * intr.k3 * r2**3


def _ypr_deg(r_world_from_cam: np.ndarray) -> tuple[float, float, float]:
    """DJI yaw, pitch, roll (grid north) of a camera (x right, y down, z forward) -> ENU rotation."""
    from burnwatch.georef.camera import _ENU_FROM_NED, _FRD_FROM_CAM

    m = _ENU_FROM_NED.T @ r_world_from_cam @ _FRD_FROM_CAM.T
    return (
        math.degrees(math.atan2(m[1, 0], m[0, 0])),
        math.degrees(-math.asin(m[2, 0])),
        math.degrees(math.atan2(m[2, 1], m[2, 2])),
    )


def _score_refinement(
    photos: list[RefinePhoto],
    dsm: DSMGround,
    flat: FlatGround,
    recon: dict,
    opk: dict[str, list[float]],
    errors: dict[str, list[float]],
) -> list[dict]:
    """Refine the attitudes from the frames themselves (no reference pose goes in), then score the
    refined cameras against odm_xyz_opk.csv exactly as the metadata ones (``errors`` keys
    ``opk/dsm refined``, ``opk/flat refined``). Per photo: tie points, RMS, corrections, and the
    attitude differences to the OPK pose before and after."""
    import time

    t0 = time.perf_counter()
    result = refine_attitudes(photos, dsm)
    seconds = time.perf_counter() - t0
    out = []
    for ph, r in zip(photos, result.photos, strict=True):
        row = opk[Path(ph.name).stem]
        u, v, names = test_pixels(ph.camera.intrinsics.width, ph.camera.intrinsics.height)
        c_ref, d_ref = opk_rays(recon, row, u, v)
        per_pixel = {}
        predicted = [
            ground_uncertainty(r.camera, float(a), float(b), dsm, r.sigma) for a, b in zip(u, v, strict=True)
        ]
        within = [0, 0, 0]  # refined errors within the refined 1-sigma, 2-sigma, of those scored
        for gname, ground in (("dsm", dsm), ("flat", flat)):
            ours, hit = r.camera.pixel_to_ground(u, v, ground)
            theirs, hit_ref = ground.intersect(c_ref, d_ref, 1000.0)
            for name, e, ok in zip(
                names, np.hypot(*(ours[:, :2] - theirs[:, :2]).T), hit & hit_ref, strict=True
            ):
                if ok:
                    errors.setdefault(f"opk/{gname} refined", []).append(float(e))
                    if gname == "dsm":
                        per_pixel[name] = round(float(e), 2)
                        sig = predicted[names.index(name)]
                        within = [within[0] + int(e <= sig), within[1] + int(e <= 2 * sig), within[2] + 1]
        ref_ypr = _ypr_deg(_opk_rotation(*row[3:6]) @ np.diag([1.0, -1.0, -1.0]))
        diff = {}
        for label, pose in (("metadata", ph.camera.pose), ("refined", r.camera.pose)):
            diff[label] = [
                round(float(_wrap(pose.yaw - ref_ypr[0])), 2),
                round(float(pose.pitch - ref_ypr[1]), 2),
                round(float(pose.roll - ref_ypr[2]), 2),
            ]
        out.append(
            {
                "photo": ph.name,
                **r.summary(),
                "errors_dsm_m": per_pixel,
                "minus_opk_ypr_deg": diff,
                "within_1_2_sigma_of_n": within,
                "seconds_all_photos": round(seconds, 2),
            }
        )
    return out


def _wrap(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0


def cloud_ortho(las_path: Path, res: float = 0.25, pad: float = 60.0) -> dict:
    """Grey orthoimage + height grid (mean per cell, holes inpainted) from a coloured cloud."""
    import cv2
    import laspy

    las = laspy.read(las_path)
    x, y, z = np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)
    grey = 0.299 * np.asarray(las.red) + 0.587 * np.asarray(las.green) + 0.114 * np.asarray(las.blue)
    if grey.max() > 255:
        grey = grey / 256.0
    x0, y1 = x.min() - pad, y.max() + pad
    w, h = int((x.max() + pad - x0) / res) + 1, int((y1 - y.min() + pad) / res) + 1
    idx = ((y1 - y) / res).astype(int) * w + ((x - x0) / res).astype(int)
    cnt = np.bincount(idx, minlength=w * h)
    valid = (cnt > 0).reshape(h, w)
    holes = (~valid).astype(np.uint8)
    g = (np.bincount(idx, grey, minlength=w * h) / np.maximum(cnt, 1)).reshape(h, w)
    ortho = cv2.inpaint(np.clip(g, 0, 255).astype(np.uint8), holes, 3, cv2.INPAINT_TELEA).astype(np.float32)
    zc = (np.bincount(idx, z, minlength=w * h) / np.maximum(cnt, 1)).reshape(h, w)
    zmin = float(z.min())
    z8 = np.clip(np.where(valid, (zc - zmin) * 10.0, 0.0), 0, 255).astype(
        np.uint8
    )  # 0.1 m steps, < 25.5 m relief
    zgrid = cv2.inpaint(z8, holes, 3, cv2.INPAINT_TELEA) / 10.0 + zmin
    xs, ys = np.meshgrid(x0 + (np.arange(w) + 0.5) * res, y1 - (np.arange(h) + 0.5) * res)
    return {"ortho": ortho, "z": zgrid, "valid": valid, "x": xs, "y": ys, "res": res}


def register_photo(cam: Camera, photo_path: Path, cloud: dict, half: int = 32) -> dict:
    """Orthorectify the photo onto the cloud's grid (using the cloud's heights) and measure the
    shift against the cloud's own orthoimage by phase correlation (Kuglin & Hines 1975) in the
    16 x 16 m window inside the photo with the most cloud points."""
    import cv2
    from PIL import Image

    h, w = cloud["ortho"].shape
    u, v, _ = cam.ground_to_pixel(cloud["x"].ravel(), cloud["y"].ravel(), cloud["z"].ravel())
    with Image.open(photo_path) as img:
        photo = np.asarray(img.convert("L"), dtype=np.float32)
    ph = cv2.remap(
        photo,
        (u - 0.5).reshape(h, w).astype(np.float32),
        (v - 0.5).reshape(h, w).astype(np.float32),
        cv2.INTER_LINEAR,
        borderValue=-1,
    )
    k = 2 * half + 1
    inside = cv2.erode((ph >= 0).astype(np.uint8), np.ones((k, k), np.uint8))
    density = cv2.boxFilter(cloud["valid"].astype(np.float32), -1, (k, k))
    score = np.where(inside > 0, density, -1.0)
    r, c = np.unravel_index(int(np.argmax(score)), score.shape)
    a = ph[r - half : r + half, c - half : c + half]
    b = cloud["ortho"][r - half : r + half, c - half : c + half]
    a, b = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    win = cv2.createHanningWindow((2 * half, 2 * half), cv2.CV_32F)
    (dx, dy), resp = cv2.phaseCorrelate(b.astype(np.float32), a.astype(np.float32), win)
    res = cloud["res"]
    return {
        "shift_e_m": round(dx * res, 2),
        "shift_n_m": round(-dy * res, 2),
        "shift_m": round(float(np.hypot(dx, dy)) * res, 2),
        "response": round(float(resp), 3),
        "window_cloud_fill": round(float(score[r, c]), 2),
    }


def bench_brighton(shared: Path) -> dict:
    import laspy
    from pyproj import CRS
    from shapely.geometry import box
    from shapely.ops import unary_union

    base = shared / BRIGHTON
    with laspy.open(base / "model.laz") as f:
        hdr = f.header
        extent = box(hdr.mins[0], hdr.mins[1], hdr.maxs[0], hdr.maxs[1])
        las_crs = hdr.parse_crs()
        zmin, zmax = float(hdr.mins[2]), float(hdr.maxs[2])
    crs = "EPSG:32615"
    if las_crs is not None:
        crs = CRS.from_user_input(las_crs).to_string()
    rows, polys = [], []
    cloud = cloud_ortho(base / "model.laz")
    for img in sorted(base.glob("*.JPG")):
        meta = read_photo_meta(img)
        intr, source = intrinsics_from_meta(meta)
        assert meta.lon is not None and meta.lat is not None and meta.rel_alt is not None
        pose = Pose.from_gps(
            meta.lon,
            meta.lat,
            meta.rel_alt,
            meta.camera_yaw or 0.0,
            meta.gimbal_pitch or -90.0,
            meta.gimbal_roll or 0.0,
            crs=crs,
        )
        poly, _ = Camera(intr, pose).footprint(FlatGround(0.0))
        polys.append(poly)
        inter = poly.intersection(extent).area
        # same photo posed at its GNSS altitude over the cloud's own heights, registered to the cloud
        assert meta.abs_alt is not None
        cam_abs = Camera(
            intr,
            Pose.from_gps(
                meta.lon,
                meta.lat,
                meta.abs_alt,
                meta.camera_yaw or 0.0,
                meta.gimbal_pitch or -90.0,
                meta.gimbal_roll or 0.0,
                crs=crs,
            ),
        )
        reg = register_photo(cam_abs, img, cloud)
        rows.append(
            {
                **reg,
                "photo": img.name,
                "footprint_m2": round(poly.area, 1),
                "inside_fraction": round(inter / poly.area, 3),
                "intrinsics": source,
                "focal_px": round(intr.fx, 1),
            }
        )
    union = unary_union(polys)
    shifts = [r["shift_m"] for r in rows]
    return {
        "shift_median_m": round(statistics.median(shifts), 2),
        "shift_max_m": round(max(shifts), 2),
        "rows": rows,
        "crs": crs,
        "cloud_extent": [round(c, 2) for c in extent.bounds],
        "cloud_z": [zmin, zmax],
        "union_inside_fraction": round(union.intersection(extent).area / union.area, 3),
        "cloud_covered_fraction": round(union.intersection(extent).area / extent.area, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    p4 = bench_p4rtk(args.shared)
    print("P4RTK oblique: metadata pose vs photogrammetric pose (centre, corners, edge midpoints)")
    for r in p4["rows"]:
        if r["reference"] == "opk" and r["ground"] in ("dsm", "-"):
            print(
                f"  {r['photo']:20s} {r['pixel']:30s} {r['error_m']:8.2f} m"
                + (
                    f"  (predicted 1-sigma {r['predicted_sigma_m']:.2f} m)"
                    if r.get("predicted_sigma_m")
                    else ""
                )
                + ("" if r["hit"] else "  (ray leaves DSM)")
                + (f"  dz={r['dz_m']:+.2f} m [{r['intrinsics']}]" if "dz_m" in r else "")
            )
    for key, s in p4["summary"].items():
        if key.endswith("refined"):
            continue
        print(
            f"  {key:14s} n={s['n']:2d}  median {s['median_m']:.2f} m  mean {s['mean_m']:.2f} m  max {s['max_m']:.2f} m"
        )
    print(
        "P4RTK oblique: metadata + tie-point refinement (uses the image content of the flight's own 4 photos"
        " and the DSM; the reference poses only score it)"
    )
    for r in p4["refinement"]:
        print(
            f"  {r['photo']:20s} {'refined' if r['refined'] else 'KEPT   '} ties {r['tie_points']:4d}"
            f"  RMS {r['rms_before_px'] or float('nan'):5.2f} -> {r['rms_after_px'] or float('nan'):4.2f} px"
            f"  d yaw/pitch/roll {r['d_yaw_deg']:+.2f}/{r['d_pitch_deg']:+.2f}/{r['d_roll_deg']:+.2f}°"
            f"  sigma {'/'.join(f'{x:.2f}' for x in r['sigma_deg'])}°"
            f"  minus OPK: tags {r['minus_opk_ypr_deg']['metadata']} refined {r['minus_opk_ypr_deg']['refined']}"
        )
        print(f"  {'':20s} errors on the DSM (m): {r['errors_dsm_m']}")
        grid = " | ".join(" ".join(f"{n:3d}" for n in row) for row in r["coverage_4x4"])
        print(f"  {'':20s} tie-point observations per 4x4 cell (rows top to bottom): {grid}")
    print(f"  refinement time (4 photos, after SIFT): {p4['refinement'][0]['seconds_all_photos']:.2f} s")
    print(
        "  reference sensitivity to the camera calibration (OPK pose with the reconstruction's camera"
        " vs the same pose with the photo's DJI DewarpData), m:"
    )
    for r in p4["reference_calibration_spread"]:
        print(f"  {r['photo']:20s} {r['spread_m']}")
    # the angle depends on the pixel and the two lens models only (same for the four frames)
    first = p4["reference_calibration_spread"][0]
    print(f"  the same as the angle between the two rays (deg): {first['ray_angle_deg']}")
    print(
        "  the DJI lens model's radial slope d r_d / d r there (1 at the centre, 0 at the polynomial's"
        f" turning point): {first['dji_radial_slope']}"
    )
    w = np.sum([r["within_1_2_sigma_of_n"] for r in p4["refinement"]], axis=0)
    print(
        f"  refined errors within the refined predicted 1-sigma: {w[0]} of {w[2]}, 2-sigma: {w[1]} of {w[2]}"
    )
    for key, s in p4["summary"].items():
        if key.endswith("refined"):
            print(
                f"  {key:18s} n={s['n']:2d}  median {s['median_m']:.2f} m  mean {s['mean_m']:.2f} m  max {s['max_m']:.2f} m"
            )
    print(
        "  camera heading: gimbal vs airframe yaw tag against the photogrammetric heading (deg, true north)"
    )
    for hd in p4["headings"]:
        print(
            f"  {hd['photo']:20s} OPK {hd['opk_true_yaw']:8.2f} (pitch {hd['opk_pitch']:6.2f})  GimbalYaw {hd['gimbal_yaw']:8.2f}"
            f" ({hd['gimbal_minus_opk']:+.2f})  FlightYaw {hd['flight_yaw']:8.2f} ({hd['flight_minus_opk']:+.2f})"
        )
    br = bench_brighton(args.shared)
    print(f"FC300S nadir footprints vs model.laz extent ({br['crs']}, {br['cloud_extent']})")
    for r in br["rows"]:
        print(
            f"  {r['photo']:14s} area {r['footprint_m2']:9.1f} m²  inside {r['inside_fraction']:.3f}"
            f"  f={r['focal_px']} px [{r['intrinsics']}]  shift E {r['shift_e_m']:+.2f} N {r['shift_n_m']:+.2f} m"
            f" (phase-corr. response {r['response']:.2f})"
        )
    print(
        f"  photo-to-cloud registration shift: median {br['shift_median_m']:.2f} m, max {br['shift_max_m']:.2f} m"
    )
    print(
        f"  union of footprints inside the cloud extent: {br['union_inside_fraction']:.3f};"
        f" cloud extent covered: {br['cloud_covered_fraction']:.3f}"
    )
    if args.json:
        args.json.write_text(json.dumps({"p4rtk": p4, "brighton": br}, indent=1))


if __name__ == "__main__":
    main()
