"""Run manifests: hashes of inputs and outputs, versions, times, secrets masked, verification."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import burnwatch
from burnwatch.errors import CorruptFileError, InputError
from burnwatch.publish.manifest import (
    SCHEMA,
    package_versions,
    read_manifest,
    request_hash,
    verify_manifest,
    write_manifest,
)

T0 = datetime(2024, 3, 1, 3, 0, tzinfo=timezone.utc)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "scene.tif").write_bytes(b"fake tiff bytes")
    out = tmp_path / "out"
    (out / "vendor" / "leaflet").mkdir(parents=True)
    (out / "hotspots.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    (out / "vendor" / "leaflet" / "leaflet.js").write_text("/* js */")
    return tmp_path


def test_manifest_records_everything(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURNWATCH_FIRMS_MAP_KEY", "abcdef0123456789SECRET")
    out = run_dir / "out"
    path = write_manifest(
        out / "manifest.json",
        inputs=[run_dir / "in" / "scene.tif",
                "https://firms.modaps.eosdis.nasa.gov/api/area/csv/abcdef0123456789SECRET/VIIRS_SNPP_NRT/105,20,107,22/2",
                {"collection": "sentinel-2-l1c", "bbox": [105.0, 20.0, 107.0, 22.0], "time": T0}],
        outputs=[out / "hotspots.geojson", out / "vendor"],
        parameters={"aoi": (105.0, 20.0, 107.0, 22.0), "start": T0, "out": out, "min_confidence": "nominal"},
        algorithms={"hu2021_s2": "1.0", "schroeder2016": "1.0"},
        started=T0, finished=T0 + timedelta(seconds=42), command=["burnwatch", "scan", "--source", "firms"],
    )
    text = path.read_text(encoding="utf-8")
    assert "SECRET" not in text and "***" in text
    data = json.loads(text)
    assert data["schema"] == SCHEMA
    assert data["burnwatch_version"] == burnwatch.__version__
    assert data["python"].count(".") == 2 and data["platform"]
    for pkg in ("numpy", "rasterio", "shapely", "pyproj", "sentinelhub", "folium", "onnxruntime", "GDAL"):
        assert data["packages"][pkg], pkg
    assert data["started_utc"] == "2024-03-01T03:00:00+00:00"
    assert data["finished_utc"] == "2024-03-01T03:00:42+00:00"
    assert data["parameters"] == {"aoi": [105.0, 20.0, 107.0, 22.0], "start": "2024-03-01T03:00:00+00:00",
                                  "out": str(out), "min_confidence": "nominal"}
    assert data["algorithms"] == {"hu2021_s2": "1.0", "schroeder2016": "1.0"}
    assert data["command"] == ["burnwatch", "scan", "--source", "firms"]
    scene, url, req = data["inputs"]
    assert scene == {"kind": "file", "path": str((run_dir / "in" / "scene.tif").resolve()),
                     "bytes": 15, "sha256": _sha(b"fake tiff bytes")}
    assert url["kind"] == "remote" and url["request"].endswith("/api/area/csv/***/VIIRS_SNPP_NRT/105,20,107,22/2")
    assert url["sha256"] == request_hash(url["request"])
    assert req["request"]["time"] == "2024-03-01T03:00:00+00:00" and len(req["sha256"]) == 64
    outputs = {o["path"]: o for o in data["outputs"]}
    assert set(outputs) == {"hotspots.geojson", "vendor/leaflet/leaflet.js"}  # relative, manifest itself excluded
    assert outputs["vendor/leaflet/leaflet.js"]["sha256"] == _sha(b"/* js */")


def test_request_hash_is_canonical() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
    assert request_hash("x") == _sha(b"x")


def test_round_trip_and_verify_detects_changes(run_dir: Path) -> None:
    out = run_dir / "out"
    path = write_manifest(out / "manifest.json", [run_dir / "in" / "scene.tif"], [out],
                          {"k": 1}, {"alg": "2"}, started=T0)
    manifest = read_manifest(path)
    assert manifest.algorithms == {"alg": "2"} and manifest.parameters == {"k": 1}
    assert manifest.inputs[0].sha256 == _sha(b"fake tiff bytes")
    assert verify_manifest(path) == []
    (out / "hotspots.geojson").write_text("tampered")
    (run_dir / "in" / "scene.tif").unlink()
    problems = verify_manifest(path)
    assert "hotspots.geojson: sha256 differs" in problems
    assert any(p.endswith("scene.tif: missing") for p in problems)


def test_missing_files_and_bad_manifests(run_dir: Path) -> None:
    with pytest.raises(InputError, match="output listed in the manifest does not exist"):
        write_manifest(run_dir / "m.json", [], [run_dir / "nope.tif"], {}, {})
    with pytest.raises(InputError, match="input file does not exist"):
        write_manifest(run_dir / "m.json", [run_dir / "gone.tif"], [], {}, {})
    bad = run_dir / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CorruptFileError, match="unreadable run manifest"):
        read_manifest(bad)
    bad.write_text('{"schema": "something-else"}')
    with pytest.raises(CorruptFileError, match="not a burnwatch run manifest"):
        read_manifest(bad)


def test_package_versions_skip_missing() -> None:
    versions = package_versions(["numpy", "surely-not-installed-pkg"])
    assert set(versions) == {"numpy"}


def test_missing_inputs_can_be_recorded_instead_of_raising(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    here = tmp_path / "here.csv"
    here.write_text("a\n", encoding="utf-8")
    gone = tmp_path / "gone.tif"
    with pytest.raises(InputError, match="does not exist"):
        write_manifest(out / "manifest.json", [here, gone], [], {}, {})
    path = write_manifest(out / "manifest.json", [here, gone], [], {}, {}, missing_inputs="record")
    inputs = json.loads(path.read_text(encoding="utf-8"))["inputs"]
    assert [r["kind"] for r in inputs] == ["file", "missing"] and inputs[1]["path"] == str(gone.resolve())
    assert verify_manifest(path) == []  # a missing input is not a changed file
