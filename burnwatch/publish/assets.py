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
