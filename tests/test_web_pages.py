"""Browser acceptance tests in real headless Chromium (Debian chromium via Playwright, started
here): nothing may be requested from outside the machine (no CDN, no tiles).

* An inspector logs in on a phone-sized screen, sees their incident on the map, opens it,
  uploads a field photo with GPS and moves the case to "confirmed burning".
* A drone operator uploads a small flight zip and sees its detections appear (fake detector).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apifixtures import HY, PASSWORD, TB, assign, build_app, flight_zip, gps_jpeg, live_server
from dbfixtures import _fast_password_hashing, sqlite_template  # noqa: F401

from burnwatch.api.app import VENDOR

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, Any, dict[str, int], dict[str, int]]]:  # noqa: F811
    if not (VENDOR / "leaflet" / "leaflet.js").is_file():
        pytest.skip(f"{VENDOR} not filled; run `make setup` (npm ci + scripts/vendor_assets.py)")
    shutil.copyfile(sqlite_template, tmp_path / "burnwatch.db")
    url = f"sqlite:///{tmp_path / 'burnwatch.db'}"
    app, _clock, settings, incidents, cases = build_app(url, tmp_path)
    with live_server(app) as base:
        _APPS[base] = app
        yield base, settings, incidents, cases
        _APPS.pop(base, None)


_APPS: dict[str, Any] = {}


def site_app(base: str) -> Any:
    """The app object behind a live ``site`` (for setting up background jobs)."""
    return _APPS[base]


def _login(page: Any, base: str, username: str, next_page: str = "") -> None:
    page.goto(f"{base}/login" + (f"?next={next_page}" if next_page else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def test_inspector_confirms_burning_from_a_phone(open_recorded, site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, settings, incidents, cases = site
    case_id, incident_id = cases[HY], incidents[HY]
    assign(settings.database_url, case_id, "insp")
    page, log = open_recorded(f"{base}/login")
    page.set_viewport_size(PHONE)
    _login(page, base, "insp")
    assert page.url.endswith("/cases")
    page.wait_for_selector(f"a.case-link[href='/cases/{case_id}']")
    assert "Vụ việc được giao cho tôi" in page.content()  # Vietnamese by default

    page.goto(f"{base}/map")
    marker = page.wait_for_selector(f".incident-icon span[data-incident-id='{incident_id}']")
    assert page.locator(".incident-icon").count() == 1  # the Thái Bình incident is out of scope
    page.wait_for_selector(f"#incident-list a.incident-link[data-id='{incident_id}']")
    page.locator(".leaflet-control-layers").hover()
    layers = page.inner_text(".leaflet-control-layers")
    assert "firms" in layers and "sentinel2" in layers  # one toggle per hotspot source
    assert page.locator("path.leaflet-interactive").count() >= 2  # incident hull + hotspots drawn
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    marker.click()
    page.wait_for_selector("#incident-title")
    assert f"#{incident_id}" in page.inner_text("#incident-title")
    assert "firms" in page.inner_text("#incident-detail")  # its sources
    page.click("#open-case")
    page.wait_for_url(f"**/cases/{case_id}")
    page.wait_for_selector("button.state-btn[data-state='in_inspection']").click()
    page.wait_for_selector("#case-state[data-state='in_inspection']")

    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(gps_jpeg(106.0510, 20.6500))
    assert page.get_attribute("#photo", "capture") == "environment"
    page.set_input_files("#photo", str(photo))
    page.wait_for_selector("#photo-msg.ok")
    msg = page.inner_text("#photo-msg")
    metres = float(msg.rsplit(":", 1)[1].strip().split()[0])
    assert 20 < metres < 120, msg
    page.wait_for_selector("#history .distance")

    page.fill("#reason", "Đang đốt rơm, đã lập biên bản")
    page.click("button.state-btn[data-state='confirmed_burning']")
    page.wait_for_selector("#case-state[data-state='confirmed_burning']")
    assert "Xác nhận có đốt" in page.inner_text("#case-state")
    # fits the phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    from burnwatch.incidents.cases import verify_case
    from burnwatch.store.db import session_scope
    from burnwatch.store.models import Case

    with session_scope(settings.database_url) as s:
        case = s.get(Case, case_id)
        assert case is not None and case.state == "confirmed_burning"
        assert verify_case(s, case_id, Path(settings.data_dir)) == []
    assert log.remote_requests() == []
    assert log.errors() == []


def test_english_toggle(open_recorded, site) -> None:  # type: ignore[no-untyped-def]
    base, *_ = site
    page, log = open_recorded(f"{base}/login?lang=en")
    assert page.inner_text("h1") == "Log in"
    page.goto(f"{base}/login")  # remembered
    assert page.inner_text("h1") == "Log in"
    page.goto(f"{base}/login?lang=vi")
    assert page.inner_text("h1") == "Đăng nhập"
    assert log.remote_requests() == []


def test_drone_operator_uploads_a_flight_and_sees_detections(open_recorded, site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, *_ = site
    page, log = open_recorded(f"{base}/login?lang=en")
    page.set_viewport_size(PHONE)
    _login(page, base, "pilot")
    assert page.url.endswith("/upload")
    page.set_input_files("#flight", str(flight_zip(tmp_path / "flight.zip")))
    page.click("#send")
    page.wait_for_selector("#status[data-status='done']", timeout=60_000)
    assert page.locator("#detections li.detection").count() >= 2
    assert "notes.jpg" in page.inner_text("#problems")
    assert page.get_attribute("#bar", "style") == "width: 100%;"
    assert page.locator("#flight-map .leaflet-interactive").count() >= 2
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert log.remote_requests() == []
    assert log.errors() == []


def test_analyst_reviews_flight_detections(open_recorded, site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, settings, *_ = site
    app = site_app(base)
    jobs = app.state.jobs
    job_id = jobs.new_job("flight.zip", "pilot")
    zip_path = jobs.job_dir(job_id) / "upload.zip"
    shutil.copyfile(flight_zip(tmp_path / "flight.zip", bad_file=False), zip_path)
    jobs.submit(job_id, zip_path, zip_path.stat().st_size)
    jobs.wait(job_id, timeout=60)
    page, log = open_recorded(f"{base}/login?lang=en")
    _login(page, base, "analyst", next_page="/review")  # straight there: no half-loaded map
    assert page.url.endswith("/review")
    items = page.locator("li.review-item")
    items.first.wait_for()
    n = items.count()
    assert n >= 2
    assert page.locator("li.review-item img").count() == n  # thumbnails shown
    items.nth(0).locator("button.yes").click()
    items.nth(1).locator("button.no").click()
    page.wait_for_selector("li.review-item[data-verdict='false']")
    page.wait_for_selector("li.review-item[data-verdict='true']")
    from burnwatch.api.review import verdicts_for_eval
    from burnwatch.store.db import session_scope

    with session_scope(settings.database_url) as s:
        verdicts = sorted(v["verdict"] for v in verdicts_for_eval(s))
    assert verdicts == ["false_positive", "true_positive"]
    assert log.remote_requests() == []
    assert log.errors() == []


def test_map_day_slider_filters_incidents(open_recorded, site) -> None:  # type: ignore[no-untyped-def]
    base, _settings, incidents, _cases = site
    page, log = open_recorded(f"{base}/login?lang=en&next=/map")
    _login(page, base, "analyst", next_page="/map")
    page.wait_for_selector("#incident-list a.incident-link")
    assert page.locator("#incident-list a.incident-link").count() == 2
    assert page.get_attribute("#day", "max") == "2"  # 2024-03-01 and 2024-03-02
    page.eval_on_selector("#day", "el => { el.value = '2'; el.dispatchEvent(new Event('input')); }")
    assert page.inner_text("#day-label") == "2024-03-02"
    ids = [int(a.get_attribute("data-id")) for a in page.locator("#incident-list a.incident-link").all()]
    assert ids == [incidents[TB]]
    page.eval_on_selector("#day", "el => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
    assert page.locator("#incident-list a.incident-link").count() == 2
    assert log.remote_requests() == []
    assert log.errors() == []


def test_map_reloads_the_incidents_in_view(open_recorded, site) -> None:  # type: ignore[no-untyped-def]
    """Panning/zooming fetches the newest incidents of the box in view (bbox query)."""
    from playwright.sync_api import expect

    base, _settings, incidents, _cases = site
    page, log = open_recorded(f"{base}/login?lang=en&next=/map")
    _login(page, base, "analyst", next_page="/map")
    page.wait_for_selector("#incident-list a.incident-link")
    assert page.locator("#incident-list a.incident-link").count() == 2
    with page.expect_response(lambda r: "/api/incidents?" in r.url and "bbox=" in r.url):
        page.evaluate("window.burnwatchMap.fitBounds([[20.43, 106.33], [20.47, 106.37]])")  # Thái Bình only
    links = page.locator("#incident-list a.incident-link")
    expect(links).to_have_count(1)
    assert [int(a.get_attribute("data-id")) for a in links.all()] == [incidents[TB]]
    page.evaluate("window.burnwatchMap.setView([20.55, 106.2], 9)")  # both provinces again
    expect(links).to_have_count(2)
    assert page.inner_text("#view-status") == ""  # nothing left out
    assert log.remote_requests() == []
    assert log.errors() == []


def test_layer_switcher_shows_hotspot_sources_as_text(open_recorded, site) -> None:  # type: ignore[no-untyped-def]
    """A hotspot file from a third party may name its source with markup: the map's layer
    switcher (Leaflet inserts labels as HTML) shows it as text and injects no element."""
    from dbfixtures import make_hotspot
    from playwright.sync_api import expect

    from burnwatch.store.db import session_scope
    from burnwatch.store.ingest import ScanRecord, ingest_hotspots

    base, settings, *_ = site
    source = '<img src=x id=injected-by-source onerror="window.pwned=1"><b>firms</b>'
    with session_scope(settings.database_url) as s:
        ingest_hotspots(
            s,
            [make_hotspot(106.06, 20.66, "2024-03-03T03:30:00", source=source)],
            ScanRecord(kind="scan", source="file", label="third-party file", input_hashes={"y": "z"}),
        )
    page, log = open_recorded(f"{base}/login?lang=en&next=/map")
    _login(page, base, "analyst", next_page="/map")
    page.wait_for_selector("#incident-list a.incident-link")
    overlays = page.locator(".leaflet-control-layers-overlays label")
    expect(overlays.filter(has_text=f"Hotspots: {source}")).to_have_count(1)  # the markup, as text
    assert page.locator("#injected-by-source").count() == 0
    assert page.locator(".leaflet-control-layers-overlays b, .leaflet-control-layers-overlays img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert log.remote_requests() == []
    assert log.errors() == []
