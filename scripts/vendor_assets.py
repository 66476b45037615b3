"""Copy the web assets installed by ``npm ci`` into ``burnwatch/publish/static/vendor``.

Maps and pages load Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers and
markercluster from these files (relative paths), never from a CDN, so they open offline.
Run by ``make setup``; safe to rerun.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "node_modules"
DEST = ROOT / "burnwatch" / "publish" / "static" / "vendor"

# (source relative to node_modules, destination relative to DEST); directories copied whole.
FILES: list[tuple[str, str]] = [
    ("leaflet/dist/leaflet.js", "leaflet/leaflet.js"),
    ("leaflet/dist/leaflet.css", "leaflet/leaflet.css"),
    ("leaflet/dist/images", "leaflet/images"),
    ("leaflet/LICENSE", "leaflet/LICENSE"),
    ("jquery/dist/jquery.min.js", "jquery/jquery.min.js"),
    ("jquery/LICENSE.txt", "jquery/LICENSE.txt"),
    ("bootstrap/dist/js/bootstrap.bundle.min.js", "bootstrap/bootstrap.bundle.min.js"),
    ("bootstrap/dist/css/bootstrap.min.css", "bootstrap/bootstrap.min.css"),
    ("bootstrap/LICENSE", "bootstrap/LICENSE"),
    ("@fortawesome/fontawesome-free/css/all.min.css", "fontawesome/css/all.min.css"),
    ("@fortawesome/fontawesome-free/webfonts", "fontawesome/webfonts"),
    ("@fortawesome/fontawesome-free/LICENSE.txt", "fontawesome/LICENSE.txt"),
    ("drmonty-leaflet-awesome-markers/js/leaflet.awesome-markers.min.js",
     "awesome-markers/leaflet.awesome-markers.min.js"),
    ("drmonty-leaflet-awesome-markers/css/leaflet.awesome-markers.css",
     "awesome-markers/leaflet.awesome-markers.css"),
    ("drmonty-leaflet-awesome-markers/css/images", "awesome-markers/images"),
    ("leaflet.markercluster/dist/leaflet.markercluster.js", "markercluster/leaflet.markercluster.js"),
    ("leaflet.markercluster/dist/MarkerCluster.css", "markercluster/MarkerCluster.css"),
    ("leaflet.markercluster/dist/MarkerCluster.Default.css", "markercluster/MarkerCluster.Default.css"),
]


def main() -> int:
    if not NODE.is_dir():
        print(f"{NODE}: missing; run 'npm ci' first", file=sys.stderr)
        return 1
    for src_rel, dst_rel in FILES:
        src, dst = NODE / src_rel, DEST / dst_rel
        if not src.exists():
            print(f"{src}: missing from node_modules (package.json out of date?)", file=sys.stderr)
            return 1
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    print(f"vendored {len(FILES)} assets into {DEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
