"""Measured accuracy on the real DJI data in ../shared (skipped when absent).

Runs the functions of ``scripts/bench_drone_accuracy.py`` (the numbers in docs/drone.md).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT, shared_file

pytestmark = pytest.mark.shared


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_drone_accuracy", ROOT / "scripts/bench_drone_accuracy.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_p4rtk_metadata_pose_meets_the_median_goal(shared_dir: Path) -> None:
    shared_file(shared_dir, "data/drone/dji_p4rtk_oblique/odm/odm_dem/dsm.tif")
    res = _bench().bench_p4rtk(shared_dir)
    s = res["summary"]["opk/dsm"]
    assert s["n"] >= 25  # centre, corners and edge midpoints whose rays stay on the DSM
    assert s["median_m"] <= 3.0  # the goal
    centres = [
        r["error_m"]
        for r in res["rows"]
        if r["pixel"] == "centre" and r["reference"] == "opk" and r["ground"] == "dsm"
    ]
    assert len(centres) == 4 and max(centres) <= 3.0
    # max goal (6 m) is NOT met at far oblique corners (gimbal angle noise x slant range, see
    # docs/drone.md); guard against regressions at the measured level
    assert s["max_m"] <= 12.0
    assert res["summary"]["opk/dsm FlightYaw"]["median_m"] > 2 * s["median_m"]  # why GimbalYawDegree
    cams = [r for r in res["rows"] if r["pixel"].startswith("camera centre")]
    assert all(r["error_m"] < 0.1 and abs(r["dz_m"]) < 0.1 for r in cams)  # XMP position = photogrammetric


def test_p4rtk_tie_point_refinement_cuts_the_error(shared_dir: Path) -> None:
    """Attitudes refined from the four frames themselves (the reference only scores them)."""
    shared_file(shared_dir, "data/drone/dji_p4rtk_oblique/odm/odm_dem/dsm.tif")
    res = _bench().bench_p4rtk(shared_dir)
    meta, refined = res["summary"]["opk/dsm"], res["summary"]["opk/dsm refined"]
    assert all(r["refined"] and r["tie_points"] >= 100 for r in res["refinement"])
    assert all(r["rms_after_px"] < 1.0 < r["rms_before_px"] for r in res["refinement"])
    assert refined["n"] >= 25
    assert refined["median_m"] <= 1.0 and refined["median_m"] < 0.5 * meta["median_m"]
    # measured 7.66 m: one grazing top corner of 0142 (see docs/drone.md); the 6 m goal is not met
    assert refined["max_m"] <= 8.0 and refined["max_m"] < meta["max_m"]
    worst_angle = max(abs(a) for r in res["refinement"] for a in r["minus_opk_ypr_deg"]["refined"])
    assert worst_angle < 0.7  # tags were off by up to 2.0°
    n1, n2, n = (sum(r["within_1_2_sigma_of_n"][k] for r in res["refinement"]) for k in range(3))
    assert n1 >= 0.5 * n and n2 >= 0.9 * n  # refined uncertainty is honest


def test_fc300s_footprints_overlap_the_point_cloud(shared_dir: Path) -> None:
    shared_file(shared_dir, "data/drone/dji_fc300s_brighton/model.laz")
    res = _bench().bench_brighton(shared_dir)
    assert res["crs"] == "EPSG:32615"
    assert all(r["inside_fraction"] > 0.4 for r in res["rows"])
    assert res["union_inside_fraction"] > 0.5
    # photo orthorectified with its own metadata vs the cloud's orthoimage: consumer-GNSS-level offset
    assert res["shift_median_m"] <= 3.5 and res["shift_max_m"] <= 5.0
    assert all(r["response"] > 0.15 for r in res["rows"])
