"""Offline folium maps: no remote assets (parsed from the HTML and the CSS it loads), layers by
confidence, popups, overlays, clustering; and a real headless Chromium that must render the map
from file:// and from a loopback server without a single request leaving the machine."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from browser import serve_directory
from shapely.geometry import box

from burnwatch.errors import ConfigError
from burnwatch.publish import assets
from burnwatch.publish.assets import find_remote_references
from burnwatch.publish.quicklook import mask_overlay, scene_quicklook
from burnwatch.publish.webmap import COLOURS, hotspot_map, layer_key
from burnwatch.types import Hotspot, Scene

UTM48 = "EPSG:32648"
TRANSFORM = Affine(20.0, 0.0, 580000.0, 0.0, -20.0, 2330000.0)  # lon ~105.77-105.88, lat ~21.0


def _hotspot(i: int, cls: str = "high", flags: tuple[str, ...] = (), kind: str = "fire") -> Hotspot:
    lon, lat = 105.78 + 0.004 * (i % 25), 21.02 + 0.002 * (i // 25)
    half = 0.0001
    return Hotspot(
        source="sentinel2", sensor="MSI", algorithm="hu2021_s2", algorithm_version="1.0",
        time=datetime(2024, 3, 1, 3, 37, 21, tzinfo=timezone.utc), lon=lon, lat=lat,
        confidence={"low": 0.3, "nominal": 0.6, "high": 0.9}[cls], confidence_class=cls,  # type: ignore[arg-type]
        footprint=box(lon - half, lat - half, lon + half, lat + half), crs=UTM48,
        pixel_count=4, frp_mw=17.25, uncertainty_m=20.0, scene_id="S2B_20240301_T48QWJ",
        kind=kind, flags=flags, attributes={"b12": 0.61, "note": "<script>alert(1)</script>"},  # type: ignore[arg-type]
    )


def _hotspots() -> list[Hotspot]:
    return [
        _hotspot(0, "high"), _hotspot(1, "high"), _hotspot(2, "nominal"), _hotspot(3, "low"),
        _hotspot(4, "nominal", kind="smoke"), _hotspot(5, "high", flags=("static_source:brick kiln 7",)),
    ]


def _scene() -> Scene:
    rng = np.random.default_rng(2)
    bands = {r: (0.05 + 0.2 * rng.random((300, 400))).astype(np.float32) for r in ("red", "green", "blue")}
    return Scene("S2B_20240301_T48QWJ", "demo", "MSI", datetime(2024, 3, 1, 3, 37, tzinfo=timezone.utc),
                 UTM48, TRANSFORM, bands)


def _overlays() -> list:
    classes = np.zeros((300, 400), np.uint8)
    classes[50:53, 60:64] = 3
    classes[200, 300] = 1
    return [scene_quicklook(_scene()), mask_overlay(classes, TRANSFORM, UTM48)]


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"] or "")
        if tag == "link" and a.get("href"):
            self.links.append(a["href"] or "")


def _assert_offline(html_path: Path) -> _Refs:
    text = html_path.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text), re.findall(r"https?://\S{0,60}", text)[:5]
    refs = _Refs()
    refs.feed(text)
    assert refs.scripts and refs.links
    for ref in (*refs.scripts, *refs.links):
        assert not re.match(r"^[a-z]+:|^//", ref), ref
        target = html_path.parent / ref
        assert target.is_file(), ref
        if target.suffix == ".css":
            for url in re.findall(r"url\(\s*['\"]?([^)'\"]+)", target.read_text(encoding="utf-8")):
                if url.startswith(("data:", "#")):
                    continue
                assert not re.match(r"^[a-z]+:|^//", url), f"{ref}: {url}"
                assert (target.parent / url.split("?")[0].split("#")[0]).is_file(), f"{ref}: {url}"
    return refs


def test_map_html_has_only_local_relative_assets(tmp_path: Path) -> None:
    out = hotspot_map(_hotspots(), tmp_path / "map" / "index.html", _overlays(), title="Demo scan")
    refs = _assert_offline(out)
    assert find_remote_references(out) == []
    names = " ".join(refs.scripts + refs.links)
    for lib in ("leaflet/leaflet.js", "leaflet/leaflet.css", "jquery/jquery.min.js", "bootstrap/bootstrap.bundle.min.js",
                "fontawesome/css/all.min.css", "awesome-markers/leaflet.awesome-markers.min.js"):
        assert f"vendor/{lib}" in names
    assert "glyphicons" not in names
    # Font Awesome keeps its ../webfonts/ layout; Leaflet's default marker images resolve from its CSS
    assert (out.parent / "vendor/fontawesome/webfonts/fa-solid-900.woff2").is_file()
    assert (out.parent / "vendor/leaflet/images/marker-icon.png").is_file()


def test_layers_colours_and_popups(tmp_path: Path) -> None:
    hotspots = _hotspots()
    out = hotspot_map(hotspots, tmp_path / "index.html", title="Scan 2024-03-01")
    text = out.read_text(encoding="utf-8")
    assert [layer_key(h) for h in hotspots] == ["high", "high", "nominal", "low", "nominal", "suppressed"]
    for label in ("High confidence (2)", "Nominal confidence (2)", "Low confidence (1)",
                  "Suppressed (static sources) (1)", "Pixel footprints (6)"):
        assert label in text
    assert text.count("bw-hotspot bw-high bw-fire") == 2
    assert text.count("bw-hotspot bw-suppressed") == 1
    assert "bw-hotspot bw-nominal bw-smoke" in text
    assert f".bw-high div {{ background: {COLOURS['high']}; }}" in text
    assert "2024-03-01 03:37:21" in text and "Time (UTC)" in text
    assert "17.2 MW" in text and "hu2021_s2 v1.0" in text and "S2B_20240301_T48QWJ" in text
    assert "static_source:brick kiln 7" in text
    assert "<script>alert(1)</script>" not in text  # attribute values are escaped
    assert "L.control.layers" in text
    assert "fitBounds" in text
    assert "tileLayer" not in text  # offline by default: no basemap


def test_overlays_written_next_to_html_or_embedded(tmp_path: Path) -> None:
    overlays = _overlays()
    out = hotspot_map(_hotspots(), tmp_path / "a" / "index.html", overlays)
    text = out.read_text(encoding="utf-8")
    for ov in overlays:
        assert ov.filename and (out.parent / ov.filename).read_bytes() == ov.png
        assert f'"{ov.filename}"' in text
    assert "data:image/png;base64" not in text
    out2 = hotspot_map(_hotspots(), tmp_path / "b" / "index.html", overlays, embed_images=True)
    assert out2.read_text(encoding="utf-8").count("data:image/png;base64,") == 2
    assert not list(out2.parent.glob("*.png"))


def test_clusters_many_markers_with_local_plugin(tmp_path: Path) -> None:
    many = [_hotspot(i, "high") for i in range(60)]
    out = hotspot_map(many, tmp_path / "index.html", cluster_threshold=50)
    text = out.read_text(encoding="utf-8")
    assert "L.markerClusterGroup" in text
    assert 'src="vendor/markercluster/leaflet.markercluster.js"' in text
    _assert_offline(out)


def test_empty_scan_still_writes_a_map(tmp_path: Path) -> None:
    out = hotspot_map([], tmp_path / "index.html")
    text = out.read_text(encoding="utf-8")
    assert "0 hotspots" in text and "fitBounds" not in text
    _assert_offline(out)


def test_tile_url_adds_a_basemap(tmp_path: Path) -> None:
    out = hotspot_map(_hotspots(), tmp_path / "index.html", tile_url="http://127.0.0.1:8080/{z}/{x}/{y}.png")
    text = out.read_text(encoding="utf-8")
    assert "L.tileLayer" in text and "127.0.0.1:8080/{z}/{x}/{y}.png" in text
    assert find_remote_references(out) == []  # tiles are data, not page assets


def test_missing_vendor_assets_say_run_make_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "_PACKAGE_VENDOR", tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="make setup"):
        hotspot_map(_hotspots(), tmp_path / "index.html")


def test_remote_reference_checker_catches_cdn_links_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "x.css").write_text(
        "a{background:url(../img/ok.png)} b{background:url('https://cdn.example/bad.png')}"
        " c{background:url(data:image/png;base64,AAAA)} d{background:url(gone.woff2)}")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "ok.png").write_bytes(b"png")
    page = tmp_path / "p.html"
    page.write_text('<html><head><script src="//cdn.example/x.js"></script>'
                    '<link rel="stylesheet" href="css/x.css"><script src="local.js"></script></head>'
                    '<body><div style="background:url(http://x.example/y.png)"></div></body></html>')
    problems = find_remote_references(page)
    assert any("//cdn.example/x.js" in p for p in problems)
    assert any("https://cdn.example/bad.png" in p for p in problems)
    assert any("missing file gone.woff2" in p for p in problems)
    assert any("missing file local.js" in p for p in problems)
    assert any("http://x.example/y.png" in p for p in problems)
    assert len(problems) == 5


def _check_rendered(page, log, n_markers: int) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("typeof L") == "object"
    assert page.evaluate("L.version") == "1.9.3"
    page.wait_for_selector(".leaflet-marker-icon.bw-hotspot", state="attached")
    assert page.locator(".leaflet-marker-icon.bw-hotspot").count() == n_markers
    assert page.locator(".leaflet-marker-icon.bw-suppressed").count() == 1
    assert page.locator(".leaflet-control-layers-overlays label").count() == 7  # 2 images, footprints, 4 classes
    # overlay PNGs and the Font Awesome font really loaded from local files
    page.wait_for_function("[...document.querySelectorAll('img.leaflet-image-layer')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("img.leaflet-image-layer").count() == 2
    page.wait_for_function("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
    # Leaflet's default marker image resolves from the vendored CSS path
    ok = page.evaluate("""() => new Promise(resolve => {
        const m = L.marker([21.03, 105.8]).addTo(Object.values(window).find(v => v instanceof L.Map));
        const img = m.getElement();
        if (img.complete && img.naturalWidth > 0) return resolve(img.src);
        img.addEventListener('load', () => resolve(img.src));
        img.addEventListener('error', () => resolve('error ' + img.src));
    })""")
    assert ok.endswith("vendor/leaflet/images/marker-icon.png"), ok
    # a popup opens with the hotspot's details
    page.locator(".leaflet-marker-icon.bw-high").first.click()
    page.wait_for_selector(".leaflet-popup-content .bw-popup")
    assert "2024-03-01 03:37:21" in page.inner_text(".leaflet-popup-content")
    assert log.remote_requests() == []
    assert log.errors() == []


@pytest.mark.browser
def test_map_renders_offline_in_chromium_from_file(tmp_path: Path, open_recorded) -> None:
    out = hotspot_map(_hotspots(), tmp_path / "map" / "index.html", _overlays(), title="Demo scan")
    page, log = open_recorded(out.as_uri())
    _check_rendered(page, log, n_markers=6)
    assert any(u.endswith("vendor/fontawesome/webfonts/fa-solid-900.woff2") for u in log.requests)
    assert all(u.startswith(("file://", "data:")) for u in log.requests), log.requests


@pytest.mark.browser
def test_map_renders_from_loopback_server_and_clusters(tmp_path: Path, open_recorded) -> None:
    hs = _hotspots() + [_hotspot(10 + i, "low") for i in range(80)]
    hotspot_map(hs, tmp_path / "site" / "index.html", _overlays(), cluster_threshold=50)
    with serve_directory(tmp_path / "site") as base:
        page, log = open_recorded(f"{base}/index.html")
        page.wait_for_selector(".marker-cluster", state="attached")
        assert page.evaluate("typeof L.markerClusterGroup") == "function"
        assert log.remote_requests() == []
        assert log.errors() == []
        assert any(u.startswith(base) and u.endswith("leaflet.markercluster.js") for u in log.requests)


@pytest.mark.browser
def test_recorder_sees_and_blocks_remote_requests(tmp_path: Path, open_recorded) -> None:
    """The browser check can fail: a page with a CDN script is caught, not silently passed."""
    shutil.copytree(assets.vendor_dir() / "leaflet", tmp_path / "leaflet")
    page_file = tmp_path / "cdn.html"
    page_file.write_text('<html><head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js">'
                         '</script></head><body>x</body></html>')
    page, log = open_recorded(page_file.as_uri())
    assert log.remote_requests() == ["https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"]
    assert page.evaluate("typeof L") == "undefined"
    assert log.failed  # aborted, never fetched


def test_overlay_file_names_do_not_clash(tmp_path: Path) -> None:
    from dataclasses import replace

    a, b = _overlays()
    b = replace(b, filename=a.filename)  # two overlays asking for the same file
    sub = replace(a, filename="scenes/ql.png")  # a sub-folder path is kept relative
    out = hotspot_map([], tmp_path / "index.html", [a, b, sub])
    text = out.read_text(encoding="utf-8")
    assert (tmp_path / a.filename).read_bytes() == a.png
    second = a.filename.replace(".png", "_1.png")
    assert (tmp_path / second).read_bytes() == b.png and f'"{second}"' in text
    assert (tmp_path / "scenes" / "ql.png").read_bytes() == a.png and '"scenes/ql.png"' in text
    assert find_remote_references(out) == []


_EVIL = "S2_20251005T033000_${window.__bwx=document.title}.tif"


def _evil_hotspot() -> Hotspot:
    from dataclasses import replace

    return replace(
        _hotspot(0, "high"), scene_id=_EVIL,
        attributes={"note": "${window.__bwx=2} `${window.__bwx=3}` \\`${window.__bwx=4}`", "${k}": "v"},
        flags=("static_source:${window.__bwx=5}",),
    )


def _evil_map(tmp_path: Path) -> Path:
    from dataclasses import replace

    ql = replace(_overlays()[0], name="<img src=x onerror=window.__bwx=6> ${window.__bwx=7}")
    return hotspot_map([_evil_hotspot(), _hotspot(1, "nominal")], tmp_path / "index.html", [ql],
                       title="evil </title><script>window.__bwx=8</script> ${window.__bwx=9}")


def test_user_text_cannot_break_out_of_folium_js_templates(tmp_path: Path) -> None:
    text = _evil_map(tmp_path).read_text(encoding="utf-8")
    assert "${window" not in text and "`${" not in text
    assert "<script>window" not in text and "<img src=x" not in text
    assert "<title>evil &lt;/title&gt;&lt;script&gt;" in text
    assert "S2_20251005T033000_&#36;{window.__bwx=document.title}.tif" in text


@pytest.mark.browser
def test_template_literal_values_stay_literal_in_chromium(tmp_path: Path, open_recorded) -> None:
    page, log = open_recorded(_evil_map(tmp_path).as_uri())
    page.wait_for_selector(".leaflet-marker-icon.bw-suppressed", state="attached")
    page.locator(".leaflet-marker-icon.bw-suppressed").first.click()
    page.wait_for_selector(".leaflet-popup-content .bw-popup")
    popup = page.inner_text(".leaflet-popup-content")
    assert _EVIL in popup
    assert "${window.__bwx=2} `${window.__bwx=3}` \\`${window.__bwx=4}`" in popup
    page.locator(".leaflet-marker-icon.bw-nominal").first.hover()
    page.wait_for_selector(".leaflet-tooltip", state="attached")
    assert page.evaluate("document.title").startswith("evil </title><script>")
    assert "<img src=x" in page.inner_text(".leaflet-control-layers-overlays")
    assert page.evaluate("typeof window.__bwx") == "undefined"
    assert log.errors() == []
