"""Drone photo metadata (EXIF + DJI XMP), intrinsics, SRT telemetry, real DJI files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_file
from drone_synth import ShotSpec, write_photo

from burnwatch.errors import CorruptFileError, InputError
from burnwatch.sources.drone import discover_flight
from burnwatch.sources.drone_meta import (
    PhotoMeta,
    intrinsics_from_meta,
    parse_dewarp,
    parse_xmp,
    read_photo_meta,
)
from burnwatch.sources.drone_srt import parse_srt, read_srt


def test_written_exif_and_xmp_read_back(tmp_path: Path) -> None:
    spec = ShotSpec(105.85, -21.03, 80.5, 60.2, -45.5, -70.0)
    m = read_photo_meta(write_photo(tmp_path / "a.jpg", spec))
    assert m.lon == pytest.approx(105.85) and m.lat == pytest.approx(-21.03)
    assert (m.abs_alt, m.rel_alt) == (80.5, 60.2)
    assert (m.gimbal_yaw, m.gimbal_pitch, m.camera_yaw) == (-45.5, -70.0, -45.5)
    assert m.flight_yaw == pytest.approx(-42.5)  # airframe heading differs; not used for the camera
    assert m.model == "FC6310" and m.time is not None and m.focal_px == 916.0


def test_exif_gps_alone_and_correctly_spelled_longitude(tmp_path: Path) -> None:
    spec = ShotSpec(-91.99, 46.84, 198.3, 39.8, 45.0, -89.9, xmp_gps=False)
    m = read_photo_meta(write_photo(tmp_path / "b.jpg", spec))
    assert m.lon == pytest.approx(-91.99, abs=1e-6) and m.lat == pytest.approx(46.84, abs=1e-6)
    spec = ShotSpec(1.0, 2.0, 100.0, 50.0, 0.0, -90.0, exif_gps=False, xmp_gps=False)
    path = write_photo(tmp_path / "c.jpg", spec, extra_xmp={"GpsLatitude": "10.5", "GpsLongitude": "106.25"})
    m = read_photo_meta(path)
    assert (m.lat, m.lon) == (10.5, 106.25)


def test_xmp_elements_and_attributes() -> None:
    packet = (
        b'xx<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description drone-dji:GimbalYawDegree="+12.5">'
        b"<Camera:Yaw>274.9</Camera:Yaw></rdf:Description></x:xmpmeta>yy"
    )
    assert parse_xmp(packet) == {"GimbalYawDegree": "+12.5", "Yaw": "274.9"}
    assert parse_xmp(b"no packet") == {}


def test_intrinsics_preference_and_scaling() -> None:
    base = PhotoMeta(
        path="x", sha256="0", width=1368, height=912, model="FC6310R", ref_width=5472, ref_height=3648
    )
    dewarp = (3657.02, 3650.62, -4.03, 23.1, -0.267, 0.112, 0.000925, 0.0000882, -0.0332)
    from dataclasses import replace

    intr, src = intrinsics_from_meta(replace(base, dewarp=dewarp, focal_px=3666.67))
    assert src == "DJI DewarpData"
    assert intr.fx == pytest.approx(3657.02 / 4) and intr.cx == pytest.approx((2736 - 4.03) / 4)
    assert intr.k1 == -0.267
    intr, src = intrinsics_from_meta(replace(base, focal_px=3666.67, centre_x_px=2736.0, centre_y_px=1824.0))
    assert src == "CalibratedFocalLength" and intr.fx == pytest.approx(916.67, abs=0.01)
    intr, src = intrinsics_from_meta(replace(base, width=5472, height=3648, focal_mm=8.8))
    assert src.startswith("FocalLength + sensor table") and intr.fx == pytest.approx(8.8 / 13.2 * 5472)
    intr, src = intrinsics_from_meta(replace(base, model="NEWCAM", width=4000, height=3000, focal_35mm=24.0))
    assert src == "FocalLengthIn35mmFilm" and intr.fx == pytest.approx(24 * 5000 / 43.2666, rel=1e-4)
    with pytest.raises(InputError, match="no focal length"):
        intrinsics_from_meta(replace(base, model="NEWCAM"))


def test_dewarp_data_parsing_says_why_a_tag_is_not_used() -> None:
    good = "2018-07-06;3657.02,3650.62,-4.03,23.1,-0.267,0.112,0.000925,0.0000882,-0.0332"
    values, problem = parse_dewarp(good)
    assert problem is None and values is not None and values[0] == 3657.02 and values[8] == -0.0332
    assert parse_dewarp(None) == (None, None) and parse_dewarp("  ") == (None, None)
    for bad, why in [
        ("2018-07-06;3657.02,3650.62,-4.03", "has 3 values, expected 9"),
        ("2018-07-06;3657.02,x,-4.03,23.1,-0.267,0.112,0.0,0.0,-0.0332", "not a list of numbers"),
        ("2018-07-06;0,0,-4.03,23.1,-0.267,0.112,0.0,0.0,-0.0332", "non-positive"),
        ("2018-07-06;nan,3650.62,-4.03,23.1,-0.267,0.112,0.0,0.0,-0.0332", "non-finite"),
    ]:
        values, problem = parse_dewarp(bad)
        assert values is None and problem is not None and why in problem, (bad, problem)


def test_srt_old_and_new_layouts(tmp_path: Path) -> None:
    new = (
        '1\n00:00:00,000 --> 00:00:00,033\n<font size="28">FrameCnt: 1, DiffTime: 33ms\n'
        "2026-03-01 09:30:01.123\n[iso: 100] [latitude: 21.028300] [longitude: 105.854200] "
        "[rel_alt: 50.100 abs_alt: 62.500] </font>\n\n"
        "2\n00:00:00,033 --> 00:00:00,066\n[latitude: 0.0] [longitude: 0.0] [rel_alt: 0 abs_alt: 0]\n"
    )
    recs = parse_srt(new)
    assert len(recs) == 1 and (recs[0].lat, recs[0].lon, recs[0].rel_alt, recs[0].abs_alt) == (
        21.0283,
        105.8542,
        50.1,
        62.5,
    )
    assert recs[0].time is not None and recs[0].time.second == 1
    with pytest.raises(CorruptFileError, match="no telemetry"):
        parse_srt("1\n00:00:00,000 --> 00:00:01,000\nhello\n")


def test_shared_srt_fixture(shared_dir: Path) -> None:
    recs = read_srt(shared_file(shared_dir, "data/drone/parser_fixtures/video.srt"))
    assert len(recs) == 3  # every block of the fixture has a position
    assert recs[0].lon == pytest.approx(-82.6669) and recs[0].lat == pytest.approx(27.7716)
    assert recs[0].end_s == pytest.approx(1.0)


def test_real_p4rtk_jpeg_in_tiff(shared_dir: Path) -> None:
    path = shared_file(shared_dir, "data/drone/dji_p4rtk_oblique/odm/images/100_0005_0018.tif")
    m = read_photo_meta(path)
    assert (m.width, m.height, m.model) == (1368, 912, "FC6310R")
    assert m.lat == pytest.approx(24.68027804) and m.lon == pytest.approx(120.9517016)  # XMP GpsLongtitude
    assert (m.abs_alt, m.rel_alt, m.gimbal_pitch, m.gimbal_yaw) == (186.57, 99.96, -60.0, 92.9)
    assert m.ref_width == 5472 and m.rtk_std_hgt == pytest.approx(0.02382)
    assert m.dewarp is not None and len(m.dewarp) == 9
    intr, src = intrinsics_from_meta(m)
    assert src == "DJI DewarpData" and intr.fx == pytest.approx(914.255)


def test_real_fc300s_uses_sensor_table(shared_dir: Path) -> None:
    path = shared_file(shared_dir, "data/drone/dji_fc300s_brighton/DJI_0018.JPG")
    m = read_photo_meta(path)
    assert m.model == "FC300S" and m.focal_px is None and m.rel_alt == pytest.approx(39.8)
    assert m.lat == pytest.approx(46.8426, abs=1e-3) and m.lon == pytest.approx(-91.9945, abs=1e-3)
    intr, src = intrinsics_from_meta(m)
    assert "sensor table" in src and intr.fx == pytest.approx(3.61 / 6.17 * 4000)


def test_discover_sorts_roles(shared_dir: Path, tmp_path: Path) -> None:
    files = discover_flight(shared_file(shared_dir, "data/drone/parser_fixtures"))
    names = {p.name for p in files.photos}
    assert "tiny_drone_image.jpg" in names
    assert [p.name for p in files.srt] == ["video.srt"]
    assert [p.name for p in files.orthomosaics] == ["orthophoto.tif"]
    assert {p.name for p in files.ignored} == {"gcp.txt"}


def test_parser_fixtures_flight_reports_every_file(shared_dir: Path, tmp_path: Path) -> None:
    from burnwatch.flights import ingest_flight

    res = ingest_flight(
        shared_file(shared_dir, "data/drone/parser_fixtures"),
        tmp_path / "o",
        detector_factory=None,
        workers=0,
    )
    by = {f.name: f for f in res.files}
    assert by["orthophoto.tif"].status == "orthomosaic" and "EPSG:32615" in by["orthophoto.tif"].messages[0]
    assert by["video.srt"].status == "telemetry" and by["gcp.txt"].status == "ignored"
    # non-DJI cameras without a usable focal length are refused with a reason, not a crash
    for name in ("tiny_drone_image.jpg", "tiny_drone_image_multispec.tif"):
        assert by[name].status == "error" and "no focal length" in by[name].messages[0]


_SRT_GOOD = (
    "1\n00:00:00,000 --> 00:00:01,000\n2026-03-01 09:30:01.000\n"
    "[latitude: 21.030000] [longitude: 105.850000] [rel_alt: 100.0 abs_alt: 120.0]\n"
)


@pytest.mark.parametrize(
    ("bad_block", "why"),
    [
        (
            "2\n00:00:01,000 --> 00:00:02,000\n2026-02-30 10:00:00.000\n"
            "[latitude: 21.030000] [longitude: 105.850000] [rel_alt: 100.0 abs_alt: 120.0]\n",
            "day is out of range",
        ),
        ("2\n00:00:01,000 --> 00:00:02,000\nGPS (105.85.1, 21.03, 10), D 2.80m, H 100.00m\n", "105.85.1"),
        (
            "2\n00:00:01,000 --> 00:00:02,000\n[latitude: 21.03] [longitude: 105.85] [rel_alt: 1.2.3 abs_alt: 9]\n",
            "1.2.3",
        ),
        ("2\n00:00:01,000 --> 00:00:02,000\n[latitude: 95.0] [longitude: 105.85]\n", "out of range"),
    ],
)
def test_srt_malformed_block_is_skipped_and_counted(tmp_path: Path, bad_block: str, why: str) -> None:
    path = tmp_path / "DJI_0001.SRT"
    path.write_text(_SRT_GOOD + "\n" + bad_block)
    recs = read_srt(path)
    assert len(recs) == 1 and recs[0].lat == pytest.approx(21.03) and recs[0].index == 1
    assert len(recs.skipped) == 1 and "block 2" in recs.skipped[0] and why in recs.skipped[0]
    # a file whose only positioned block is malformed: one clear error naming the file and the problem
    path.write_text(bad_block)
    with pytest.raises(CorruptFileError, match="no telemetry records") as err:
        read_srt(path)
    assert err.value.path == str(path) and why in err.value.message and "1 malformed block" in err.value.message


def test_srt_clean_file_has_nothing_skipped() -> None:
    recs = parse_srt(_SRT_GOOD + "\n2\n00:00:01,000 --> 00:00:02,000\n[latitude: 0.0] [longitude: 0.0]\n")
    assert len(recs) == 1 and recs.skipped == []  # (0, 0) = no GPS fix yet: not malformed


@pytest.mark.parametrize(
    "text",
    [
        "1\n00:00:00,000 --> 00:00:01,000\n2026-02-30 10:00:00.000\n[latitude: 21.03] [longitude: 105.85]\n",
        "1\n00:00:00,000 --> 00:00:01,000\nGPS (105.85.1, 21.03, 10), D 2.80m, H 100.00m\n\n",
    ],
)
def test_corrupt_srt_beside_photos_is_one_file_error_not_a_crash(tmp_path: Path, text: str) -> None:
    from burnwatch.flights import ingest_flight

    src = tmp_path / "in"
    src.mkdir()
    write_photo(src / "DJI_0001.JPG", ShotSpec(105.85, 21.03, 120.0, 100.0, 0.0, -90.0))
    (src / "DJI_0001.SRT").write_text(text)
    res = ingest_flight(src, tmp_path / "o", detector_factory=None, workers=0)
    by = {f.name: f for f in res.files}
    assert by["DJI_0001.SRT"].status == "error" and "DJI_0001.SRT" in by["DJI_0001.SRT"].messages[0]
    assert by["DJI_0001.JPG"].status == "ok"
