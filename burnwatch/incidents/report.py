"""Daily province report: HTML and PDF with a map, new and open incidents, per-source counts.

The report day is a calendar day in Vietnam time (ICT, UTC+7, no daylight saving).
"New" incidents were first seen that day; "open" incidents were first seen earlier and
their case is not closed. Per-source counts are the hotspots of that day whose incident is
in the province. The map is drawn with matplotlib from the boundaries file and incident
geometries only (no web tiles; lon/lat axes with a cos(latitude) aspect). The PDF uses
reportlab with matplotlib's bundled DejaVu Sans so Vietnamese diacritics render.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from burnwatch.errors import InputError
from burnwatch.incidents.admin import AdminLayer, nfc
from burnwatch.store import queries
from burnwatch.store.models import Incident

log = logging.getLogger(__name__)

ICT = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class IncidentLine:
    incident_id: int
    case_id: int | None
    case_state: str
    commune: str
    first_seen: str  # ICT
    last_seen: str
    hotspots: int
    sources: str
    confidence: float
    static_source: bool


@dataclass
class ReportData:
    province: str
    day: date
    new: list[IncidentLine] = field(default_factory=list)
    open: list[IncidentLine] = field(default_factory=list)
    source_counts: dict[str, int] = field(default_factory=dict)
    generated_at: str = ""


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    pdf: Path
    map_png: Path
    data: ReportData


def slug(text: str) -> str:
    """ASCII file-name slug of a Vietnamese name ("Hưng Yên" -> "hung-yen")."""
    text = text.replace("Đ", "D").replace("đ", "d")
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_.lower()).split()) or "province"


def known_provinces(session: Session, boundaries: AdminLayer | None = None) -> list[str]:
    """Province names a report can be for: those attributed to incidents in the database and
    those in the boundaries layer (NFC), sorted."""
    names = {nfc(p) for p in session.scalars(select(Incident.province).distinct()) if p}
    if boundaries is not None:
        names.update(nfc(u.name) for u in boundaries.units if u.name)
    return sorted(names)


def resolve_province(session: Session, province: str, boundaries: AdminLayer | None = None) -> str:
    """The known province named ``province`` (NFC-normalised, case-insensitive), spelt as
    known; InputError naming it and the close known names otherwise — a report for a name
    nothing is attributed to would be silently empty, and "Dong Nai" would overwrite the
    "Đồng Nai" report (both slug to ``dong-nai``)."""
    import difflib

    wanted = nfc(province)
    known = known_provinces(session, boundaries)
    for name in known:
        if name.casefold() == wanted.casefold():
            return name
    by_slug: dict[str, list[str]] = {}
    for name in known:
        by_slug.setdefault(slug(name), []).append(name)
    keys = difflib.get_close_matches(slug(wanted), list(by_slug), n=5, cutoff=0.6)
    close = [name for key in keys for name in by_slug[key]]
    if close:
        hint = "did you mean " + " or ".join(repr(n) for n in close) + "?"
    elif known:
        hint = "known provinces: " + ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
    else:
        hint = "no incident in the database has a province and no boundaries were given"
    raise InputError(f"unknown province {wanted!r}: {hint} (names are matched with their diacritics)")


def _line(session: Session, inc: Incident) -> IncidentLine:
    case = queries.case_for_incident(session, inc.id)
    return IncidentLine(
        incident_id=inc.id,
        case_id=case.id if case else None,
        case_state=case.state if case else "-",
        commune=inc.commune or "-",
        first_seen=inc.first_seen.astimezone(ICT).strftime("%d/%m %H:%M"),
        last_seen=inc.last_seen.astimezone(ICT).strftime("%d/%m %H:%M"),
        hotspots=inc.hotspot_count,
        sources=", ".join(f"{k} {v}" for k, v in sorted(inc.source_counts.items())),
        confidence=round(inc.confidence, 2),
        static_source=bool(inc.static_source),
    )


def build_report_data(session: Session, day: date, province: str) -> tuple[ReportData, list[Incident]]:
    province = nfc(province)
    start = datetime.combine(day, time(0), ICT).astimezone(timezone.utc)
    end = start + timedelta(days=1)
    data = ReportData(
        province=province, day=day, generated_at=datetime.now(ICT).strftime("%Y-%m-%d %H:%M ICT")
    )
    shown: list[Incident] = []
    for inc in queries.incidents(session, province=province, end=end):
        case = queries.case_for_incident(session, inc.id)
        if inc.first_seen >= start:
            data.new.append(_line(session, inc))
            shown.append(inc)
        elif case is not None and case.state != "closed":
            data.open.append(_line(session, inc))
            shown.append(inc)
    data.source_counts = queries.source_counts(
        queries.hotspots(session, start=start, end=end, province=province)
    )
    return data, shown


def render_map(
    incidents: list[Incident], new_ids: set[int], boundary: BaseGeometry | None, path: Path, title: str
) -> Path:
    """PNG map: province boundary (grey), new incidents (red), open incidents (orange)."""
    import math

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 6.0), dpi=120)
    try:
        geoms = []
        if boundary is not None:
            for poly in getattr(boundary, "geoms", [boundary]):
                x, y = poly.exterior.xy
                ax.fill(x, y, facecolor="#eeeeee", edgecolor="#555555", linewidth=0.8)
            geoms.append(boundary)
        for inc in incidents:
            colour = "#d62728" if inc.id in new_ids else "#ff7f0e"
            g = inc.geom
            if g.geom_type == "Polygon" and g.area > 0:
                x, y = g.exterior.xy
                ax.fill(x, y, facecolor=colour, alpha=0.45, edgecolor=colour)
            ax.plot(inc.lon, inc.lat, marker="^", color=colour, markersize=7, markeredgecolor="black")
            ax.annotate(
                str(inc.id), (inc.lon, inc.lat), xytext=(4, 4), textcoords="offset points", fontsize=7
            )
            geoms.append(g)
        if geoms:
            from shapely import unary_union

            x0, y0, x1, y1 = unary_union(geoms).bounds
            pad = max(x1 - x0, y1 - y0, 0.05) * 0.08
            ax.set_xlim(x0 - pad, x1 + pad)
            ax.set_ylim(y0 - pad, y1 + pad)
            ax.set_aspect(1.0 / max(0.1, math.cos(math.radians((y0 + y1) / 2))))
        ax.set_xlabel("longitude (°E, WGS84)")
        ax.set_ylabel("latitude (°N)")
        ax.set_title(title.replace("$", r"\$"), fontsize=11)  # no mathtext from a name
        ax.plot([], [], "^", color="#d62728", label="new incident")
        ax.plot([], [], "^", color="#ff7f0e", label="open incident")
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(True, linewidth=0.3)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


COLUMNS = ("Incident", "Case", "State", "Commune", "First seen", "Last seen", "Hotspots", "Sources", "Conf.")


def _rows(lines: list[IncidentLine]) -> list[list[str]]:
    return [
        [
            str(x.incident_id),
            str(x.case_id or "-"),
            x.case_state + (" (static)" if x.static_source else ""),
            x.commune,
            x.first_seen,
            x.last_seen,
            str(x.hotspots),
            x.sources,
            f"{x.confidence:.2f}",
        ]
        for x in lines
    ]


HTML = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:3px 6px;font-size:90%}th{background:#eee}</style></head>
<body><h1>{{ title }}</h1><p>Generated {{ data.generated_at }} · times in ICT (UTC+7)</p>
<img src="{{ map_name }}" alt="map of incidents" width="700">
<h2>Hotspots per source ({{ data.day.isoformat() }})</h2>
{% if data.source_counts %}<table><tr><th>Source</th><th>Hotspots</th></tr>
{% for k, v in data.source_counts.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}
</table>{% else %}<p>No hotspots.</p>{% endif %}
{% for heading, rows in sections %}<h2>{{ heading }} ({{ rows|length }})</h2>
{% if rows %}<table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
{% else %}<p>None.</p>{% endif %}{% endfor %}
</body></html>
"""


def write_html(data: ReportData, map_png: Path, path: Path, title: str) -> Path:
    from jinja2 import Environment

    env = Environment(autoescape=True)
    sections = [("New incidents", _rows(data.new)), ("Open incidents", _rows(data.open))]
    html = env.from_string(HTML).render(
        title=title, data=data, map_name=map_png.name, sections=sections, columns=COLUMNS
    )
    path.write_text(html, encoding="utf-8")
    return path


def _fonts() -> tuple[str, str]:
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(ttf / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(ttf / "DejaVuSans-Bold.ttf")))
    return "DejaVuSans", "DejaVuSans-Bold"


def write_pdf(data: ReportData, map_png: Path, path: Path, title: str) -> Path:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _fonts()

    def para(value: str, style: ParagraphStyle) -> Paragraph:
        # Paragraph parses its text as markup: data ("A & B", "<x>") must be escaped.
        return Paragraph(escape(value), style)

    h1 = ParagraphStyle("h1", fontName=bold, fontSize=16, leading=20, spaceAfter=6)
    h2 = ParagraphStyle("h2", fontName=bold, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=12)
    cell = ParagraphStyle("cell", fontName=regular, fontSize=8, leading=10)

    def table(rows: list[list[str]], header: list[str]) -> Table:
        t = Table(
            [[para(h, cell) for h in header]] + [[para(v, cell) for v in r] for r in rows],
            repeatRows=1,
        )
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    story: list[Any] = [
        para(title, h1),
        para(f"Generated {data.generated_at}; times in ICT (UTC+7).", body),
        Image(str(map_png), width=105 * mm, height=90 * mm),
        para(f"Hotspots per source ({data.day.isoformat()})", h2),
    ]
    if data.source_counts:
        story.append(table([[k, str(v)] for k, v in data.source_counts.items()], ["Source", "Hotspots"]))
    else:
        story.append(para("No hotspots.", body))
    for heading, lines in (("New incidents", data.new), ("Open incidents", data.open)):
        story.append(para(f"{heading} ({len(lines)})", h2))
        story.append(table(_rows(lines), list(COLUMNS)) if lines else para("None.", body))
        story.append(Spacer(1, 4 * mm))
    doc = SimpleDocTemplate(
        str(path),
        pagesize=landscape(A4),
        title=title,
        author="burnwatch",
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
    )
    doc.build(story)
    return path


def daily_report(
    session: Session, day: date, province: str, out_dir: Path, boundaries: AdminLayer | None = None
) -> ReportFiles:
    """Write ``<slug>_<day>.html``, ``.pdf`` and ``_map.png`` into ``out_dir`` (all three
    or none).

    ``province`` must be a known one (:func:`resolve_province`)."""
    out_dir = Path(out_dir)
    province = resolve_province(session, province, boundaries)
    out_dir.mkdir(parents=True, exist_ok=True)
    data, shown = build_report_data(session, day, province)
    title = f"Báo cáo cháy ngoài trời / Open-burning report — {data.province} — {day.strftime('%d/%m/%Y')}"
    stem = f"{slug(data.province)}_{day.isoformat()}"
    boundary = boundaries.geometry_of(data.province) if boundaries is not None else None
    if boundaries is not None and boundary is None:
        log.warning("%s: no boundary named %r", boundaries.source, data.province)
    new_ids = {x.incident_id for x in data.new}
    # All or nothing: the three files are written into a scratch folder beside the outputs
    # and moved into place only when all three exist (a failed PDF leaves no half report and
    # keeps an earlier run's files).
    scratch = Path(tempfile.mkdtemp(prefix=f".{stem}.", dir=out_dir))
    try:
        png = render_map(
            shown, new_ids, boundary, scratch / f"{stem}_map.png", f"{data.province} {day.isoformat()}"
        )
        html = write_html(data, png, scratch / f"{stem}.html", title)
        pdf = write_pdf(data, png, scratch / f"{stem}.pdf", title)
        png, html, pdf = (part.replace(out_dir / part.name) for part in (png, html, pdf))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ReportFiles(html=html, pdf=pdf, map_png=png, data=data)
