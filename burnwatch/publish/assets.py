"""The vendored web assets (Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers,
markercluster) that maps and pages load from local files so they open offline.

``make setup`` fills ``burnwatch/publish/static/vendor`` from npm (``scripts/vendor_assets.py``).
A map written by :func:`burnwatch.publish.webmap.hotspot_map` gets a copy of that folder next to
its HTML and refers to every asset by a relative path; nothing is fetched from a CDN.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from burnwatch.errors import ConfigError

#: Files every map needs, relative to the vendor folder. Their presence is what
#: :func:`vendor_dir` checks; a partial copy is reported with the first missing file.
REQUIRED: tuple[str, ...] = (
    "leaflet/leaflet.js",
    "leaflet/leaflet.css",
    "leaflet/images/marker-icon.png",
    "leaflet/images/marker-icon-2x.png",
    "leaflet/images/marker-shadow.png",
    "leaflet/images/layers.png",
    "jquery/jquery.min.js",
    "bootstrap/bootstrap.bundle.min.js",
    "bootstrap/bootstrap.min.css",
    "fontawesome/css/all.min.css",
    "fontawesome/webfonts/fa-solid-900.woff2",
    "awesome-markers/leaflet.awesome-markers.min.js",
    "awesome-markers/leaflet.awesome-markers.css",
    "markercluster/leaflet.markercluster.js",
    "markercluster/MarkerCluster.css",
    "markercluster/MarkerCluster.Default.css",
)

#: Written by :func:`copy_vendor_assets` (not from npm): the icon-rotation classes folium's
#: ``Icon(angle=...)`` uses (``fa-rotate-<deg>``), normally loaded from a CDN.
ROTATE_CSS = "folium/leaflet.awesome.rotate.css"

_PACKAGE_VENDOR = Path(__file__).resolve().parent / "static" / "vendor"


def vendor_dir(root: Path | None = None) -> Path:
    """The folder holding the vendored assets; raise ConfigError when it is missing or incomplete.

    ``root`` overrides the packaged location (``burnwatch/publish/static/vendor``), for tests.
    """
    folder = root if root is not None else _PACKAGE_VENDOR
    for rel in REQUIRED:
        if not (folder / rel).is_file():
            raise ConfigError(
                f"web assets missing ({rel}); run 'make setup' (npm ci + scripts/vendor_assets.py) "
                "to vendor Leaflet and friends for offline maps",
                path=folder,
            )
    return folder


def rotate_css() -> str:
    """CSS for ``fa-rotate-0`` ... ``fa-rotate-359`` (rotation of awesome-marker icons)."""
    rules = (f".fa-rotate-{d}{{transform:rotate({d}deg)}}" for d in range(360))
    return "\n".join(rules) + "\n"


def copy_vendor_assets(dest: Path, *, root: Path | None = None) -> Path:
    """Copy the vendored assets into ``dest`` (created), keeping their folder layout.

    The layout matters: Font Awesome's CSS finds its fonts at ``../webfonts/`` and Leaflet's
    CSS its images at ``images/``. Existing files are overwritten, so reruns are safe.
    Returns ``dest``.
    """
    src = vendor_dir(root)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".stamp"))
    rotate = dest / ROTATE_CSS
    rotate.parent.mkdir(parents=True, exist_ok=True)
    rotate.write_text(rotate_css(), encoding="utf-8")
    return dest


def _is_remote(ref: str) -> bool:
    low = ref.strip().lower()
    return low.startswith(("http:", "https:", "//", "ftp:", "ws:", "wss:"))


def _css_urls(text: str) -> list[str]:
    import re

    return [m.strip().strip("'\"") for m in re.findall(r"url\(\s*([^)]*?)\s*\)", text)]


def _check_ref(ref: str, base: Path, where: str, problems: list[str], seen: set[Path]) -> None:
    from urllib.parse import unquote, urlsplit

    if not ref or ref.startswith(("data:", "#", "about:", "blob:", "javascript:")):
        return
    if _is_remote(ref):
        problems.append(f"{where} loads remote {ref}")
        return
    target = (base / unquote(urlsplit(ref).path)).resolve()
    if not target.is_file():
        problems.append(f"{where} refers to missing file {ref}")
        return
    if target.suffix.lower() == ".css" and target not in seen:
        seen.add(target)
        for url in _css_urls(target.read_text(encoding="utf-8", errors="replace")):
            _check_ref(url, target.parent, target.name, problems, seen)


def find_remote_references(html_path: Path) -> list[str]:
    """Problems that would stop ``html_path`` from working offline, as readable strings.

    Checks every ``<script src>``, ``<link href>``, ``<img src>`` and CSS ``url()`` (inline
    and, recursively, in the local stylesheets): each must be a data URI or a relative/local
    path to a file that exists. An empty list means the page needs no network for its assets.
    """
    from html.parser import HTMLParser

    html_path = Path(html_path)
    refs: list[tuple[str, str]] = []

    class _Collector(HTMLParser):
        in_style = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = {k: v or "" for k, v in attrs}
            if tag in ("script", "img", "source", "iframe", "embed") and a.get("src"):
                refs.append((f"<{tag} src>", a["src"]))
            if tag == "link" and a.get("href"):
                refs.append(("<link href>", a["href"]))
            if a.get("style"):
                refs.extend(("style attribute", u) for u in _css_urls(a["style"]))
            self.in_style = tag == "style"

        def handle_endtag(self, tag: str) -> None:
            self.in_style = False

        def handle_data(self, data: str) -> None:
            if self.in_style:
                refs.extend(("<style>", u) for u in _css_urls(data))

    _Collector().feed(html_path.read_text(encoding="utf-8", errors="replace"))
    problems: list[str] = []
    seen: set[Path] = set()
    for where, ref in refs:
        _check_ref(ref, html_path.parent, where, problems, seen)
    return problems
