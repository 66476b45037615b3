# ruff: noqa: F811  (pytest fixtures imported from dbfixtures)
"""Daily province report: the PDF renders (first page -> PNG, not blank), HTML/map exist."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from dbfixtures import _fast_password_hashing, db_url, make_hotspot, pg_database, sqlite_template  # noqa: F401
from PIL import Image
from sqlalchemy import select

from burnwatch.errors import InputError
from burnwatch.incidents import cases
from burnwatch.incidents.clustering import ClusterParams
from burnwatch.incidents.report import build_report_data, daily_report, resolve_province, slug
from burnwatch.store import db
from burnwatch.store.ingest import ScanRecord, ingest_hotspots
from burnwatch.store.models import Case, Incident
from burnwatch.store.users import add_user

PARAMS = ClusterParams(distance_m=1000.0, window=timedelta(hours=24))
PROVINCE = "Đồng Tháp"


def seed(url: str) -> None:
    """Three incidents in Đồng Tháp: two on 1 March (ICT), one on 27 Feb with a closed case."""
    hs = [
        make_hotspot(105.60, 10.45, time="2024-03-01T03:30:00", confidence=0.9),
        make_hotspot(
            105.6003,
            10.45,
            time="2024-03-01T06:10:00",
            source="firms",
            sensor="VIIRS NOAA-20",
            algorithm="VNP14IMG",
            confidence=0.8,
            size_m=375,
        ),
        make_hotspot(105.75, 10.30, time="2024-02-29T20:00:00", confidence=0.5),  # 1 March 03:00 ICT
        make_hotspot(105.90, 10.60, time="2024-02-27T03:30:00"),
        make_hotspot(105.95, 10.65, time="2024-02-26T03:30:00"),
    ]
    with db.session_scope(url) as s:
        ingest_hotspots(s, hs, ScanRecord(kind="scan", source="mixed"), params=PARAMS)
        for inc in s.scalars(select(Incident)):
            inc.province = PROVINCE
            inc.commune = "Mỹ Tho" if inc.lon < 105.7 else "Cao Lãnh"
        add_user(s, "lan", "analyst", "correct horse")
        add_user(s, "minh", "inspector", "battery staple")
    with db.session_scope(url) as s:
        old = s.scalars(
            select(Case).join(Incident, Case.incident_id == Incident.id).where(Incident.lon > 105.92)
        ).one()
        cases.assign(s, old.id, "minh", actor="lan", reason="go")
        cases.transition(s, old.id, "in_inspection", actor="minh", reason="there")
        cases.transition(s, old.id, "no_burning_found", actor="minh", reason="cold")
        cases.transition(s, old.id, "closed", actor="lan", reason="done")


def test_report_content(db_url: str) -> None:
    seed(db_url)
    with db.session_scope(db_url) as s:
        data, shown = build_report_data(s, date(2024, 3, 1), PROVINCE)
    assert len(data.new) == 2 and len(data.open) == 1  # the closed one is not listed
    assert {x.commune for x in data.new} == {"Mỹ Tho", "Cao Lãnh"}
    assert data.source_counts == {"firms": 1, "sentinel2": 2}
    assert next(x for x in data.new if x.commune == "Mỹ Tho").sources == "firms 1, sentinel2 1"
    assert len(shown) == 3


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) not installed")
def test_pdf_first_page_renders(db_url: str, tmp_path: Path) -> None:
    seed(db_url)
    with db.session_scope(db_url) as s:
        files = daily_report(s, date(2024, 3, 1), PROVINCE, tmp_path / "report")
    assert files.pdf.name == "dong-thap_2024-03-01.pdf" and files.pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(files.pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    pngs = sorted(tmp_path.glob("page*.png"))
    assert len(pngs) == 1
    page = np.asarray(Image.open(pngs[0]).convert("L"), dtype=float)
    ink = (page < 200).mean()
    assert page.std() > 10 and 0.01 < ink < 0.6, (page.std(), ink)
    # the map PNG has red incident markers on it
    rgb = np.asarray(Image.open(files.map_png).convert("RGB")).astype(int)
    red = (rgb[..., 0] > 180) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    assert red.sum() > 20


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ("Dong Thap", "unknown province 'Dong Thap': did you mean 'Đồng Tháp'?"),
        ("Atlantis", "unknown province 'Atlantis': known provinces: Đồng Tháp"),
    ],
)
def test_an_unknown_province_is_refused_before_writing(
    db_url: str, tmp_path: Path, asked: str, message: str
) -> None:
    seed(db_url)
    with db.session_scope(db_url) as s, pytest.raises(InputError) as err:
        daily_report(s, date(2024, 3, 1), asked, tmp_path / "report")
    assert message in str(err.value)
    assert not (tmp_path / "report").exists() or not any((tmp_path / "report").iterdir())


def test_province_names_match_nfc_normalised_and_case_insensitive(db_url: str) -> None:
    seed(db_url)
    with db.session_scope(db_url) as s:
        assert resolve_province(s, unicodedata.normalize("NFD", PROVINCE)) == PROVINCE
        assert resolve_province(s, " đồng tháp ") == PROVINCE


def test_markup_in_names_is_text_in_the_pdf(db_url: str, tmp_path: Path) -> None:
    """reportlab parses Paragraph text as markup: "<", "&" in data must not break the PDF."""
    seed(db_url)
    odd = "Tỉnh <A> & B $x$"
    with db.session_scope(db_url) as s:
        for inc in s.scalars(select(Incident)):
            inc.province, inc.commune = odd, "Xã <b>Mỹ & Tho"
    with db.session_scope(db_url) as s:
        files = daily_report(s, date(2024, 3, 1), odd, tmp_path / "report")
    assert files.pdf.read_bytes().startswith(b"%PDF") and files.map_png.exists()
    assert "Xã &lt;b&gt;Mỹ &amp; Tho" in files.html.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == sorted(
        p.name for p in (files.html, files.pdf, files.map_png)
    )


def test_a_failed_report_writes_nothing_and_keeps_the_last_one(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from burnwatch.incidents import report

    seed(db_url)
    out = tmp_path / "report"
    with db.session_scope(db_url) as s:
        first = daily_report(s, date(2024, 3, 1), PROVINCE, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_pdf(*_args: object) -> Path:
        raise ValueError("paraparser: syntax error")

    monkeypatch.setattr(report, "write_pdf", broken_pdf)
    with db.session_scope(db_url) as s, pytest.raises(ValueError, match="paraparser"):
        daily_report(s, date(2024, 3, 1), PROVINCE, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and len(before) == 3
    with db.session_scope(db_url) as s, pytest.raises(ValueError, match="paraparser"):
        daily_report(s, date(2024, 3, 2), PROVINCE, out)  # a new day: no file of it at all
    assert sorted(p.name for p in out.iterdir()) == sorted(before) and first.pdf.name in before


def test_slug() -> None:
    assert slug("Đồng Tháp") == "dong-thap" and slug("Hưng Yên") == "hung-yen" and slug("Hà Nội") == "ha-noi"
