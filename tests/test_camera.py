"""Camera model: conventions, pixel <-> ground round trips, DSM marching, footprints, error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from burnwatch.georef.camera import (
    Camera,
    DSMGround,
    FlatGround,
    Intrinsics,
    Pose,
    PoseSigma,
    RayMissError,
    ground_uncertainty,
    rotation_enu_from_camera,
    utm_crs_for,
)

P4_INTR = Intrinsics(1368, 912, 914.255, 912.655, 682.99, 461.78, -0.267, 0.112, 0.000925, 0.0000882, -0.0332)
PLAIN = Intrinsics(4000, 3000, 2800.0, 2800.0, 2000.0, 1500.0)


def cam(
    yaw: float = 0.0, pitch: float = -90.0, roll: float = 0.0, z: float = 60.0, intr: Intrinsics = PLAIN
) -> Camera:
    return Camera(intr, Pose(500_000.0, 2_300_000.0, z, yaw, pitch, roll, "EPSG:32648"))


def test_dji_angle_conventions() -> None:
    r = rotation_enu_from_camera(0, -90, 0)
    assert np.allclose(r @ [0, 0, 1], [0, 0, -1])  # nadir looks down
    assert np.allclose(r @ [0, -1, 0], [0, 1, 0])  # image top points north at yaw 0
    r = rotation_enu_from_camera(90, -60, 0)
    fwd = r @ [0, 0, 1]
    assert math.degrees(math.atan2(fwd[0], fwd[1])) == pytest.approx(90)  # clockwise from north
    assert math.degrees(math.asin(fwd[2])) == pytest.approx(-60)
    assert (rotation_enu_from_camera(0, 0, 10) @ [1, 0, 0])[2] < 0  # positive roll: right side down


def test_utm_zone() -> None:
    assert utm_crs_for(105.85, 21.03) == "EPSG:32648"
    assert utm_crs_for(-91.99, 46.84) == "EPSG:32615"
    assert utm_crs_for(120.95, 24.68) == "EPSG:32651"


def test_pose_from_gps_corrects_grid_convergence() -> None:
    # 2 degrees west of the central meridian at 24.7N: grid north is ~0.86 deg west of true north
    p = Pose.from_gps(120.9517, 24.6803, 186.0, 0.0, -90.0, 0.0, crs="EPSG:32651")
    assert p.yaw == pytest.approx(0.856, abs=0.01)


@settings(max_examples=60, deadline=None)
@given(st.floats(-0.9, 0.9), st.floats(-0.9, 0.9))
def test_distortion_round_trip(xn: float, yn: float) -> None:
    u, v = P4_INTR.project(np.array([xn * 0.7]), np.array([yn * 0.5]))
    x2, y2 = P4_INTR.unproject(u, v)
    assert abs(x2[0] - xn * 0.7) < 1e-7 and abs(y2[0] - yn * 0.5) < 1e-7


# The P4 RTK lens with a stronger k1: its radial polynomial turns back (r ≈ 1.26) before the
# frame's corners (r_d ≈ 0.90), as a strongly distorted factory calibration can.
FOLDING = Intrinsics(1368, 912, 914.255, 912.655, 682.99, 461.78, -0.31, 0.112, 0.000925, 0.0000882, -0.0332)


def test_lens_range_is_the_polynomials_turning_point() -> None:
    for intr in (P4_INTR, FOLDING):
        r = np.linspace(0.0, intr.max_radius, 2001)
        slope = np.gradient(intr.distorted_radius(r), r)
        assert slope[:-2].min() > 0.0 and abs(slope[-1]) < 1e-2  # increasing, flat at the end
    assert P4_INTR.max_radius == pytest.approx(1.348, abs=1e-3) and P4_INTR.frame_in_lens_range()
    assert not FOLDING.frame_in_lens_range()
    assert math.isinf(PLAIN.max_radius) and PLAIN.frame_in_lens_range()
    assert math.isinf(Intrinsics(100, 100, 90.0, 90.0, 50.0, 50.0, k1=0.05).max_radius)


def test_unproject_is_exact_inside_the_lens_range_and_nan_beyond() -> None:
    """A plain fixed-point inversion lands on the folded branch here (100+ px reprojection error)."""
    u = np.array([0.0, 1368.0, 0.0, 1368.0, 684.0, 0.0, 1368.0, 684.0])
    v = np.array([0.0, 0.0, 912.0, 912.0, 456.0, 456.0, 456.0, 0.0])
    x, y = FOLDING.unproject(u, v)
    inside = FOLDING.in_lens_range(u, v)
    assert list(inside) == [False] * 4 + [True] * 4  # the corners are beyond it, the edges are not
    assert np.isnan(x[~inside]).all() and np.isnan(y[~inside]).all()
    assert (np.hypot(x[inside], y[inside]) < FOLDING.max_radius).all()
    u2, v2 = FOLDING.project(x[inside], y[inside])
    assert np.allclose(u2, u[inside], atol=1e-9) and np.allclose(v2, v[inside], atol=1e-9)
    x, y = P4_INTR.unproject(u, v)  # the real lens: every pixel, corners included, round-trips
    u2, v2 = P4_INTR.project(x, y)
    assert np.allclose(u2, u, atol=1e-9) and np.allclose(v2, v, atol=1e-9)


def test_beyond_the_lens_range_no_ray_no_fold_back() -> None:
    c = cam(intr=FOLDING)
    with pytest.raises(RayMissError, match="range of the lens distortion model"):
        c.ground_point(0.0, 0.0, FlatGround(0.0))
    poly, clipped = c.footprint(FlatGround(0.0))
    assert clipped and poly.is_valid and np.isfinite(poly.bounds).all()
    # nadir at 60 m: a ray at normalised radius r lands 60 r from the nadir point; the corners
    # are cut at the turning point, and the edge midpoints (inside the range) are kept
    far = max(math.dist(xy, c.pose.centre[:2]) for xy in poly.exterior.coords)
    assert 0.95 * 60.0 * FOLDING.max_radius < far < 1.001 * 60.0 * FOLDING.max_radius
    mids = c.pixel_to_ground(
        np.array([684.0, 0.0, 1368.0, 684.0]), np.array([0.0, 456.0, 456.0, 912.0]), FlatGround(0.0)
    )[0]
    assert all(poly.buffer(1e-6).contains(Point(p[:2])) for p in mids)
    # a ground point seen at r = 1.5 (beyond the turning point) would project back inside
    # the frame; it is reported as not visible instead
    xn, yn = 1.5 * math.cos(math.radians(20.0)), 1.5 * math.sin(math.radians(20.0))
    u, v = FOLDING.project(np.array([xn]), np.array([yn]))
    assert 0 < u[0] < 1368 and 0 < v[0] < 912
    ground = c.pose.centre + 60.0 * (c.pose.rotation() @ np.array([xn, yn, 1.0]))
    _, _, visible = c.ground_to_pixel(ground[0], ground[1], ground[2])
    assert not visible[0]


@settings(max_examples=80, deadline=None)
@given(
    u=st.floats(1.0, 1367.0),
    v=st.floats(300.0, 911.0),
    yaw=st.floats(-180.0, 180.0),
    pitch=st.floats(-90.0, -45.0),
    roll=st.floats(-5.0, 5.0),
    z=st.floats(20.0, 300.0),
)
def test_pixel_ground_pixel_round_trip(
    u: float, v: float, yaw: float, pitch: float, roll: float, z: float
) -> None:
    c = cam(yaw, pitch, roll, z, P4_INTR)
    pts, hit = c.pixel_to_ground(np.array([u]), np.array([v]), FlatGround(0.0), max_range=1e5)
    if not hit[0]:
        return
    u2, v2, front = c.ground_to_pixel(pts[:, 0], pts[:, 1], pts[:, 2])
    assert front[0]
    assert abs(u2[0] - u) < 1e-4 and abs(v2[0] - v) < 1e-4


def test_nadir_footprint_is_the_expected_rectangle() -> None:
    c = cam(yaw=0.0, z=60.0)
    poly, clipped = c.footprint(FlatGround(0.0))
    assert not clipped
    assert poly.area == pytest.approx((4000 * 60 / 2800) * (3000 * 60 / 2800), rel=1e-6)
    minx, miny, maxx, maxy = poly.bounds
    assert maxx - minx == pytest.approx(4000 * 60 / 2800)  # image width runs east at yaw 0
    assert maxy - miny == pytest.approx(3000 * 60 / 2800)


def test_oblique_footprint_is_clipped_above_the_horizon() -> None:
    c = cam(pitch=-5.0)  # upper part of the image sees the sky
    poly, clipped = c.footprint(FlatGround(0.0), max_range=500.0)
    assert clipped and poly.is_valid and poly.area > 0
    with pytest.raises(RayMissError, match="does not meet the ground"):
        c.ground_point(2000.0, 10.0, FlatGround(0.0), max_range=500.0)


def _sloped_dsm(slope: float = 0.2) -> DSMGround:
    # 0.5 m pixels, 400 x 400 m, plane z = 10 + slope * (x - 499800)
    t = Affine(0.5, 0, 499_800.0, 0, -0.5, 2_300_200.0)
    cols = np.arange(800) + 0.5
    x = 499_800.0 + cols * 0.5
    z = np.tile(10 + slope * (x - 499_800.0), (800, 1))
    return DSMGround(z, t, "EPSG:32648")


@pytest.mark.parametrize("pitch", [-90.0, -60.0, -30.0])
def test_dsm_marching_matches_analytic_plane(pitch: float) -> None:
    dsm = _sloped_dsm()
    c = cam(yaw=70.0, pitch=pitch, z=150.0)
    u = np.array([2000.0, 200.0, 3800.0, 1000.0])
    v = np.array([1500.0, 2900.0, 2500.0, 2000.0])
    pts, hit = c.pixel_to_ground(u, v, dsm)
    assert hit.all()
    expected = 10 + 0.2 * (pts[:, 0] - 499_800.0)
    assert np.allclose(pts[:, 2], expected, atol=0.02)
    # on the ray: the inverse gives back the pixel
    u2, v2, _ = c.ground_to_pixel(pts[:, 0], pts[:, 1], pts[:, 2])
    assert np.allclose(u2, u, atol=0.05) and np.allclose(v2, v, atol=0.05)


def test_ray_leaving_the_dsm_is_a_clear_error() -> None:
    dsm = _sloped_dsm()
    c = Camera(PLAIN, Pose(499_810.0, 2_300_190.0, 150.0, 315.0, -20.0, 0.0, "EPSG:32648"))  # looks out NW
    with pytest.raises(RayMissError, match="outside the DSM"):
        c.ground_point(2000.0, 1500.0, dsm)


def test_uncertainty_matches_hand_propagation_at_nadir() -> None:
    c = cam(z=60.0)
    s = PoseSigma(horizontal_m=2.5, vertical_m=3.0, yaw_deg=2.0, pitch_deg=1.0, roll_deg=1.0)
    r = ground_uncertainty(c, 2000.0, 1500.0, FlatGround(0.0), s)
    # image centre at nadir: yaw and height do not move it; pitch and roll move it 60 m * tan(1 deg) each
    assert r == pytest.approx(math.sqrt(2.5**2 + 2 * (60 * math.tan(math.radians(1.0))) ** 2), rel=0.01)
    oblique = ground_uncertainty(cam(pitch=-40.0), 2000.0, 1500.0, FlatGround(0.0), s)
    # pitch -40 deg, 60 m up: ground distance D = h/tan(40), slant R = h/sin(40)
    th, h = math.radians(40.0), 60.0
    d_pitch = h / math.sin(th) ** 2 * math.radians(1.0)
    d_yaw = h / math.tan(th) * math.radians(2.0)
    d_bank = h / math.sin(th) * math.radians(1.0)
    d_z = 3.0 / math.tan(th)
    expected = math.sqrt(2.5**2 + d_pitch**2 + d_yaw**2 + d_bank**2 + d_z**2)
    assert oblique == pytest.approx(expected, rel=0.05)


@settings(max_examples=40, deadline=None)
@given(
    lon=st.floats(-179.0, 179.0),
    lat=st.floats(-70.0, 70.0),
    yaw=st.floats(-180.0, 180.0),
    pitch=st.floats(-90.0, -40.0),
    east=st.floats(-20.0, 20.0),
    north=st.floats(-20.0, 20.0),
)
def test_gps_pose_chain_against_an_independent_topocentric_camera(
    lon: float, lat: float, yaw: float, pitch: float, east: float, north: float
) -> None:
    """Anywhere on Earth (both hemispheres, zone edges): UTM + grid convergence + DJI angles agree
    with a look-at camera built in the local tangent plane, to < 0.1 m at 60 m above ground."""
    from drone_synth import ShotSpec, geodesic_m, offset_lonlat, project_markers
    from pyproj import Transformer

    ground_h = 20.0
    spec = ShotSpec(lon, lat, ground_h + 60.0, 60.0, yaw, pitch, width=4000, height=3000, focal_px=2800.0)
    # a ground point in view: ahead along the heading, plus a small offset
    ahead = 60.0 / math.tan(math.radians(-pitch)) if pitch < -45 else 60.0
    mlon, mlat = offset_lonlat(
        lon, lat, ahead * math.sin(math.radians(yaw)) + east, ahead * math.cos(math.radians(yaw)) + north
    )
    u, v = project_markers(spec, np.array([[mlon, mlat]]), ground_h)
    pose = Pose.from_gps(lon, lat, spec.abs_alt, yaw, pitch, 0.0)
    c = Camera(Intrinsics(4000, 3000, 2800.0, 2800.0, 2000.0, 1500.0), pose)
    p = c.ground_point(float(u[0]), float(v[0]), FlatGround(ground_h), max_range=1e4)
    glon, glat = Transformer.from_crs(pose.crs, "EPSG:4326", always_xy=True).transform(p[0], p[1])
    assert geodesic_m(glon, glat, mlon, mlat) < 0.1


def _march_one_ray(dsm: DSMGround, origin: np.ndarray, d: np.ndarray, max_range: float) -> float | None:
    """The plain per-ray definition: samples every half DSM pixel, then bisection."""
    t_top = (dsm.zmax - origin[2]) / d[2] if d[2] < 0 else 0.0
    t_bot = (dsm.zmin - origin[2]) / d[2] if d[2] < 0 else max_range
    t0, t1 = float(np.clip(t_top, 0, max_range)), float(np.clip(t_bot, 0, max_range))
    prev = None
    for t in np.arange(t0, t1 + dsm.step, dsm.step):
        p = origin + d * t
        g = dsm.height_at(np.array([p[0]]), np.array([p[1]]))[0]
        if not np.isfinite(g):
            return None
        if p[2] <= g:
            if prev is None:
                return float(t)
            lo, hi = prev, float(t)
            for _ in range(12):
                mid = 0.5 * (lo + hi)
                q = origin + d * mid
                if q[2] <= dsm.height_at(np.array([q[0]]), np.array([q[1]]))[0]:
                    hi = mid
                else:
                    lo = mid
            return 0.5 * (lo + hi)
        prev = float(t)
    return None


def test_vectorised_dsm_marching_equals_the_per_ray_definition() -> None:
    rng = np.random.default_rng(3)
    z = 10.0 + np.arange(60)[:, None] * 1.2 + 15.0 * rng.random((60, 80))  # rough slope, 2 m px
    z[20:25, 30:40] = np.nan
    dsm = DSMGround(z, Affine(2.0, 0, 1000.0, 0, -2.0, 5000.0), "EPSG:32648")
    cam = Camera(
        Intrinsics(400, 300, 300.0, 300.0, 200.0, 150.0),
        Pose(1080.0, 4890.0, 130.0, 10.0, -30.0, 0.0, "EPSG:32648"),  # looks down a slope: long marches
    )
    u, v = rng.uniform(-50, 450, 800), rng.uniform(-200, 350, 800)
    dirs = cam.rays(u, v)
    pts, hit = dsm.intersect(cam.pose.centre, dirs, 400.0)
    expected = [_march_one_ray(dsm, cam.pose.centre, d, 400.0) for d in dirs]
    assert hit.sum() > 50 and (~hit).sum() > 50  # both cases exercised
    for p, h, t, dirs_i in zip(pts, hit, expected, dirs, strict=True):
        assert h == (t is not None)
        if t is not None:
            assert np.allclose(p, cam.pose.centre + t * dirs_i, atol=1e-6)
