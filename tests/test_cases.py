# ruff: noqa: F811  (pytest fixtures imported from dbfixtures)
"""Case workflow on SQLite and PostGIS: every state, permissions, evidence GPS, hash chain."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import pytest
from dbfixtures import _fast_password_hashing, db_url, make_hotspot, pg_database, sqlite_template  # noqa: F401
from PIL import Image
from sqlalchemy import func, select, text

from burnwatch.errors import ConflictError, InputError, IntegrityError, PermissionDeniedError
from burnwatch.incidents import cases
from burnwatch.incidents.clustering import ClusterParams
from burnwatch.incidents.evidence import read_gps
from burnwatch.store import db
from burnwatch.store.chain import AuditHead, verify_audit
from burnwatch.store.ingest import ScanRecord, ingest_hotspots
from burnwatch.store.models import AuditLog, Case, CaseEvent, Incident, StaticSource
from burnwatch.store.users import add_user, authenticate

PARAMS = ClusterParams(distance_m=1000.0, window=timedelta(hours=24))
LON, LAT = 106.05, 20.80


def gps_photo(path: Path, lon: float, lat: float) -> Path:
    """A small JPEG with EXIF GPS (degrees/minutes/seconds rationals)."""

    def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
        d = int(value)
        m = int((value - d) * 60)
        s = (value - d - m / 60) * 3600
        return (Fraction(d), Fraction(m), Fraction(s).limit_denominator(10000))

    img = Image.new("RGB", (64, 48), (200, 80, 20))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    exif[0x0132] = "2024:03:01 10:15:00"
    img.save(path, exif=exif)
    return path


@pytest.fixture
def world(db_url: str) -> tuple[str, int]:
    """A database with one incident (and its case) and four users."""
    with db.session_scope(db_url) as s:
        ingest_hotspots(
            s, [make_hotspot(LON, LAT)], ScanRecord(kind="scan", source="sentinel2"), params=PARAMS
        )
        add_user(s, "lan", "analyst", "correct horse", full_name="Nguyễn Thị Lan")
        add_user(s, "minh", "inspector", "battery staple", province=None)
        add_user(s, "quan", "inspector", "battery staple", province="Đồng Tháp")
        add_user(s, "pub", "public", "read-only maps")
        case_id = s.scalars(select(Case.id)).one()
    return db_url, case_id


def walk_every_state(url: str, case_id: int, photo: Path, data_dir: Path) -> None:
    due = datetime(2024, 3, 3, 17, 0, tzinfo=timezone.utc)
    with db.session_scope(url) as s:
        cases.assign(s, case_id, "minh", actor="lan", reason="nearest inspector", due_at=due)
        cases.transition(s, case_id, "in_inspection", actor="minh", reason="on site 10:05")
        cases.add_note(s, case_id, "minh", "Ruộng lúa vừa gặt, còn khói.")
        ev = cases.add_evidence(s, case_id, photo, "minh", data_dir)
        assert ev.distance_m is not None and ev.distance_m < 60
        cases.transition(s, case_id, "confirmed_burning", actor="minh", reason="straw burning seen")
        cases.transition(s, case_id, "closed", actor="lan", reason="fine issued")
        cases.assign(s, case_id, "minh", actor="lan", reason="re-open: new smoke reported")
        cases.transition(s, case_id, "in_inspection", actor="minh", reason="second visit")
        cases.transition(s, case_id, "no_burning_found", actor="minh", reason="nothing burning")
        cases.transition(s, case_id, "closed", actor="lan", reason="done")


def test_walk_every_state_gives_verifiable_chain(world: tuple[str, int], tmp_path: Path) -> None:
    url, case_id = world
    photo = gps_photo(tmp_path / "IMG_0001.jpg", LON + 0.0003, LAT)  # ~31 m east
    walk_every_state(url, case_id, photo, tmp_path / "data")
    with db.session_scope(url) as s:
        assert cases.verify_case(s, case_id, tmp_path / "data") == []
        hist = cases.history(s, case_id)
        assert [getattr(r, "to_state", None) for r in hist] == [
            "new",
            "assigned",
            "in_inspection",
            None,
            None,
            "confirmed_burning",
            "closed",
            "assigned",
            "in_inspection",
            "no_burning_found",
            "closed",
        ]
        case = s.get(Case, case_id)
        assert case is not None and case.state == "closed" and case.due_at is None
        assert hist[3].text == "Ruộng lúa vừa gặt, còn khói."  # type: ignore[union-attr]
    stored = list((tmp_path / "data" / "evidence").rglob("*.jpg"))
    assert len(stored) == 1 and stored[0].stem == hist[4].sha256  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("table", "sql"),
    [
        ("case_events", "UPDATE case_events SET reason = 'nothing to see' WHERE seq = 6"),
        ("case_notes", "UPDATE case_notes SET text = 'edited' WHERE seq = 4"),
        ("evidence", "UPDATE evidence SET distance_m = 1.0 WHERE seq = 5"),
    ],
)
def test_editing_one_row_is_detected_and_named(
    world: tuple[str, int], tmp_path: Path, table: str, sql: str
) -> None:
    url, case_id = world
    walk_every_state(url, case_id, gps_photo(tmp_path / "p.jpg", LON, LAT), tmp_path / "data")
    with db.get_engine(url).begin() as conn:
        conn.execute(text(sql))
        row_id = conn.execute(text(f"SELECT id FROM {table} WHERE seq = {sql.rsplit('= ', 1)[1]}")).scalar()
    with db.session_scope(url) as s:
        problems = cases.verify_case(s, case_id)
    assert len(problems) == 1
    assert f"{table} id={row_id}" in str(problems[0]) and "edited" in str(problems[0])


def test_deleted_row_and_altered_file_are_detected(world: tuple[str, int], tmp_path: Path) -> None:
    url, case_id = world
    walk_every_state(url, case_id, gps_photo(tmp_path / "p.jpg", LON, LAT), tmp_path / "data")
    with db.get_engine(url).begin() as conn:
        conn.execute(text("DELETE FROM case_events WHERE seq = 11"))  # drop the last event
    with db.session_scope(url) as s:
        assert "head does not match" in str(cases.verify_all(s)[0])
    stored = next((tmp_path / "data" / "evidence").rglob("*.jpg"))
    stored.write_bytes(b"not the photo")
    with db.get_engine(url).begin() as conn:
        conn.execute(text("DELETE FROM case_notes"))
    with db.session_scope(url) as s:
        problems = cases.verify_case(s, case_id, tmp_path / "data")
    assert "sequence 5, expected 4" in str(problems[0]) and "evidence id=" in str(problems[0])


def _worked(url: str, case_id: int) -> None:
    """assigned -> in_inspection, plus a second incident (id 2) to point a case at."""
    with db.session_scope(url) as s:
        ingest_hotspots(
            s, [make_hotspot(LON + 1, LAT)], ScanRecord(kind="scan", source="sentinel2"), params=PARAMS
        )
        cases.assign(s, case_id, "minh", actor="lan", reason="go")
        cases.transition(s, case_id, "in_inspection", actor="minh", reason="there")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE cases SET state = 'closed'", "state closed but the history ends in in_inspection"),
        ("UPDATE cases SET assignee_id = (SELECT id FROM users WHERE username = 'quan')", "assignee quan"),
        ("UPDATE cases SET due_at = '2030-01-01 00:00:00.000000'", "due date"),
        ("UPDATE cases SET incident_id = 2", "incident 2 but the history records incident 1"),
    ],
)
def test_editing_the_cases_row_is_detected(world: tuple[str, int], sql: str, message: str) -> None:
    url, case_id = world
    _worked(url, case_id)
    with db.get_engine(url).begin() as conn:
        conn.execute(text(f"{sql} WHERE id = {case_id}"))
    with db.session_scope(url) as s:
        problems = [str(p) for p in cases.verify_all(s)]
    assert len(problems) == 1 and f"case {case_id}: cases id={case_id}" in problems[0], problems
    assert message in problems[0]


def test_no_transition_from_a_state_the_history_does_not_end_in(world: tuple[str, int]) -> None:
    url, case_id = world
    _worked(url, case_id)
    with db.get_engine(url).begin() as conn:
        conn.execute(text(f"UPDATE cases SET state = 'closed' WHERE id = {case_id}"))
    with db.session_scope(url) as s:
        with pytest.raises(ConflictError, match="disagrees with its history, which ends in in_inspection"):
            cases.assign(s, case_id, "minh", actor="lan", reason="re-open the forged case")
        assert [getattr(r, "to_state", None) for r in cases.history(s, case_id)][-1] == "in_inspection"


def test_an_event_that_does_not_follow_the_previous_one_is_detected(world: tuple[str, int]) -> None:
    url, case_id = world
    _worked(url, case_id)
    with db.session_scope(url) as s:  # a correctly hashed event from the wrong state (a forged row)
        case = cases.get_case(s, case_id)
        case.state = "assigned"
        ev = CaseEvent(at=datetime.now(timezone.utc), actor="lan", from_state="closed", to_state="assigned")
        ev.reason, ev.assignee = "re-open", "minh"
        cases._append(s, case, ev)
        ev_id = ev.id
    with db.session_scope(url) as s:
        problems = [str(p) for p in cases.verify_case(s, case_id)]
    assert problems == [
        f"case {case_id}: case_events id={ev_id}: "
        "from_state closed does not follow the previous event's in_inspection"
    ]


def test_deleting_the_newest_audit_rows_is_detected(world: tuple[str, int]) -> None:
    url, case_id = world
    _worked(url, case_id)
    with db.session_scope(url) as s:
        assert verify_audit(s) == []
        rows = s.scalar(select(func.count()).select_from(AuditLog))
        head = s.get(AuditHead, 1)
        assert head is not None and head.count == rows
    drop = (
        "DROP TRIGGER audit_log_append_only ON audit_log"
        if url.startswith("postgresql")
        else "DROP TRIGGER audit_log_no_delete"
    )
    with db.get_engine(url).begin() as conn:  # an attacker with the database's owner rights
        conn.execute(text(drop))
        conn.execute(text("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)"))
    with db.session_scope(url) as s:
        assert verify_audit(s) == [f"audit_head: {rows} rows recorded, {rows - 1} present (rows deleted?)"]
    with db.get_engine(url).begin() as conn:
        conn.execute(text("DELETE FROM audit_head"))
    with db.session_scope(url) as s:
        assert verify_audit(s) == ["audit_head: missing (deleted?)"]
        with pytest.raises(IntegrityError, match="head row is missing"):
            cases.add_note(s, case_id, "minh", "no write goes unrecorded")


def test_only_the_assignee_among_inspectors_moves_a_case(world: tuple[str, int]) -> None:
    url, case_id = world
    with db.session_scope(url) as s:
        add_user(s, "tuan", "inspector", "battery staple")
        cases.assign(s, case_id, "minh", actor="lan", reason="go")
    only_minh = "assigned to minh: only they or an analyst/admin"
    with db.session_scope(url) as s, pytest.raises(PermissionDeniedError, match=only_minh):
        cases.transition(s, case_id, "in_inspection", actor="tuan", reason="not mine")
    with db.session_scope(url) as s:
        cases.transition(s, case_id, "in_inspection", actor="minh", reason="mine")
        cases.transition(s, case_id, "no_burning_found", actor="lan", reason="analyst may")
        assert cases.get_case(s, case_id).state == "no_burning_found"


def test_only_allowed_transitions(world: tuple[str, int]) -> None:
    url, case_id = world
    with db.session_scope(url) as s:
        with pytest.raises(ConflictError, match="cannot go from new to closed"):
            cases.transition(s, case_id, "closed", actor="lan", reason="skip")
        with pytest.raises(ConflictError, match="new to in_inspection"):
            cases.transition(s, case_id, "in_inspection", actor="minh", reason="x")
        with pytest.raises(InputError, match="needs a reason"):
            cases.assign(s, case_id, "minh", actor="lan", reason=" ")
        with pytest.raises(InputError, match="not an active inspector"):
            cases.assign(s, case_id, "lan", actor="lan", reason="self")
        with pytest.raises(PermissionDeniedError):
            cases.assign(s, case_id, "minh", actor="minh", reason="inspectors cannot assign")
        with pytest.raises(PermissionDeniedError):
            cases.add_note(s, case_id, "pub", "public users cannot write")
        with pytest.raises(PermissionDeniedError, match="unknown"):
            cases.add_note(s, case_id, "nobody", "hi")
        assert cases.get_case(s, case_id).state == "new"


def _set_province(url: str, province: str | None) -> None:
    with db.session_scope(url) as s:
        s.scalars(select(Incident)).one().province = province


def test_province_scope(world: tuple[str, int]) -> None:
    url, case_id = world
    _set_province(url, "Đồng Tháp")
    with db.session_scope(url) as s:
        cases.assign(s, case_id, "quan", actor="lan", reason="only free inspector")
    _set_province(url, "Hưng Yên")  # the incident is attributed again after the assignment
    with db.session_scope(url) as s, pytest.raises(PermissionDeniedError, match="outside"):
        cases.transition(s, case_id, "in_inspection", actor="quan", reason="wrong province")


def test_assigning_an_inspector_of_another_province_is_refused(world: tuple[str, int]) -> None:
    """An inspector with a province sees only that province's cases: assigning them one
    elsewhere (or of an incident without a province) is refused, naming both provinces."""
    url, case_id = world
    _set_province(url, "Hưng Yên")
    with db.session_scope(url) as s:
        add_user(s, "hoa", "inspector", "battery staple", province="Hưng Yên")
    with db.session_scope(url) as s:
        with pytest.raises(
            InputError, match=rf"'quan' works in Đồng Tháp, but case {case_id} is in Hưng Yên"
        ):
            cases.assign(s, case_id, "quan", actor="lan", reason="wrong province")
        assert cases.get_case(s, case_id).state == "new"
        cases.assign(s, case_id, "hoa", actor="lan", reason="same province")
        cases.assign(s, case_id, "minh", actor="lan", reason="no province: any case")
        with pytest.raises(InputError, match="'quan' works in Đồng Tháp"):  # re-assigning too
            cases.assign(s, case_id, "quan", actor="lan", reason="wrong province")
    _set_province(url, None)
    with db.session_scope(url) as s:
        with pytest.raises(
            InputError, match=rf"'hoa' works in Hưng Yên, but case {case_id} is in no province"
        ):
            cases.assign(s, case_id, "hoa", actor="lan", reason="unattributed incident")
        cases.assign(s, case_id, "minh", actor="lan", reason="no province: any case")
        case = cases.get_case(s, case_id)
        assert case.state == "assigned" and case.assignee_id is not None
        assert [e.assignee for e in cases.history(s, case_id) if getattr(e, "assignee", None)] == [
            "hoa",
            "minh",
            "minh",
        ]


def test_static_source_outcome_flags_later_hotspots(world: tuple[str, int]) -> None:
    url, case_id = world
    with db.session_scope(url) as s:
        cases.assign(s, case_id, "minh", actor="lan", reason="check")
        cases.transition(s, case_id, "in_inspection", actor="minh", reason="visit")
        cases.transition(s, case_id, "static_source", actor="minh", reason="Lò gạch Tân Hưng (brick kiln)")
        zone = s.scalars(select(StaticSource)).one()
        assert zone.origin == f"case:{case_id}" and zone.geom.contains(zone.geom.centroid)
    later = make_hotspot(LON + 0.0005, LAT, time="2024-03-05T03:30:00")
    with db.session_scope(url) as s:
        r = ingest_hotspots(
            s, [later], ScanRecord(kind="scan", source="sentinel2", label="later"), params=PARAMS
        )
        assert r.added == 1 and r.flagged_static == 1  # flagged, not dropped
        inc = s.scalars(select(Incident).order_by(Incident.id.desc())).first()
        assert inc is not None and inc.static_source and inc.static_source_id == zone.id


def test_users_passwords_are_argon2(world: tuple[str, int]) -> None:
    from burnwatch.errors import AuthenticationError, ConflictError

    url, _ = world
    with db.session_scope(url) as s:
        user = authenticate(s, "lan", "correct horse")
        assert user.password_hash.startswith("$argon2id$") and user.full_name == "Nguyễn Thị Lan"
        with pytest.raises(AuthenticationError):
            authenticate(s, "lan", "wrong")
        with pytest.raises(ConflictError):
            add_user(s, "lan", "admin", "another password")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 8 characters"),
        ("Minh-2024-dong", "must not contain the username"),
        ("MINH.is.here", "must not contain the username"),
        ("aaaaaaaa", "one character repeated"),
        ("12345678", "simple sequence"),
        ("hgfedcba", "simple sequence"),
        ("QWERTYUI", "simple sequence"),
        ("lkjhgfdsa", "simple sequence"),
        ("Password1", "most common passwords"),
        ("iloveyou", "most common passwords"),
        ("anhyeuem", "most common passwords"),
    ],
)
def test_weak_passwords_are_refused(sqlite_template: Path, tmp_path: Path, password: str, message: str) -> None:
    """NIST SP 800-63B checks that need no network, one message each."""
    import shutil

    url = f"sqlite:///{tmp_path / 'u.db'}"
    shutil.copyfile(sqlite_template, tmp_path / "u.db")
    with db.session_scope(url) as s:
        with pytest.raises(InputError, match=message):
            add_user(s, "minh", "inspector", password)
        add_user(s, "minh", "inspector", "mưa phùn tháng ba")  # Vietnamese passphrase: fine
        add_user(s, "an", "inspector", "an-ninh-rung-2024")  # names under 3 characters are not checked


def test_user_add_refuses_a_weak_password(sqlite_template: Path, tmp_path: Path) -> None:
    import shutil

    from click.testing import CliRunner

    from burnwatch.cli.main import cli

    shutil.copyfile(sqlite_template, tmp_path / "u.db")
    url = f"sqlite:///{tmp_path / 'u.db'}"
    args = ["user", "add", "--database", url, "lan", "--role", "analyst", "--password"]
    result = CliRunner().invoke(cli, [*args, "12345678"])
    assert result.exit_code != 0 and "simple sequence" in result.output
    assert CliRunner().invoke(cli, [*args, "correct horse"]).exit_code == 0


def test_look_alike_usernames_cannot_coexist(world: tuple[str, int]) -> None:
    """Names are unique once NFKC-normalised and case-folded, logins fold them the same way,
    and names mixing scripts (Latin ``dmin`` with a Cyrillic ``а``) are refused."""
    from burnwatch.errors import AuthenticationError

    url, _ = world
    with db.session_scope(url) as s:
        for twin in ("Lan", "LAN", "\uff4c\uff41\uff4e"):  # the last is full-width "lan"
            with pytest.raises(ConflictError, match="already exists"):
                add_user(s, twin, "admin", "another password")
        with pytest.raises(InputError, match="mixes scripts"):
            add_user(s, "\u0430dmin", "admin", "another password")  # Cyrillic а + Latin dmin
        add_user(s, "nguyễn.văn-hưng", "inspector", "battery staple")  # Vietnamese: one script
        add_user(s, "админ", "admin", "another password")  # Cyrillic only: its own name
        assert authenticate(s, "LAN", "correct horse").username == "lan"
        assert authenticate(s, "Nguyễn.Văn-Hưng", "battery staple").username == "nguyễn.văn-hưng"
        with pytest.raises(AuthenticationError):
            authenticate(s, "\u0430dmin", "another password")


def test_unknown_users_cost_one_password_verification_too(
    world: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No username enumeration by timing: an unknown or inactive user's password is verified
    against a dummy hash with the same Argon2 parameters, one verification per login like a
    known user's (counted, not timed)."""
    from argon2 import PasswordHasher

    import burnwatch.store.users as users
    from burnwatch.errors import AuthenticationError

    url, _ = world
    verified: list[str] = []
    hashed: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash))
            return super().verify(hash, password)

        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            hashed.append(str(password))
            return super().hash(password, salt=salt)

    hasher = Counting(time_cost=1, memory_cost=1024)
    monkeypatch.setattr(users, "password_hasher", lambda: hasher)
    monkeypatch.setattr(users, "_DUMMY_HASHES", {}, raising=False)
    with db.session_scope(url) as s:
        s.execute(text("UPDATE users SET active = false WHERE username = 'pub'"))
    with db.session_scope(url) as s:
        lan_hash = users.get_user(s, "lan").password_hash
        for name, password in [
            ("nobody", "correct horse"),
            ("lan", "wrong"),
            ("pub", "read-only maps"),  # inactive
            ("nobody-else", "x"),
        ]:
            verified.clear()
            with pytest.raises(AuthenticationError, match="wrong username or password"):
                users.authenticate(s, name, password)
            assert len(verified) == 1, name
            # the same Argon2 parameters as a real hash: $argon2id$v=19$m=1024,t=1,p=4$
            assert verified[0].split("$")[1:4] == lan_hash.split("$")[1:4], name
        verified.clear()
        assert users.authenticate(s, "lan", "correct horse").username == "lan"
        assert len(verified) == 1
    assert len(hashed) == 1  # the dummy hash is made once, not on every unknown login


def test_read_gps_from_exif(tmp_path: Path) -> None:
    gps = read_gps(gps_photo(tmp_path / "g.jpg", 105.83416, 21.02776))
    assert gps is not None
    assert gps.lon == pytest.approx(105.83416, abs=1e-6) and gps.lat == pytest.approx(21.02776, abs=1e-6)
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 8)).save(plain)
    assert read_gps(plain) is None
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    from burnwatch.errors import CorruptFileError

    with pytest.raises(CorruptFileError, match=r"bad\.jpg"):
        read_gps(bad)


@pytest.mark.shared
def test_read_gps_matches_the_drone_reader_on_real_photos(shared_dir: Path) -> None:
    """Real DJI FC300S and WebODM fixture photos: same position as the drone pipeline's reader."""
    from burnwatch.sources.drone_meta import read_photo_meta

    photos = sorted((shared_dir / "data/drone/dji_fc300s_brighton").glob("*.JPG"))[:2]
    photos += sorted((shared_dir / "data/drone/parser_fixtures").glob("tiny_drone_image*.jpg"))
    if not photos:
        pytest.skip("drone photos not present in ../shared")
    for photo in photos:
        gps, meta = read_gps(photo), read_photo_meta(photo)
        assert gps is not None and meta.lat is not None and meta.lon is not None
        assert gps.lat == pytest.approx(meta.lat, abs=1e-7) and gps.lon == pytest.approx(meta.lon, abs=1e-7)
