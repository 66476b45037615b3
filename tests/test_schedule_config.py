"""Schedule file validation, season window, due-pass computation, province areas, clock."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import box

from burnwatch.errors import ConfigError, InputError
from burnwatch.schedule.config import FirmsSource, SatelliteSource, SeasonWindow, area_aoi, load_schedule
from burnwatch.schedule.passes import CatalogHit, FakeClock, firms_slots, lookback_window, satellite_passes
from burnwatch.types import AOI

UTC = timezone.utc
GOOD = """
watch_areas:
  - name: delta
    bbox: [105.9, 20.9, 106.0, 21.0]
sources:
  sentinel2: {}
  firms: {every_hours: 6}
notify:
  webhooks: ["http://127.0.0.1:9/hook"]
"""


def _write(tmp_path: Path, text: str, name: str = "schedule.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_yaml_and_toml(tmp_path: Path) -> None:
    sched = load_schedule(_write(tmp_path, GOOD))
    assert (sched.season.start, sched.season.end, sched.max_lookback_days) == ("09-01", "04-30", 10.0)
    assert sched.sources_of(sched.watch_areas[0]) == ["sentinel2", "firms"]
    assert sched.sources.sentinel2 == SatelliteSource()  # sentinel2-l1c, 60 %, 20 m
    assert sched.resolve(sched.out_dir) == tmp_path / "scans"
    toml = """
[[watch_areas]]
name = "delta"
bbox = [105.9, 20.9, 106.0, 21.0]
sources = ["landsat"]
[sources.landsat]
collection = "landsat-ot-l1"
resolution_m = 30
[season]
start = "10-15"
end = "03-31"
"""
    sched = load_schedule(_write(tmp_path, toml, "s.toml"))
    assert sched.sources_of(sched.watch_areas[0]) == ["landsat"] and sched.season.start == "10-15"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("watch_areas: []\nsources: {sentinel2: {}}", "watch_areas: List should have at least 1 item"),
        (GOOD.replace("[105.9, 20.9, 106.0, 21.0]", "[106.0, 20.9, 105.9, 21.0]"), "watch_areas.0: bbox"),
        (GOOD.replace("bbox:", "aoi: a.geojson\n    bbox:"), "give exactly one of aoi, bbox, provinces"),
        (
            GOOD.replace("every_hours: 6", "every_hours: 5"),
            "sources.firms.every_hours: every_hours must divide 24",
        ),
        (GOOD + "  emails: [a@b.org]\n", "notify: emails need an smtp section"),
        (
            GOOD.replace("http://127", "ftp://127"),
            "notify.webhooks: 'ftp://127.0.0.1:9/hook' is not an http(s) URL",
        ),
        (GOOD + "season: {start: '13-01'}\n", "season.start: '13-01' is not a month-day"),
        (GOOD + "colour: red\n", "colour: Extra inputs are not permitted"),
        (
            GOOD.replace("bbox: [105.9, 20.9, 106.0, 21.0]", "provinces: [Hanoi]"),
            "provinces need a boundaries section",
        ),
        (
            GOOD.replace("name: delta", "name: delta\n    sources: [landsat]"),
            "source(s) landsat not configured",
        ),
        (GOOD + "poll_minutes: .inf\n", "poll_minutes: Input should be a finite number"),
        (GOOD + "poll_minutes: 1e9\n", "poll_minutes: Input should be less than or equal to 43200"),
        (GOOD + "retry: {backoff_minutes: .nan}\n", "retry.backoff_minutes: Input should be a finite"),
        (GOOD + "retry: {backoff_minutes: 1e300}\n", "retry.backoff_minutes: Input should be less than"),
        (GOOD.replace("name: delta", "name: '..'"), "watch_areas.0.name: area name '..' is not"),
        (GOOD.replace("name: delta", "name: ."), "watch_areas.0.name: area name '.' is not"),
        ("watch_areas: [\n", "not valid YAML"),
        ("- just\n- a list\n", "the schedule must be a mapping"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_schedule(path)
    assert str(info.value).startswith(f"{path}: ") and expected in str(info.value)


def test_missing_and_wrong_kind_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="schedule file not found"):
        load_schedule(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"\.yaml, \.yml or \.toml"):
        load_schedule(_write(tmp_path, GOOD, "schedule.json"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_schedule(_write(tmp_path, "a = [", "bad.toml"))


def test_season_window_crosses_the_new_year() -> None:
    season = SeasonWindow()
    assert season.contains(datetime(2025, 9, 1, tzinfo=UTC)) and season.contains(
        datetime(2026, 4, 30, 23, tzinfo=UTC)
    )
    assert not season.contains(datetime(2026, 5, 1, tzinfo=UTC)) and not season.contains(
        datetime(2025, 8, 31, tzinfo=UTC)
    )
    assert season.bounds(datetime(2026, 1, 15, tzinfo=UTC)) == (
        datetime(2025, 9, 1, tzinfo=UTC),
        datetime(2026, 5, 1, tzinfo=UTC),
    )
    assert season.bounds(datetime(2025, 10, 1, tzinfo=UTC)) == (
        datetime(2025, 9, 1, tzinfo=UTC),
        datetime(2026, 5, 1, tzinfo=UTC),
    )
    summer = SeasonWindow(start="05-01", end="08-31")
    assert summer.bounds(datetime(2026, 6, 1, tzinfo=UTC)) == (
        datetime(2026, 5, 1, tzinfo=UTC),
        datetime(2026, 9, 1, tzinfo=UTC),
    )
    leap = SeasonWindow(start="11-01", end="02-29")
    assert leap.bounds(datetime(2027, 1, 1, tzinfo=UTC)) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),  # 28 Feb 2027 inclusive
    )


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
def test_season_bounds_contain_the_instant(naive: datetime) -> None:
    when = naive.replace(tzinfo=UTC)
    bounds = SeasonWindow().bounds(when)
    assert (bounds is not None) == SeasonWindow().contains(when)
    if bounds is not None:
        assert bounds[0] <= when < bounds[1]
        assert bounds[1] - bounds[0] in (timedelta(days=242), timedelta(days=243))  # 1 Sep - 30 Apr


def test_firms_slots_are_complete_and_aligned() -> None:
    spec = FirmsSource(every_hours=6, latency_hours=3)
    start = datetime(2025, 11, 1, 4, tzinfo=UTC)  # first slot boundary after it: 06:00
    slots = firms_slots("a", spec, (start, datetime(2025, 11, 2, 8, 59, tzinfo=UTC)))
    assert [p.pass_id for p in slots] == [
        "VIIRS_SNPP_NRT:2025-11-01T06",
        "VIIRS_SNPP_NRT:2025-11-01T12",
        "VIIRS_SNPP_NRT:2025-11-01T18",
    ]  # the 02T00 slot ends at 06:00 and is complete 3 h later, at 09:00
    slots = firms_slots("a", spec, (start, datetime(2025, 11, 2, 9, tzinfo=UTC)))
    assert slots[-1].pass_id == "VIIRS_SNPP_NRT:2025-11-02T00"
    assert (slots[-1].start, slots[-1].end) == (
        datetime(2025, 11, 2, tzinfo=UTC),
        datetime(2025, 11, 2, 6, tzinfo=UTC),
    )


def test_satellite_passes_one_per_day_under_the_cloud_limit() -> None:
    hits = [
        CatalogHit("a", datetime(2025, 11, 3, 3, 35, tzinfo=UTC), 10.0),
        CatalogHit("b", datetime(2025, 11, 3, 3, 36, tzinfo=UTC), 30.0),  # second granule, same day
        CatalogHit("c", datetime(2025, 11, 8, 3, 35, tzinfo=UTC), None),
    ]
    asked: list[tuple[str, float | None]] = []

    def search(
        collection: str, aoi: AOI, start: datetime, end: datetime, max_cloud: float | None
    ) -> list[CatalogHit]:
        asked.append((collection, max_cloud))
        return hits

    window = (datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 11, 9, tzinfo=UTC))
    passes = satellite_passes(
        "a",
        "sentinel2",
        SatelliteSource(max_cloud=40),
        AOI(box(0, 0, 1, 1)),
        window,
        search,
    )
    assert [(p.pass_id, p.cloud_cover) for p in passes] == [
        ("sentinel2-l1c:2025-11-03", 20.0),
        ("sentinel2-l1c:2025-11-08", None),
    ]
    assert passes[0].start == datetime(2025, 11, 3, tzinfo=UTC) and passes[0].end == datetime(
        2025, 11, 4, tzinfo=UTC
    )
    assert asked == [("sentinel2-l1c", 40)]


def test_lookback_window(tmp_path: Path) -> None:
    sched = load_schedule(_write(tmp_path, GOOD + "max_lookback_days: 5\n"))
    now = datetime(2025, 9, 3, tzinfo=UTC)
    assert lookback_window(sched, now) == (datetime(2025, 9, 1, tzinfo=UTC), now)  # not before the season
    assert lookback_window(sched, datetime(2025, 7, 1, tzinfo=UTC)) is None
    assert lookback_window(sched, datetime(2026, 5, 3, tzinfo=UTC)) == (
        datetime(2026, 4, 28, tzinfo=UTC),
        datetime(2026, 5, 1, tzinfo=UTC),
    )


def test_province_areas_from_a_boundaries_file(tmp_path: Path) -> None:
    ring = [[105.9, 20.5], [106.3, 20.5], [106.3, 20.9], [105.9, 20.9], [105.9, 20.5]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Hưng Yên"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    ]}  # fmt: skip
    (tmp_path / "b.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    text = (
        "boundaries: {path: b.geojson}\nsources: {firms: {}}\n"
        "watch_areas:\n  - {name: hy, provinces: ['Hưng Yên']}\n  - {name: x, provinces: ['Atlantis']}\n"
    )
    sched = load_schedule(_write(tmp_path, text))
    assert area_aoi(sched, sched.watch_areas[0]).bbox == pytest.approx((105.9, 20.5, 106.3, 20.9))
    with pytest.raises(InputError, match="no province named 'Atlantis'"):
        area_aoi(sched, sched.watch_areas[1])


def test_province_names_resolve_in_the_real_boundaries(tmp_path: Path, shared_dir: Path) -> None:
    from conftest import shared_file

    path = shared_file(shared_dir, "data/boundaries/vn_provinces_34_2025.geojson")
    text = f"boundaries: {{path: '{path}'}}\nsources: {{firms: {{}}}}\nwatch_areas:\n  - {{name: hy, provinces: ['Hưng Yên', 'Ninh Bình']}}\n"
    sched = load_schedule(_write(tmp_path, text))
    w, s, e, n = area_aoi(sched, sched.watch_areas[0]).bbox
    assert 105.0 < w < e < 107.5 and 19.0 < s < n < 21.5  # Red River Delta


def test_fake_clock_sleep_advances_time() -> None:
    clock = FakeClock(datetime(2025, 11, 1, tzinfo=UTC))
    clock.sleep(900, threading.Event())
    assert clock.now() == datetime(2025, 11, 1, 0, 15, tzinfo=UTC) and clock.sleeps == [900]


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    import re

    import yaml

    from burnwatch.schedule.config import schedule_from_dict

    doc = (Path(__file__).resolve().parents[1] / "docs" / "scheduling.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert example is not None
    sched = schedule_from_dict(yaml.safe_load(example.group(1)), tmp_path / "schedule.yaml")
    assert [a.name for a in sched.watch_areas] == ["hung-yen", "test-box", "from-file"]
    assert sched.sources.names() == ["sentinel2", "landsat", "firms"] and sched.notify.smtp is not None


@pytest.mark.parametrize(("backoff", "factor"), [(15.0, 1e6), (43200.0, 1e300), (1.0, 10.0)])
def test_retry_delay_is_capped_without_overflow(backoff: float, factor: float) -> None:
    from datetime import timedelta

    from burnwatch.schedule.config import Retry

    retry = Retry(max_attempts=50, backoff_minutes=backoff, factor=factor, max_backoff_hours=12)
    assert [retry.delay(n) for n in (40, 50)] == [timedelta(hours=12)] * 2
    assert retry.delay(1) == timedelta(minutes=min(backoff, 720))
