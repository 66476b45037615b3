"""Interactive hotspot maps (folium / Leaflet 1.9) that open offline.

Inspectors open these maps in the field without internet, so the HTML loads nothing from a
CDN: folium's default Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers and
markercluster links are replaced (on the Map and plugin instances, via ``default_js`` /
``default_css``) by relative links into a ``vendor/`` copy of the project's vendored assets
written next to the HTML (:mod:`burnwatch.publish.assets`). No basemap tiles are added unless a
``tile_url`` is given. Image overlays (quicklooks, fire masks) are PNGs in Web-Mercator geometry
written next to the HTML, or embedded as data URIs.

Hotspots are drawn as markers coloured by confidence class (high red, nominal orange, low
yellow); hotspots flagged as suppressed (e.g. inside a known static heat source) are grey
in a layer of their own. Each has a popup with time (UTC), source, algorithm, confidence,
pixel count, FRP, scene and flags; the pixel footprints are a separate layer.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from burnwatch.errors import ConfigError
from burnwatch.publish.assets import ROTATE_CSS, copy_vendor_assets, find_remote_references
from burnwatch.publish.quicklook import Overlay
from burnwatch.types import Hotspot

log = logging.getLogger(__name__)

VENDOR = "vendor"  # folder next to the HTML

#: (folium resource name, path under vendor/) replacing folium's CDN links.
MAP_JS: tuple[tuple[str, str], ...] = (
    ("leaflet", "leaflet/leaflet.js"),
    ("jquery", "jquery/jquery.min.js"),
    ("bootstrap", "bootstrap/bootstrap.bundle.min.js"),
    ("awesome_markers", "awesome-markers/leaflet.awesome-markers.min.js"),
)
MAP_CSS: tuple[tuple[str, str], ...] = (
    ("leaflet_css", "leaflet/leaflet.css"),
    ("bootstrap_css", "bootstrap/bootstrap.min.css"),
    ("awesome_markers_font_css", "fontawesome/css/all.min.css"),
    ("awesome_markers_css", "awesome-markers/leaflet.awesome-markers.css"),
    ("awesome_rotate_css", ROTATE_CSS),
)  # folium's bootstrap-3 glyphicons CSS is dropped: nothing here uses glyphicons
CLUSTER_JS: tuple[tuple[str, str], ...] = (("markerclusterjs", "markercluster/leaflet.markercluster.js"),)
CLUSTER_CSS: tuple[tuple[str, str], ...] = (
    ("markerclustercss", "markercluster/MarkerCluster.css"),
    ("markerclusterdefaultcss", "markercluster/MarkerCluster.Default.css"),
)

#: Marker colours per layer (hex), matching the fire-mask palette of :mod:`burnwatch.publish.cog`.
COLOURS: dict[str, str] = {
    "high": "#dc1414",
    "nominal": "#ff8c00",
    "low": "#ffdd00",
    "suppressed": "#8c8c8c",
}
LAYER_TITLES: dict[str, str] = {
    "high": "High confidence",
    "nominal": "Nominal confidence",
    "low": "Low confidence",
    "suppressed": "Suppressed (static sources)",
}
#: A hotspot with one of these flags (also as "<flag>:<detail>", or any flag starting
#: "suppressed") is drawn grey in its own layer.
SUPPRESSED_FLAGS: frozenset[str] = frozenset({"static_source", "suppressed", "excluded"})

DEFAULT_VIEW = ((16.0, 106.0), 5)  # Vietnam, when there is nothing to fit
MAX_ZOOM = 19

_CSS = """
.bw-hotspot div { width: 14px; height: 14px; border-radius: 50%; box-sizing: border-box;
  border: 2px solid #1a1a1a; box-shadow: 0 0 3px rgba(0,0,0,.6); }
.bw-hotspot.bw-smoke div { border-radius: 2px; border-style: dashed; }
""" + "".join(f".bw-{k} div {{ background: {v}; }}\n" for k, v in COLOURS.items()) + """
.bw-legend { position: absolute; z-index: 1000; bottom: 26px; right: 10px; background: #fff;
  padding: 6px 10px; border-radius: 4px; font: 12px/1.4 sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,.4); }
.bw-legend i.bw-key { display: inline-block; width: 11px; height: 11px; border-radius: 50%;
  border: 1px solid #1a1a1a; margin-right: 5px; vertical-align: -1px; }
.bw-popup { font-size: 12px; }
.bw-popup td { padding: 0 6px 0 0; vertical-align: top; overflow-wrap: anywhere; }
.bw-popup th { text-align: left; padding-right: 8px; white-space: nowrap; vertical-align: top; }
.leaflet-container { background: #e8ecef; }
"""


def is_suppressed(hs: Hotspot) -> bool:
    """True when a flag (or its part before ":", e.g. "static_source:kiln 3") is a suppression."""
    return any(f.split(":", 1)[0] in SUPPRESSED_FLAGS or f.startswith("suppressed") for f in hs.flags)


def layer_key(hs: Hotspot) -> str:
    """Which map layer a hotspot goes to: its confidence class, or "suppressed"."""
    return "suppressed" if is_suppressed(hs) else hs.confidence_class


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


#: Characters that ``html.escape`` leaves alone but that are live inside the JavaScript template
#: literal (`` $(`...`) ``) folium wraps popup and tooltip HTML in: ``${`` would run code, a
#: backtick would end the literal and a backslash could unescape folium's backtick escaping.
_JS_TEMPLATE_ENTITIES = {"$": "&#36;", "`": "&#96;", "\\": "&#92;"}


def escape_text(value: object) -> str:
    """``value`` as text safe in HTML that folium embeds in a JavaScript template literal.

    HTML-escaped (``&<>"'``) plus ``$``, backtick and backslash as character references, so a
    scene name like ``${alert(1)}`` is shown literally and never evaluated.
    """
    text = html.escape(str(value), quote=True)
    for char, entity in _JS_TEMPLATE_ENTITIES.items():
        text = text.replace(char, entity)
    return text


def popup_html(hs: Hotspot) -> str:
    """The popup table of one hotspot (all values escaped with :func:`escape_text`)."""
    rows: list[tuple[str, str]] = [
        ("Time (UTC)", hs.time.strftime("%Y-%m-%d %H:%M:%S")),
        ("Kind", hs.kind),
        ("Source", f"{hs.source} / {hs.sensor}"),
        ("Algorithm", f"{hs.algorithm} v{hs.algorithm_version}"),
        ("Confidence", f"{hs.confidence:.2f} ({hs.confidence_class})"),
        ("Pixels", str(hs.pixel_count)),
        ("FRP", _fmt(hs.frp_mw, " MW")),
        ("Lon, lat", f"{hs.lon:.5f}, {hs.lat:.5f}"),
        ("Uncertainty", _fmt(hs.uncertainty_m, " m", 0)),
        ("Scene", hs.scene_id or "n/a"),
        ("Flags", ", ".join(hs.flags) or "none"),
    ]
    rows += [(str(k), "n/a" if v is None else str(v)) for k, v in list(hs.attributes.items())[:12]]
    body = "".join(f"<tr><th>{escape_text(k)}</th><td>{escape_text(v)}</td></tr>" for k, v in rows)
    return f'<table class="bw-popup">{body}</table>'


def _css_token(text: str) -> str:
    """``text`` reduced to characters that are safe in a CSS class name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _local(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, f"{VENDOR}/{rel}") for name, rel in pairs]


def _bounds(hotspots: Sequence[Hotspot], overlays: Sequence[Overlay]) -> list[list[float]] | None:
    boxes = [hs.footprint.bounds for hs in hotspots]
    boxes += [(o.bounds[0], o.bounds[1], o.bounds[2], o.bounds[3]) for o in overlays]
    if not boxes:
        return None
    south, west = min(b[1] for b in boxes), min(b[0] for b in boxes)
    north, east = max(b[3] for b in boxes), max(b[2] for b in boxes)
    return [[south, west], [north, east]]


def _legend(title: str, counts: dict[str, int]) -> str:
    items = "".join(
        f'<div><i class="bw-key" style="background:{COLOURS[k]}"></i>'
        f"{escape_text(LAYER_TITLES[k])}: {counts.get(k, 0)}</div>"
        for k in COLOURS
    )
    total = sum(counts.values())
    return (
        f'<div class="bw-legend" id="bw-legend"><b><i class="fa-solid fa-fire"></i> '
        f"{escape_text(title)}</b><div>{total} hotspot{'s' if total != 1 else ''} (times UTC)</div>"
        f"{items}</div>"
    )


def hotspot_map(
    hotspots: Sequence[Hotspot],
    out_html: Path,
    overlays: Sequence[Overlay] = (),
    title: str = "burnwatch hotspots",
    *,
    tile_url: str | None = None,
    tile_attribution: str = "basemap",
    cluster_threshold: int = 200,
    embed_images: bool = False,
    show_footprints: bool = True,
    written: list[Path] | None = None,
) -> Path:
    """Write an offline folium map of ``hotspots`` (and image ``overlays``) to ``out_html``.

    A ``vendor/`` folder with the web assets is written next to the HTML, and overlay PNGs too
    unless ``embed_images`` (their paths are appended to ``written`` when given). Layers with
    more than ``cluster_threshold`` markers are clustered (Leaflet.markercluster). ``tile_url``
    (an XYZ template, e.g. ``Settings.tile_url``) adds a basemap for online use; without it the
    map needs no network at all. Raises ConfigError when the vendored assets are missing (run
    ``make setup``). Returns ``out_html``.
    """
    import folium
    from branca.element import Element, Figure
    from folium.plugins import MarkerCluster

    out_html = Path(out_html)
    out_dir = out_html.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_vendor_assets(out_dir / VENDOR)

    figure = Figure(title=escape_text(title))  # branca writes it into <title> unescaped
    # Without a tile layer Leaflet has no zoom limits, which markercluster requires.
    fmap = folium.Map(
        location=DEFAULT_VIEW[0], zoom_start=DEFAULT_VIEW[1], tiles=None, control_scale=True,
        maxZoom=MAX_ZOOM, minZoom=2,
    )
    fmap.default_js = _local(MAP_JS)  # instance attributes: folium's class lists stay untouched
    fmap.default_css = _local(MAP_CSS)
    figure.add_child(fmap)
    figure.header.add_child(Element(f"<style>{_CSS}</style>"), name="burnwatch_css")

    if tile_url:
        folium.TileLayer(tiles=tile_url, attr=tile_attribution, name="Basemap", overlay=False).add_to(fmap)

    used: set[str] = set()
    for i, ov in enumerate(overlays):
        png = _add_overlay(fmap, ov, i, out_dir, embed_images, used)
        if png is not None and written is not None:
            written.append(png)

    if show_footprints and hotspots:
        _add_footprints(fmap, hotspots)

    counts: dict[str, int] = {}
    for key in COLOURS:
        members = [hs for hs in hotspots if layer_key(hs) == key]
        counts[key] = len(members)
        if not members:
            continue
        name = f"{LAYER_TITLES[key]} ({len(members)})"
        layer: Any
        if len(members) > cluster_threshold:
            layer = MarkerCluster(name=name, overlay=True, control=True)
            layer.default_js = _local(CLUSTER_JS)
            layer.default_css = _local(CLUSTER_CSS)
        else:
            layer = folium.FeatureGroup(name=name, overlay=True, control=True)
        for hs in members:
            classes = f"bw-hotspot bw-{key} bw-{_css_token(hs.kind)}"
            folium.Marker(
                location=(hs.lat, hs.lon),
                icon=folium.DivIcon(
                    html="<div></div>", icon_size=(14, 14), icon_anchor=(7, 7), class_name=classes
                ),
                popup=folium.Popup(popup_html(hs), max_width=360),
                tooltip=folium.Tooltip(
                    escape_text(f"{hs.kind} {hs.confidence_class} {hs.time:%Y-%m-%d %H:%M} UTC")
                ),
            ).add_to(layer)
        layer.add_to(fmap)

    folium.LayerControl(collapsed=False).add_to(fmap)
    bounds = _bounds(hotspots, overlays)
    if bounds is not None:
        fmap.fit_bounds(bounds, max_zoom=17)
    figure.html.add_child(Element(_legend(title, counts)), name="burnwatch_legend")

    figure.save(str(out_html))
    problems = find_remote_references(out_html)
    if problems:  # fail closed: an inspector offline would get a broken map
        raise ConfigError("map is not self-contained: " + "; ".join(problems[:5]), path=out_html)
    log.info("wrote map %s (%d hotspots, %d overlays)", out_html, len(hotspots), len(overlays))
    return out_html


def _add_overlay(
    fmap: Any, ov: Overlay, index: int, out_dir: Path, embed: bool, used: set[str]
) -> Path | None:
    """Add one image overlay; its PNG goes to ``out_dir/<ov.filename>`` (a relative path, may
    name a sub-folder) unless embedded. Clashing file names get the overlay's index appended.
    Returns the PNG written (None when embedded)."""
    import base64

    import folium

    bounds = [[ov.bounds[1], ov.bounds[0]], [ov.bounds[3], ov.bounds[2]]]
    data_url = "data:image/png;base64," + base64.b64encode(ov.png).decode("ascii")
    layer = folium.raster_layers.ImageOverlay(
        # Leaflet's layer control sets names as innerHTML
        image=data_url, bounds=bounds, opacity=ov.opacity, name=escape_text(ov.name), show=ov.show,
        overlay=True, control=True,
    )
    if not embed:
        filename = ov.filename or f"overlay_{index}.png"
        if filename in used:
            stem, dot, ext = filename.rpartition(".")
            filename = f"{stem}_{index}.{ext}" if dot else f"{filename}_{index}"
        used.add(filename)
        ov.write(out_dir / filename)
        layer.url = filename  # relative to the HTML
    layer.add_to(fmap)
    return None if embed else out_dir / filename


def _add_footprints(fmap: Any, hotspots: Sequence[Hotspot]) -> None:
    import folium
    from shapely.geometry import mapping

    features = [
        {
            "type": "Feature",
            "geometry": mapping(hs.footprint),
            "properties": {
                "layer": layer_key(hs),
                # GeoJsonTooltip puts values into innerHTML
                "label": escape_text(
                    f"{hs.kind} {hs.confidence_class}, {hs.pixel_count} px, {hs.time:%Y-%m-%d %H:%M} UTC"
                ),
            },
        }
        for hs in hotspots
    ]

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        colour = COLOURS[feature["properties"]["layer"]]
        return {"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.35}

    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=f"Pixel footprints ({len(features)})",
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        overlay=True,
        control=True,
    ).add_to(fmap)
