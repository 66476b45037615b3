# ruff: noqa: F811  (pytest fixtures imported from dbfixtures)
"""The db / ingest / user / case / report commands end to end (SQLite and PostGIS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from dbfixtures import _fast_password_hashing, db_url, make_hotspot, pg_database, sqlite_template  # noqa: F401
from sqlalchemy import text
from test_cases import gps_photo

from burnwatch.cli.main import cli
from burnwatch.publish.vector import write_hotspots
from burnwatch.store import db


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.output


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from burnwatch.config import get_settings

    monkeypatch.setenv("BURNWATCH_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_cli_walkthrough(db_url: str, env: Path) -> None:
    tmp = env
    D = ("--database", db_url)
    assert "at revision" in run("db", "upgrade", *D)
    assert "up to date" in run("db", "current", *D)
    scan = tmp / "scan1"
    write_hotspots(
        [make_hotspot(106.05, 20.80), make_hotspot(106.0503, 20.80), make_hotspot(106.2, 20.7)],
        scan / "hotspots.geojson",
    )
    (scan / "manifest.json").write_text(
        json.dumps({"parameters": {"threshold": 0.3}, "software_versions": {"numpy": "2"}})
    )
    prov = tmp / "prov.geojson"
    prov.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Hưng Yên"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[105.9, 20.5], [106.3, 20.5], [106.3, 21.0], [105.9, 21.0], [105.9, 20.5]]
                            ],
                        },
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    corrupt = tmp / "broken.geojson"
    corrupt.write_text("{oops", encoding="utf-8")
    out = run("ingest", *D, str(scan), str(corrupt), "--boundaries", str(prov), ok=False)  # one bad input
    assert "added 3" in out and "incidents +2 new" in out and "Hưng Yên: 2" in out and "broken.geojson" in out
    out = run("ingest", *D, str(scan), "--boundaries", str(prov))
    assert "added 0, duplicates 3" in out and "Hưng Yên: 2" in out

    run(
        "user",
        "add",
        *D,
        "lan",
        "--role",
        "analyst",
        "--password",
        "correct horse",
        "--full-name",
        "Nguyễn Thị Lan",
    )
    run("user", "add", *D, "minh", "--role", "inspector", "--password", "battery staple")
    assert "minh" in run("user", "list", *D)
    assert "2 cases" in run("case", "list", *D, "--province", "Hưng Yên")
    run(
        "case",
        "assign",
        *D,
        "1",
        "--to",
        "minh",
        "--due",
        "2024-03-03",
        "--reason",
        "nearest",
        "--actor",
        "lan",
    )
    run("case", "transition", *D, "1", "in_inspection", "--reason", "on site", "--actor", "minh")
    run("case", "note", *D, "1", "Khói từ ruộng lúa", "--actor", "minh")
    out = run("case", "evidence", *D, "1", str(gps_photo(tmp / "p.jpg", 106.0505, 20.8)), "--actor", "minh")
    assert "m from the incident" in out
    out = run("case", "transition", *D, "1", "closed", "--reason", "skip", "--actor", "lan", ok=False)
    assert "cannot go from in_inspection to closed" in out
    run("case", "transition", *D, "1", "confirmed_burning", "--reason", "seen", "--actor", "minh")
    out = run("case", "show", *D, "1")
    assert "Khói từ ruộng lúa" in out and "in_inspection -> confirmed_burning" in out and "Hưng Yên" in out
    assert "history verifies" in run("case", "verify", *D, "1")
    assert "verify" in run("case", "verify", *D, "--all")

    out = run(
        "report",
        *D,
        "--date",
        "2024-03-01",
        "--province",
        "Hưng Yên",
        "--out",
        str(tmp / "rep"),
        "--boundaries",
        str(prov),
    )
    assert "2 new" in out and (tmp / "rep" / "hung-yen_2024-03-01.pdf").exists()
    assert "2 incidents" in run("db", "export", *D, str(tmp / "inc.kml"))
    assert "3 hotspots" in run("db", "export", *D, str(tmp / "hs.gpkg"), "--what", "hotspots")

    with db.get_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE case_notes SET text = 'không có gì' WHERE case_id = 1"))
    result = CliRunner().invoke(cli, ["case", "verify", *D, "--all"])
    assert result.exit_code == 1 and "case_notes id=1" in result.output and "TAMPERED" in result.output


def test_cli_errors_are_one_sentence(db_url: str, env: Path) -> None:
    out = run("ingest", "--database", db_url, str(env / "nope.csv"), ok=False)
    assert "nope.csv: no such file" in out
    out = run("case", "show", "--database", db_url, "99", ok=False)
    assert "no case 99" in out and "Traceback" not in out


def test_parallel_case_commands_queue_on_sqlite(sqlite_template: Path, env: Path) -> None:
    """Four `case note` processes at once on one SQLite file: all succeed (the write lock is
    taken first, BEGIN IMMEDIATE, so they wait on busy_timeout) and the chain verifies."""
    import os
    import shutil
    import subprocess
    import sys

    from burnwatch.incidents import cases
    from burnwatch.store.ingest import ScanRecord, ingest_hotspots
    from burnwatch.store.users import add_user

    shutil.copyfile(sqlite_template, env / "par.db")
    url = f"sqlite:///{env / 'par.db'}"
    with db.session_scope(url) as s:
        ingest_hotspots(s, [make_hotspot(106.05, 20.80)], ScanRecord(kind="scan", source="sentinel2"))
        add_user(s, "lan", "analyst", "correct horse")
    db.dispose_engines()
    code = "from burnwatch.cli.main import cli; cli()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, "case", "note", "--database", url, "1", f"note {i}", "--actor", "lan"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "BURNWATCH_DATA_DIR": str(env / "data")},
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    with db.session_scope(url) as s:
        assert cases.verify_case(s, 1) == [] and len(cases.history(s, 1)) == 5


def test_evidence_is_found_from_any_working_directory(
    sqlite_template: Path, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative BURNWATCH_DATA_DIR is made absolute when the settings load, so a later change
    of directory does not lose the evidence; a file not under the data_dir searched is
    reported MISSING with that folder (exit 3), not as tampering."""
    import shutil

    from burnwatch.config import get_settings
    from burnwatch.incidents import cases
    from burnwatch.store.ingest import ScanRecord, ingest_hotspots
    from burnwatch.store.users import add_user

    shutil.copyfile(sqlite_template, env / "ev.db")
    D = ("--database", f"sqlite:///{env / 'ev.db'}")
    with db.session_scope(D[1]) as s:
        ingest_hotspots(s, [make_hotspot(106.05, 20.80)], ScanRecord(kind="scan", source="sentinel2"))
        add_user(s, "lan", "analyst", "correct horse")
    (env / "work").mkdir()
    (env / "elsewhere").mkdir()
    monkeypatch.chdir(env / "work")
    monkeypatch.setenv("BURNWATCH_DATA_DIR", "data")
    get_settings.cache_clear()
    assert get_settings().data_dir == env / "work" / "data"
    run("case", "evidence", *D, "1", str(gps_photo(env / "p.jpg", 106.0505, 20.8)), "--actor", "lan")
    monkeypatch.chdir(env / "elsewhere")
    assert "history verifies" in run("case", "verify", *D, "1")  # same settings, another directory

    get_settings.cache_clear()  # a new process started in the other directory
    result = CliRunner().invoke(cli, ["case", "verify", *D, "1"])
    assert result.exit_code == 3, result.output
    assert "TAMPERED" not in result.output and "MISSING: case 1: evidence id=1: stored file evidence/" in result.output
    assert f"not found under data_dir {env / 'elsewhere' / 'data'}" in result.output
    stored = next((env / "work" / "data" / "evidence").rglob("*.jpg"))
    stored.write_bytes(b"not the photo")
    with db.session_scope(D[1]) as s:
        found = cases.verify_case(s, 1, env / "work" / "data")
    assert [p.kind for p in found] == ["tampered"] and "does not match its sha256 (altered)" in str(found[0])
