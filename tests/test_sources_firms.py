"""FIRMS CSV parsing (MODIS and VIIRS layouts) and the area API against a local server."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_file
from fakeserver import FakeServer, Reply
from shapely.geometry import box

from burnwatch.config import load_settings
from burnwatch.errors import AuthError, ConfigError, InputError, SourceError
from burnwatch.sources.base import parse_aoi
from burnwatch.sources.firms import FirmsClient, day_chunks, modis_confidence_class, read_firms_csv

VIETNAM = "102.1,8.2,109.5,23.4"
MODIS_HEADER = "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,confidence,version,bright_t31,frp,daynight"
VIIRS_HEADER = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight"
VIIRS_ROWS = [
    "21.02851,105.80420,335.2,0.39,0.36,2024-03-15,0618,N,VIIRS,n,2.0NRT,291.5,4.7,D",
    "21.10000,105.90000,367.0,0.45,0.39,2024-03-15,0618,N,VIIRS,h,2.0NRT,295.1,12.25,D",
    "20.50000,106.10000,301.4,0.40,0.37,2024-03-16,1842,N,VIIRS,l,2.0NRT,280.0,0.9,N",
]


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_viirs_layout_confidence_footprint_and_time(tmp_path: Path) -> None:
    path = _write(tmp_path, "viirs.csv", [VIIRS_HEADER, *VIIRS_ROWS])
    hs = read_firms_csv(path)
    assert [h.confidence_class for h in hs] == ["nominal", "high", "low"]
    first = hs[0]
    assert (first.source, first.sensor, first.algorithm) == ("firms", "VIIRS", "firms-viirs-375m")
    assert first.time == datetime(2024, 3, 15, 6, 18, tzinfo=timezone.utc)
    assert hs[2].time == datetime(2024, 3, 16, 18, 42, tzinfo=timezone.utc)
    assert first.frp_mw == pytest.approx(4.7)
    assert first.attributes["brightness_k"] == pytest.approx(335.2)
    assert first.crs == "EPSG:32648"
    # footprint: 0.39 km x 0.36 km around the centre
    assert first.footprint_native is not None
    minx, miny, maxx, maxy = first.footprint_native.bounds
    assert maxx - minx == pytest.approx(390.0)
    assert maxy - miny == pytest.approx(360.0)
    assert first.footprint.contains(
        box(first.lon - 1e-4, first.lat - 1e-4, first.lon + 1e-4, first.lat + 1e-4)
    )
    assert 0.0 < hs[2].confidence < 0.3 <= first.confidence < 0.8 <= hs[1].confidence


@pytest.mark.parametrize(
    ("pct", "cls"), [(0, "low"), (29, "low"), (30, "nominal"), (79, "nominal"), (80, "high"), (100, "high")]
)
def test_modis_confidence_thresholds(pct: int, cls: str) -> None:
    assert modis_confidence_class(pct) == cls


def test_malformed_rows_are_reported_and_good_rows_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [
        MODIS_HEADER,
        "21.0,105.8,330.1,1.0,1.0,2022-03-28,0330,T,85,6.1NRT,300.0,20.5,D",  # line 2 good
        "abc,105.8,330.1,1.0,1.0,2022-03-28,0330,T,85,6.1NRT,300.0,20.5,D",  # line 3 bad latitude
        "21.0,105.8,330.1,1.0,1.0,2022-13-28,0330,T,85,6.1NRT,300.0,20.5,D",  # line 4 bad date
        "21.0,105.8,330.1,1.0,1.0,2022-03-28,0330,T,185,6.1NRT,300.0,20.5,D",  # line 5 confidence > 100
        "21.0,105.8,330.1",  # line 6 short row
        "95.0,105.8,330.1,1.0,1.0,2022-03-28,0330,T,50,6.1NRT,300.0,20.5,D",  # line 7 lat out of range
        "21.1,105.9,340.0,1.2,1.1,2022-03-29,1505,A,50,6.1NRT,301.0,,N",  # line 8 good, no FRP
    ]
    errors: list[InputError] = []
    with caplog.at_level(logging.WARNING):
        hs = read_firms_csv(_write(tmp_path, "modis.csv", lines), errors=errors)
    assert len(hs) == 2
    assert hs[1].frp_mw is None and hs[1].confidence_class == "nominal"
    assert hs[0].confidence == pytest.approx(0.85) and hs[0].confidence_class == "high"
    rows = sorted(int(str(e).split("row ")[1].split(":")[0]) for e in errors)
    assert rows == [3, 4, 5, 6, 7]
    assert all("modis.csv" in str(e) for e in errors)
    assert "row 3" in caplog.text


def test_bad_values_name_the_column_and_the_value(tmp_path: Path) -> None:
    lines = [
        MODIS_HEADER,
        ",105.8,330.1,1.0,1.0,2022-03-28,0330,T,85,6.1NRT,300.0,20.5,D",  # line 2: empty latitude
        "21.0,105.8,hot,1.0,1.0,2022-03-28,0330,T,85,6.1NRT,300.0,20.5,D",  # line 3
        "21.0,105.8,330.1,1.0,1.0,2022-03-28,0330,T,,6.1NRT,300.0,20.5,D",  # line 4
        "21.0,105.8,330.1,1.0,1.0,2022-03-28,2599,T,85,6.1NRT,300.0,20.5,D",  # line 5
        "21.0,105.8,330.1,1.0,x,2022-03-28,0330,T,85,6.1NRT,300.0,20.5,D",  # line 6
    ]
    errors: list[InputError] = []
    read_firms_csv(_write(tmp_path, "m.csv", lines), aoi=parse_aoi(VIETNAM), errors=errors)
    messages = [str(e).split(": ", 1)[1] for e in errors]
    assert messages == [
        "row 2: column 'latitude': '' is not a number (a value is required)",
        "row 3: column 'brightness': 'hot' is not a number",
        "row 4: column 'confidence': '' is not a number (a value is required)",
        "row 5: column 'acq_time': '2599' is not a time of day (HHMM)",
        "row 6: column 'track': 'x' is not a number",
    ]
    assert not any("could not convert" in m for m in messages)


def test_afimg_bad_value_names_the_column(tmp_path: Path) -> None:
    from burnwatch.sources.firms import read_afimg_txt

    path = tmp_path / "AFIMG_npp_d20240315_t0618123_e0619365_b1_c1_cspp_dev.txt"
    path.write_text("# header\n21.0, 105.8, 330.0, 0.375, 0.375, 9, n/a\n")
    errors: list[InputError] = []
    assert read_afimg_txt(path, errors=errors) == []
    assert str(errors[0]).endswith("line 2: column 'frp': 'n/a' is not a number")


def test_type_column_flags_static_sources_and_may_be_absent(tmp_path: Path) -> None:
    from burnwatch.sources.firms import firms_type_flag

    header = MODIS_HEADER + ",type"
    rows = [f"21.0,105.{i}0,330.1,1.0,1.0,2022-03-28,0330,T,85,6.1,300.0,20.5,D,{t}" for i, t in enumerate("0123")]
    errors: list[InputError] = []
    hs = read_firms_csv(_write(tmp_path, "sp.csv", [header, *rows, rows[0][:-1] + "7"]), errors=errors)
    assert [h.attributes["firms_type"] for h in hs] == [0, 1, 2, 3]
    assert [h.flags for h in hs] == [(), *((firms_type_flag(t),) for t in (1, 2, 3))]
    assert hs[2].flags == ("static_source:FIRMS type 2 (other static land source)",)
    assert [str(e).split(": ", 1)[1] for e in errors] == ["row 6: column 'type': '7' is not 0-3"]
    # NRT exports have no type column: nothing flagged, no attribute
    (nrt,) = read_firms_csv(_write(tmp_path, "nrt.csv", [MODIS_HEADER, rows[2][: rows[2].rindex(",")]]))
    assert nrt.flags == () and "firms_type" not in nrt.attributes


def test_wrong_header_is_a_file_level_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "other.csv", ["lat,lon,value", "1,2,3"])
    with pytest.raises(InputError, match=r"other\.csv: not a FIRMS CSV header"):
        read_firms_csv(path)
    with pytest.raises(InputError, match="empty file"):
        read_firms_csv(_write(tmp_path, "empty.csv", [""]))
    with pytest.raises(InputError, match="file not found"):
        read_firms_csv(tmp_path / "missing.csv")


@pytest.mark.shared
def test_real_modis_7day_export_inside_vietnam(shared_dir: Path) -> None:
    path = shared_file(shared_dir, "data/firms/modis_c61_nrt_world_7day_2022-03-28_2022-04-04.csv")
    errors: list[InputError] = []
    hs = read_firms_csv(path, aoi=parse_aoi(VIETNAM), errors=errors)
    assert errors == []
    assert len(hs) == 629  # rows inside 102.1,8.2,109.5,23.4, counted independently below
    import csv

    with path.open() as fh:
        expected = sum(
            1
            for r in csv.DictReader(fh)
            if 102.1 <= float(r["longitude"]) <= 109.5 and 8.2 <= float(r["latitude"]) <= 23.4
        )
    assert len(hs) == expected
    assert {h.sensor for h in hs} == {"MODIS"}
    assert all(
        datetime(2022, 3, 28, tzinfo=timezone.utc) <= h.time < datetime(2022, 4, 5, tzinfo=timezone.utc)
        for h in hs
    )
    assert all(h.frp_mw is not None and h.frp_mw >= 0 for h in hs)
    classes = {h.confidence_class for h in hs}
    assert classes == {"low", "nominal", "high"}
    first = next(h for h in hs if h.lat == pytest.approx(11.16262) and h.lon == pytest.approx(108.33375))
    assert first.frp_mw == pytest.approx(66.63)
    assert first.confidence == pytest.approx(0.94)
    assert first.attributes["satellite"] == "T"
    assert first.time == datetime(2022, 3, 28, 2, 58, tzinfo=timezone.utc)


@pytest.mark.shared
def test_real_modis_1day_export_parses_without_errors(shared_dir: Path) -> None:
    path = shared_file(shared_dir, "data/firms/modis_c61_nrt_world_1day.csv")
    errors: list[InputError] = []
    hs = read_firms_csv(path, errors=errors)
    assert errors == [] and len(hs) == 3125


def test_day_chunks_split_long_ranges() -> None:
    assert day_chunks(date(2024, 3, 1), date(2024, 3, 1)) == [(date(2024, 3, 1), 1)]
    assert day_chunks(date(2024, 3, 1), date(2024, 3, 23)) == [
        (date(2024, 3, 1), 10),
        (date(2024, 3, 11), 10),
        (date(2024, 3, 21), 3),
    ]
    with pytest.raises(InputError):
        day_chunks(date(2024, 3, 2), date(2024, 3, 1))


# ---- the area API against a local server -------------------------------------------------

KEY = "0123456789abcdef0123456789abcdef"


def _client(server: FakeServer) -> FirmsClient:
    settings = load_settings(
        firms_map_key=KEY, firms_base_url=server.url, http_retries=2, http_backoff_s=0.01
    )
    return FirmsClient(settings)


def _csv_body() -> str:
    return "\n".join([VIIRS_HEADER, *VIIRS_ROWS]) + "\n"


def test_area_api_429_then_success_and_range_split(caplog: pytest.LogCaptureFixture) -> None:
    with FakeServer() as server:
        server.add(
            "GET",
            "/api/area/csv/",
            [Reply.text("slow down", 429, {"Retry-After": "0"}), Reply.text(_csv_body())],
        )
        client = _client(server)
        with caplog.at_level(logging.DEBUG):
            hs = client.hotspots(
                parse_aoi("105.5,20.0,106.5,21.5"),
                datetime(2024, 3, 10, tzinfo=timezone.utc),
                datetime(2024, 3, 22, tzinfo=timezone.utc),
            )
        paths = [r.path for r in server.requests]
    # one 429 + first chunk (10 days from 03-10) + second chunk (3 days from 03-20)
    assert paths == [
        f"/api/area/csv/{KEY}/VIIRS_SNPP_NRT/105.5,20,106.5,21.5/10/2024-03-10",
        f"/api/area/csv/{KEY}/VIIRS_SNPP_NRT/105.5,20,106.5,21.5/10/2024-03-10",
        f"/api/area/csv/{KEY}/VIIRS_SNPP_NRT/105.5,20,106.5,21.5/3/2024-03-20",
    ]
    assert len(hs) == 3  # duplicates across chunks collapse to one hotspot each
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("burnwatch"))
    assert KEY not in ours
    assert "/api/area/csv/***/" in ours  # the retry was logged, with the key redacted


def test_area_api_clips_to_aoi_and_time() -> None:
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text(_csv_body()))
        hs = _client(server).hotspots(
            parse_aoi("105.7,20.9,106.0,21.2"),
            datetime(2024, 3, 15, tzinfo=timezone.utc),
            datetime(2024, 3, 15, tzinfo=timezone.utc),  # midnight end = the whole day
        )
    assert [h.confidence_class for h in hs] == ["nominal", "high"]


def test_area_api_500_exhausts_retries_with_clear_error() -> None:
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text("backend down", 500))
        client = _client(server)
        with pytest.raises(SourceError) as info:
            client.hotspots(parse_aoi("105,20,106,21"), datetime(2024, 3, 1), datetime(2024, 3, 2))
        assert server.count("GET") == 3
    message = str(info.value)
    assert "HTTP 500" in message and "3 attempt" in message and "backend down" in message
    assert KEY not in message and "/api/area/csv/***/VIIRS_SNPP_NRT" in message


def test_area_api_invalid_map_key_is_auth_error() -> None:
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text("Invalid MAP_KEY.", 400))
        with pytest.raises(AuthError):
            _client(server).hotspots(parse_aoi("105,20,106,21"), datetime(2024, 3, 1), datetime(2024, 3, 1))
    with FakeServer() as server:  # FIRMS also answers 200 with the message as body
        server.add("GET", "/api/area/csv/", Reply.text("Invalid MAP_KEY."))
        with pytest.raises(AuthError) as info:
            _client(server).hotspots(parse_aoi("105,20,106,21"), datetime(2024, 3, 1), datetime(2024, 3, 1))
    assert KEY not in str(info.value)


def test_area_api_without_key_is_config_error() -> None:
    client = FirmsClient(load_settings(firms_map_key=None, firms_base_url="http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="BURNWATCH_FIRMS_MAP_KEY"):
        client.hotspots(parse_aoi("105,20,106,21"), datetime(2024, 3, 1), datetime(2024, 3, 1))


@pytest.mark.shared
def test_real_cspp_afimg_text_file(shared_dir: Path) -> None:
    from burnwatch.sources.firms import read_afimg_txt

    folder = shared_file(shared_dir, "data/firms")
    (path,) = sorted(folder.glob("AFIMG_j01_*.txt"))
    errors: list[InputError] = []
    hs = read_afimg_txt(path, errors=errors)
    assert errors == [] and len(hs) == 18  # "number of fire pixels: 18" in the header
    assert all(h.time == datetime(2021, 4, 14, 11, 26, 43, tzinfo=timezone.utc) for h in hs)
    assert {h.attributes["satellite"] for h in hs} == {"NOAA-20"}
    first = hs[0]
    assert (first.lat, first.lon) == pytest.approx((59.14783859, 37.85886765))
    assert first.frp_mw == pytest.approx(4.67825794) and first.confidence_class == "nominal"
    assert first.footprint_native is not None
    minx, miny, maxx, maxy = first.footprint_native.bounds
    assert (maxx - minx, maxy - miny) == pytest.approx((375.0, 375.0))


def test_afimg_bad_lines_and_name(tmp_path: Path) -> None:
    from burnwatch.sources.firms import read_afimg_txt

    path = tmp_path / "AFIMG_npp_d20240315_t0618123_e0619365_b1_c1_cspp_dev.txt"
    path.write_text(
        "# header\n21.0, 105.8, 330.0, 0.375, 0.375, 9, 10.5\n21.0, 105.8, 330.0, 0.375\n21.0, 105.8, 330.0, 0.375, 0.375, 5, 1.0\n"
    )
    errors: list[InputError] = []
    hs = read_afimg_txt(path, errors=errors)
    assert len(hs) == 1 and hs[0].confidence_class == "high" and hs[0].attributes["satellite"] == "Suomi NPP"
    assert [str(e).split(": ")[1] for e in errors] == ["line 3", "line 4"]
    other = tmp_path / "fires.txt"
    other.write_text("")
    with pytest.raises(InputError, match="file name"):
        read_afimg_txt(other)


def test_area_api_plain_text_errors_are_source_errors() -> None:
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text("Exceeding allowed transaction limit."))
        with pytest.raises(SourceError, match="transaction limit") as info:
            _client(server).hotspots(parse_aoi("105,20,106,21"), datetime(2024, 3, 1), datetime(2024, 3, 1))
    assert not isinstance(info.value, AuthError)
    with FakeServer() as server:  # an empty answer (no fires) is not an error
        server.add("GET", "/api/area/csv/", Reply.text(""))
        assert (
            _client(server).hotspots(parse_aoi("105,20,106,21"), datetime(2024, 3, 1), datetime(2024, 3, 1))
            == []
        )
    with FakeServer() as server:  # header only: no fires
        server.add("GET", "/api/area/csv/", Reply.text(VIIRS_HEADER + "\n"))
        assert (
            _client(server).hotspots(parse_aoi("105,20,106,21"), datetime(2024, 3, 1), datetime(2024, 3, 1))
            == []
        )


def test_area_api_max_days_is_configurable() -> None:
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text(_csv_body()))
        settings = load_settings(firms_map_key=KEY, firms_base_url=server.url, http_retries=0)
        FirmsClient(settings, max_days=5).hotspots(
            parse_aoi("105,20,106,21"), datetime(2024, 3, 1), datetime(2024, 3, 12)
        )
        assert [r.path.rsplit("/", 2)[1:] for r in server.requests] == [
            ["5", "2024-03-01"],
            ["5", "2024-03-06"],
            ["2", "2024-03-11"],
        ]
    with pytest.raises(InputError):
        FirmsClient(settings, max_days=11)


def test_area_api_failed_chunk_is_recorded_and_good_chunks_kept() -> None:
    aoi, start, end = parse_aoi("105.5,20.0,106.5,21.5"), datetime(2024, 3, 10), datetime(2024, 3, 22)
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text(_csv_body()))
        second = f"/api/area/csv/{KEY}/VIIRS_SNPP_NRT/105.5,20,106.5,21.5/3/2024-03-20"
        server.add("GET", second, Reply.text("boom", 500))
        client = _client(server)
        hs = client.hotspots(aoi, start, end)
        assert server.count("GET") == 1 + 3  # the first chunk, then the second one with 2 retries
    assert len(hs) == 3  # the first chunk's hotspots survive the second chunk's failure
    assert len(client.errors) == 1 and isinstance(client.errors[0], SourceError)
    message = str(client.errors[0])
    assert "2024-03-20" in message and "HTTP 500" in message and KEY not in message


def test_area_api_raises_only_when_every_chunk_failed() -> None:
    aoi, start, end = parse_aoi("105.5,20.0,106.5,21.5"), datetime(2024, 3, 10), datetime(2024, 3, 22)
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text("backend down", 500))
        client = _client(server)
        with pytest.raises(SourceError, match=r"all 2 calls failed.*HTTP 500"):
            client.hotspots(aoi, start, end)
    with FakeServer() as server:  # a rejected key in a later chunk still stops the scan at once
        server.add("GET", "/api/area/csv/", Reply.text(_csv_body()))
        second = f"/api/area/csv/{KEY}/VIIRS_SNPP_NRT/105.5,20,106.5,21.5/3/"
        server.add("GET", second, Reply.text("Invalid MAP_KEY.", 400))
        with pytest.raises(AuthError):
            _client(server).hotspots(aoi, start, end)


def test_reprocessing_task_reports_a_failed_chunk_instead_of_dropping_it(tmp_path: Path) -> None:
    """The season reprocessing's FIRMS task keeps the good chunks and hands the failed one
    back as a job problem (it used to vanish once the client stopped raising for it)."""
    from burnwatch.scale.dask_jobs import FirmsRangeTask, run_local

    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text(_csv_body()))
        second = f"/api/area/csv/{KEY}/VIIRS_SNPP_NRT/105.5,20,106.5,21.5/3/2024-03-20"
        server.add("GET", second, Reply.text("boom", 500))
        settings = load_settings(
            firms_map_key=KEY, firms_base_url=server.url, http_retries=2, http_backoff_s=0.01
        )
        task = FirmsRangeTask(
            "VIIRS_SNPP_NRT", (105.5, 20.0, 106.5, 21.5), datetime(2024, 3, 10), datetime(2024, 3, 23), settings
        )
        job = run_local([task], tmp_path)
    assert not job.errors and len(job.hotspots) == 3
    assert len(job.problems) == 1 and "2024-03-20" in job.problems[0] and "HTTP 500" in job.problems[0]
    assert job.problems[0].startswith(task.label)


@dataclass(frozen=True)
class _FixedTask:
    """A reprocessing task that returns given hotspots (what a FIRMS SP range would)."""

    hotspots: tuple[Any, ...]

    @property
    def key(self) -> str:
        return "fixed-task"

    @property
    def label(self) -> str:
        return "FIRMS MODIS_SP 2024-03-01..2024-03-01"

    def run(self, out_dir: Path, options: Any) -> Any:
        from burnwatch.scale.dask_jobs import TaskResult

        return TaskResult(self.key, self.label, self.hotspots)


def test_reprocessing_does_not_store_static_heat_sources(tmp_path: Path) -> None:
    """FIRMS type 1-3 (volcano, industrial site, gas flare) are suppressed in season
    reprocessing too, as in scan, schedule and ingest."""
    from dbfixtures import make_hotspot

    from burnwatch.scale.reprocess import reprocess
    from burnwatch.sources.firms import firms_type_flag
    from burnwatch.store.db import session_factory
    from burnwatch.store.models import HotspotRow

    fire = make_hotspot(105.80, 21.0, source="firms", sensor="MODIS", algorithm="firms")
    kiln = make_hotspot(105.90, 21.1, source="firms", sensor="MODIS", algorithm="firms").with_flags(
        firms_type_flag(2)
    )
    url = f"sqlite:///{tmp_path / 'bw.db'}"
    report = reprocess([_FixedTask((fire, kiln))], tmp_path / "out", database_url=url, source="firms")
    assert report.added == 1 and report.suppressed == 1
    with session_factory(url)() as session:
        assert session.query(HotspotRow).count() == 1
    from burnwatch.publish.vector import read_hotspots

    assert len(read_hotspots(tmp_path / "out" / "hotspots.geojson")) == 1
    (back,) = read_hotspots(tmp_path / "out" / "suppressed.geojson")
    assert "suppressed" in back.flags
