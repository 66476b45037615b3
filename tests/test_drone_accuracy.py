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


def test_fc300s_footprints_overlap_the_point_cloud(shared_dir: Path) -> None:
    shared_file(shared_dir, "data/drone/dji_fc300s_brighton/model.laz")
    res = _bench().bench_brighton(shared_dir)
    assert res["crs"] == "EPSG:32615"
    assert all(r["inside_fraction"] > 0.4 for r in res["rows"])
    assert res["union_inside_fraction"] > 0.5
    # photo orthorectified with its own metadata vs the cloud's orthoimage: consumer-GNSS-level offset
    assert res["shift_median_m"] <= 3.5 and res["shift_max_m"] <= 5.0
    assert all(r["response"] > 0.15 for r in res["rows"])
