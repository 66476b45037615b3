"""Reading ingest inputs: scan folders with a run manifest, flight folders, FIRMS CSVs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dbfixtures import make_hotspot

from burnwatch.errors import InputError
from burnwatch.publish.manifest import write_manifest
from burnwatch.publish.vector import write_hotspots
from burnwatch.store.inputs import read_input

FIRMS_CSV = (
    "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight\n"
    "20.80,106.05,320.5,1.0,1.0,2022-03-28,0315,Aqua,85,6.1NRT,295.1,12.3,D\n"
    "20.81,106.06,318.0,1.0,1.0,2022-03-28,0315,Aqua,40,6.1NRT,294.0,5.1,D\n"
)


def test_scan_folder_with_run_manifest(tmp_path: Path) -> None:
    scan = tmp_path / "scan"
    hs = write_hotspots([make_hotspot(106.05, 20.8), make_hotspot(106.06, 20.8)], scan / "hotspots.geojson")
    scene = tmp_path / "B12.tif"
    scene.write_bytes(b"fake scene bytes")
    write_manifest(scan / "manifest.json", [scene], [hs], {"threshold": 0.3}, {"hu2021": "1"})
    hotspots, rec = read_input(scan)
    assert len(hotspots) == 2 and rec.kind == "scan" and rec.source == "sentinel2"
    assert rec.parameters == {"threshold": 0.3} and rec.software_versions["hu2021"] == "1"
    assert any(
        v == __import__("hashlib").sha256(b"fake scene bytes").hexdigest() for v in rec.input_hashes.values()
    )
    assert rec.started_at is not None
    again = read_input(scan)[1]
    assert again.fingerprint == rec.fingerprint  # same run -> same scan record


def test_flight_folder_and_firms_csv(tmp_path: Path) -> None:
    flight = tmp_path / "flight"
    write_hotspots([], flight / "hotspots.geojson")
    (flight / "report.json").write_text(
        json.dumps({"flight_id": "f-123", "files": [{"name": "a.jpg", "sha256": "ab" * 32}]})
    )
    hotspots, rec = read_input(flight)
    assert hotspots == [] and rec.kind == "flight" and rec.parameters["flight_id"] == "f-123"
    assert rec.input_hashes["a.jpg"] == "ab" * 32
    csv_path = tmp_path / "firms.csv"
    csv_path.write_text(FIRMS_CSV)
    hotspots, rec = read_input(csv_path)
    assert rec.kind == "firms" and [h.confidence_class for h in hotspots] == ["high", "nominal"]


def test_firms_static_types_are_left_out_of_ingest(tmp_path: Path) -> None:
    header, first, second = FIRMS_CSV.splitlines()
    path = tmp_path / "sp.csv"
    path.write_text(f"{header},type\n{first},0\n{second},2\n")
    hotspots, rec = read_input(path)
    assert [h.attributes["firms_type"] for h in hotspots] == [0]
    assert rec.parameters["left_out_static_sources"] == {"other static land source": 1}


def test_cspp_afimg_text_is_ingested_as_firms(tmp_path: Path) -> None:
    path = tmp_path / "AFIMG_npp_d20240315_t0618123_e0619365_b1_c1_cspp_dev.txt"
    path.write_text("# Active Fires I-band EDR\n#\n21.0, 105.8, 330.0, 0.375, 0.375, 9, 10.5\n")
    hotspots, rec = read_input(path)
    assert rec.kind == "firms" and rec.source == "cspp" and len(hotspots) == 1
    assert hotspots[0].attributes["satellite"] == "Suomi NPP"


@pytest.mark.shared
def test_real_afimg_file_is_ingested(shared_dir: Path) -> None:
    from conftest import shared_file

    (path,) = sorted(shared_file(shared_dir, "data/firms").glob("AFIMG_j01_*.txt"))
    hotspots, rec = read_input(path)
    assert len(hotspots) == 18 and rec.kind == "firms"


def test_bad_inputs_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_input(tmp_path / "missing.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no hotspots\.geojson"):
        read_input(tmp_path / "empty")
    (tmp_path / "x.tif").write_bytes(b"II*")
    with pytest.raises(InputError, match=r"x\.tif"):
        read_input(tmp_path / "x.tif")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"bad\.csv"):
        read_input(bad)
    with pytest.raises(InputError, match="unknown input kind"):
        read_input(bad, kind="satellite")
