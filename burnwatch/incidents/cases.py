"""The enforcement case workflow: a state machine with a tamper-evident history.

States::

    new -> assigned -> in_inspection -> confirmed_burning | no_burning_found | static_source
        -> closed;  closed -> assigned (re-open);  assigned -> assigned (re-assign)

Every transition records who, when and why (:class:`CaseEvent`); notes and evidence files
are added to the same history. Each history row carries a per-case sequence number and
``hash = sha256(prev_hash + canonical JSON of the row)`` (:mod:`burnwatch.store.chain`),
so editing, deleting or reordering any row is detected by :func:`verify_case`, which names
the first bad row as ``<table> id=<id>``. The ``cases`` row itself (state, assignee, due date,
incident) is a summary of that history: verify recomputes it from the chain (each event's
``from_state`` must be the previous ``to_state``; the incident id is in the first event's
reason, ``incident N created``, and in the system's merge records) and reports any
difference, and a transition refuses to start from a state the chain does not end in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from burnwatch.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from burnwatch.incidents.evidence import read_gps, sha256_file, store_file
from burnwatch.incidents.geo import distance_m
from burnwatch.store.chain import GENESIS, audit, chain_hash, row_payload
from burnwatch.store.models import Case, CaseEvent, CaseNote, Evidence, Incident, User, now_utc

OUTCOMES = ("confirmed_burning", "no_burning_found", "static_source")
STATES = ("new", "assigned", "in_inspection", *OUTCOMES, "closed")
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"assigned"}),
    "assigned": frozenset({"assigned", "in_inspection"}),
    "in_inspection": frozenset(OUTCOMES),
    "confirmed_burning": frozenset({"closed"}),
    "no_burning_found": frozenset({"closed"}),
    "static_source": frozenset({"closed"}),
    "closed": frozenset({"assigned"}),
}
#: Roles allowed to move a case into a state ("system" may do anything).
ROLE_FOR_STATE: dict[str, frozenset[str]] = {
    "assigned": frozenset({"admin", "analyst"}),
    "in_inspection": frozenset({"admin", "analyst", "inspector"}),
    "confirmed_burning": frozenset({"admin", "analyst", "inspector"}),
    "no_burning_found": frozenset({"admin", "analyst", "inspector"}),
    "static_source": frozenset({"admin", "analyst", "inspector"}),
    "closed": frozenset({"admin", "analyst"}),
}
#: An assigned case is moved only by its assignee among inspectors (:func:`_check_assignee`).
WRITER_ROLES = frozenset({"admin", "analyst", "inspector", "drone_operator"})

EVENT_FIELDS = ("case_id", "seq", "at", "actor", "from_state", "to_state", "reason", "assignee", "due_at")
NOTE_FIELDS = ("case_id", "seq", "at", "author", "text")
EVIDENCE_FIELDS = (
    "case_id",
    "seq",
    "at",
    "uploaded_by",
    "filename",
    "sha256",
    "path",
    "size_bytes",
    "lon",
    "lat",
    "taken_at",
    "distance_m",
)
FIELDS: dict[type, tuple[str, ...]] = {
    CaseEvent: EVENT_FIELDS,
    CaseNote: NOTE_FIELDS,
    Evidence: EVIDENCE_FIELDS,
}
SYSTEM = "system"


def get_case(session: Session, case_id: int, *, lock: bool = False) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = session.scalars(stmt).first()
    if case is None:
        raise NotFoundError(f"no case {case_id}")
    return case


def _actor(session: Session, actor: str, case: Case, roles: Iterable[str]) -> User | None:
    """Check that ``actor`` is an active user with one of ``roles`` and in scope."""
    if actor == SYSTEM:
        return None
    user = session.scalars(select(User).where(User.username == actor, User.active.is_(True))).first()
    if user is None:
        raise PermissionDeniedError(f"unknown or inactive user {actor!r}")
    if user.role not in set(roles):
        raise PermissionDeniedError(f"user {actor!r} ({user.role}) may not do this")
    if user.province is not None and user.role != "admin":
        incident = session.get(Incident, case.incident_id)
        if incident is not None and incident.province not in (None, user.province):
            raise PermissionDeniedError(
                f"case {case.id} is in {incident.province}, outside {actor!r}'s province"
            )
    return user


def _append(session: Session, case: Case, row: CaseEvent | CaseNote | Evidence) -> None:
    """Link ``row`` into the case's hash chain and save it."""
    row.case_id = case.id
    row.seq = case.seq + 1
    row.prev_hash = case.head_hash or GENESIS
    row.hash = chain_hash(row.prev_hash, row_payload(row, FIELDS[type(row)]))
    case.seq = row.seq
    case.head_hash = row.hash
    case.updated_at = row.at
    session.add(row)
    session.flush()


def open_case(session: Session, incident_id: int, *, actor: str = SYSTEM, reason: str | None = None) -> Case:
    """Open a case (state ``new``) for an incident; the first event's reason names the
    incident (``incident N created``) so that verify can check ``cases.incident_id``."""
    reason = reason or f"incident {incident_id} created"
    case = Case(incident_id=incident_id, state="new", seq=0, head_hash="")
    session.add(case)
    session.flush()
    _append(
        session, case, CaseEvent(at=now_utc(), actor=actor, from_state=None, to_state="new", reason=reason)
    )
    return case


def transition(
    session: Session,
    case_id: int,
    to_state: str,
    *,
    actor: str,
    reason: str,
    assignee: str | None = None,
    due_at: datetime | None = None,
) -> CaseEvent:
    """Move a case to ``to_state``; ConflictError for a transition the workflow forbids."""
    if to_state not in STATES:
        raise InputError(f"unknown case state {to_state!r} (states: {', '.join(STATES)})")
    if not reason.strip():
        raise InputError("a transition needs a reason")
    case = get_case(session, case_id, lock=True)
    _check_state_matches_chain(session, case)
    if to_state not in TRANSITIONS[case.state]:
        allowed = ", ".join(sorted(TRANSITIONS[case.state]))
        raise ConflictError(f"case {case_id}: cannot go from {case.state} to {to_state} (allowed: {allowed})")
    user = _actor(session, actor, case, ROLE_FOR_STATE[to_state])
    _check_assignee(session, case, user)
    if to_state == "assigned":
        if not assignee:
            raise InputError("assigning a case needs an inspector")
        inspector = session.scalars(
            select(User).where(User.username == assignee, User.active.is_(True))
        ).first()
        if inspector is None or inspector.role != "inspector":
            raise InputError(f"{assignee!r} is not an active inspector")
        _check_inspector_scope(session, case, inspector)
        case.assignee_id = inspector.id
        case.due_at = due_at
    elif assignee is not None or due_at is not None:
        raise InputError("assignee and due date are only set when assigning")
    event = CaseEvent(
        at=now_utc(),
        actor=actor,
        from_state=case.state,
        to_state=to_state,
        reason=reason.strip(),
        assignee=assignee if to_state == "assigned" else None,
        due_at=due_at if to_state == "assigned" else None,
    )
    case.state = to_state
    _append(session, case, event)
    if to_state == "static_source":
        _register_static(session, case, actor, reason)
    audit(session, actor, f"case.{to_state}", "cases", case.id, reason=reason.strip(), assignee=assignee)
    return event


def _check_assignee(session: Session, case: Case, user: User | None) -> None:
    """An inspector moves only the cases assigned to them; analysts and admins (and the
    system) move any case in their scope."""
    if user is None or user.role != "inspector" or case.assignee_id in (None, user.id):
        return
    assignee = session.get(User, case.assignee_id)
    name = assignee.username if assignee is not None else f"user {case.assignee_id}"
    raise PermissionDeniedError(
        f"case {case.id} is assigned to {name}: only they or an analyst/admin may move it"
    )


def _check_state_matches_chain(session: Session, case: Case) -> None:
    """ConflictError when ``cases.state`` is not the last chained event's ``to_state``: the
    row was edited outside the workflow, and a transition from it would chain a lie."""
    last = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc()).limit(1)
    ).first()
    chained = last.to_state if last is not None else None
    if chained != case.state:
        raise ConflictError(
            f"case {case.id}: its state {case.state} disagrees with its history, which ends in "
            f"{chained or 'no event'}; the cases row was altered — run `burnwatch case verify {case.id}`"
        )


def _check_inspector_scope(session: Session, case: Case, inspector: User) -> None:
    """An inspector with a province sees only that province's incidents (the web app's
    province scope: ``incident.province == user.province``), so a case elsewhere, or of an
    incident without a province, cannot be theirs. Inspectors without a province take any."""
    if inspector.province is None:
        return
    incident = session.get(Incident, case.incident_id)
    where = incident.province if incident is not None else None
    if where != inspector.province:
        raise InputError(
            f"inspector {inspector.username!r} works in {inspector.province}, but case {case.id} is "
            f"{'in ' + where if where else 'in no province'}: they could not see it; "
            "assign an inspector of that province or one without a province"
        )


def assign(
    session: Session, case_id: int, inspector: str, *, actor: str, reason: str, due_at: datetime | None = None
) -> CaseEvent:
    """Assign (or re-assign, or re-open and assign) a case to an inspector with a due date."""
    return transition(
        session, case_id, "assigned", actor=actor, reason=reason, assignee=inspector, due_at=due_at
    )


def _register_static(session: Session, case: Case, actor: str, reason: str) -> None:
    from burnwatch.incidents.register import add_static_zone, circle

    incident = session.get(Incident, case.incident_id)
    if incident is None:
        return
    zone = incident.geom.buffer(0) if incident.geom.geom_type in ("Polygon", "MultiPolygon") else None
    # At least a 250 m circle: the member footprints may be a single small drone box.
    min_zone = circle(incident.lon, incident.lat, 250.0)
    geometry = min_zone if zone is None or zone.area < min_zone.area else zone
    row = add_static_zone(
        session,
        f"case {case.id}: {reason.strip()[:200]}",
        "other",
        geometry,
        origin=f"case:{case.id}",
        actor=actor,
    )
    incident.static_source = True
    incident.static_source_id = row.id


def close_as_merged(session: Session, case: Case, survivor_incident: int, old_incident: int) -> None:
    """System step when incidents merge: an untouched ``new`` case of the absorbed incident is
    closed as a duplicate; a case already being worked is moved to the surviving incident."""
    reason = f"incident {old_incident} merged into incident {survivor_incident}"
    if case.state == "new":
        case.state = "closed"
        _append(
            session,
            case,
            CaseEvent(at=now_utc(), actor=SYSTEM, from_state="new", to_state="closed", reason=reason),
        )
    else:
        _append(session, case, CaseNote(at=now_utc(), author=SYSTEM, text=reason))
    case.incident_id = survivor_incident
    session.flush()


def add_note(session: Session, case_id: int, author: str, text: str) -> CaseNote:
    if not text.strip():
        raise InputError("a note needs text")
    case = get_case(session, case_id, lock=True)
    _actor(session, author, case, WRITER_ROLES)
    note = CaseNote(at=now_utc(), author=author, text=text.strip())
    _append(session, case, note)
    audit(session, author, "case.note", "cases", case.id, seq=note.seq)
    return note


def add_evidence(
    session: Session, case_id: int, path: Path, uploaded_by: str, data_dir: Path, max_bytes: int | None = None
) -> Evidence:
    """Store an evidence file (content-addressed, sha256) and its EXIF GPS; the distance
    from the photo position to the incident geometry is computed in metres (0 inside)."""
    path = Path(path)
    case = get_case(session, case_id, lock=True)
    _actor(session, uploaded_by, case, WRITER_ROLES)
    gps = (
        read_gps(path) if path.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff", ".png", ".heic") else None
    )
    sha, rel, size = store_file(path, data_dir, max_bytes)
    dist = None
    if gps is not None:
        from shapely.geometry import Point

        incident = session.get(Incident, case.incident_id)
        if incident is not None:
            dist = round(distance_m(Point(gps.lon, gps.lat), incident.geom), 1)
    ev = Evidence(
        at=now_utc(),
        uploaded_by=uploaded_by,
        filename=path.name,
        sha256=sha,
        path=rel.as_posix(),
        size_bytes=size,
        lon=gps.lon if gps else None,
        lat=gps.lat if gps else None,
        taken_at=gps.taken_at if gps else None,
        distance_m=dist,
    )
    _append(session, case, ev)
    audit(session, uploaded_by, "case.evidence", "cases", case.id, sha256=sha, distance_m=dist)
    return ev


def history(session: Session, case_id: int) -> list[CaseEvent | CaseNote | Evidence]:
    """Every history row of a case (events, notes, evidence) in chain order."""
    rows: list[Any] = []
    for model in (CaseEvent, CaseNote, Evidence):
        rows.extend(session.scalars(select(model).where(model.case_id == case_id)))
    return sorted(rows, key=lambda r: (r.seq, r.__tablename__, r.id))


@dataclass(frozen=True)
class ChainProblem:
    """One finding of :func:`verify_case`. ``kind`` is ``"tampered"`` (the history or the
    cases row does not match its hashes, or a stored file its sha256) or ``"missing"`` (an
    evidence file is not under the data_dir searched: moved, or the wrong data_dir)."""

    case_id: int
    table: str
    row_id: int | None
    problem: str
    kind: str = "tampered"

    def __str__(self) -> str:
        where = f"{self.table} id={self.row_id}" if self.row_id is not None else self.table
        return f"case {self.case_id}: {where}: {self.problem}"


_CREATED = re.compile(r"incident (\d+) created")
_MERGED = re.compile(r"incident \d+ merged into incident (\d+)")


@dataclass
class _Summary:
    """What the ``cases`` row must say, recomputed from the chain."""

    state: str | None = None
    assignee: str | None = None
    due_at: datetime | None = None
    incident_id: int | None = None  # None: not recorded (cases opened before it was)

    def follow(self, row: CaseEvent | CaseNote | Evidence) -> str | None:
        """Apply one chained row; return a problem when an event does not follow on."""
        text = row.reason if isinstance(row, CaseEvent) else row.text if isinstance(row, CaseNote) else ""
        by = row.actor if isinstance(row, CaseEvent) else getattr(row, "author", None)
        if by == SYSTEM:
            created, merged = _CREATED.fullmatch(text), _MERGED.fullmatch(text)
            if created and self.state is None:
                self.incident_id = int(created.group(1))
            elif merged:
                self.incident_id = int(merged.group(1))
        if not isinstance(row, CaseEvent):
            return None
        if row.from_state != self.state:
            return f"from_state {row.from_state} does not follow the previous event's {self.state}"
        self.state = row.to_state
        if row.to_state == "assigned":
            self.assignee, self.due_at = row.assignee, row.due_at
        return None


def _summary_problems(session: Session, case: Case, chained: _Summary) -> list[str]:
    """Differences between the ``cases`` row and the summary recomputed from its chain."""
    found: list[str] = []
    if case.state != chained.state:
        found.append(f"state {case.state} but the history ends in {chained.state}")
    assignee = session.get(User, case.assignee_id) if case.assignee_id is not None else None
    name = assignee.username if assignee is not None else None
    if name != chained.assignee:
        found.append(f"assignee {name} but the history assigned {chained.assignee}")
    if case.due_at != chained.due_at:
        found.append(f"due date {case.due_at} but the history set {chained.due_at}")
    if chained.incident_id is not None and case.incident_id != chained.incident_id:
        found.append(f"incident {case.incident_id} but the history records incident {chained.incident_id}")
    return found


def verify_case(session: Session, case_id: int, data_dir: Path | None = None) -> list[ChainProblem]:
    """Recompute a case's hash chain and the ``cases`` row it sums up; return the problems
    found (empty = intact).

    With ``data_dir`` the stored evidence files are re-hashed too."""
    case = get_case(session, case_id)
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    chained = _Summary()
    for row in history(session, case_id):
        table = row.__tablename__
        if row.seq != expected_seq:
            problems.append(
                ChainProblem(case_id, table, row.id, f"sequence {row.seq}, expected {expected_seq}")
            )
        elif row.prev_hash != prev:
            problems.append(
                ChainProblem(case_id, table, row.id, "previous hash does not match (row missing?)")
            )
        elif chain_hash(prev, row_payload(row, FIELDS[type(row)])) != row.hash:
            problems.append(ChainProblem(case_id, table, row.id, "content does not match its hash (edited)"))
        elif (broken := chained.follow(row)) is not None:
            problems.append(ChainProblem(case_id, table, row.id, broken))
        if problems:
            return problems
        if isinstance(row, Evidence) and data_dir is not None:
            problems.extend(_file_problems(case_id, row, data_dir))
        prev = row.hash
        expected_seq += 1
    if case.seq != expected_seq - 1 or (case.head_hash or GENESIS) != prev:
        problems.append(
            ChainProblem(case_id, "cases", case.id, "head does not match the history (rows deleted?)")
        )
    problems.extend(
        ChainProblem(case_id, "cases", case.id, f"{p} (cases row altered?)")
        for p in _summary_problems(session, case, chained)
    )
    return problems


def _file_problems(case_id: int, row: Evidence, data_dir: Path) -> list[ChainProblem]:
    """The stored evidence file of ``row`` (its path is relative to ``data_dir``)."""
    root = Path(data_dir).absolute()
    stored = root / row.path
    if not stored.is_file():
        where = f"stored file {row.path} not found under data_dir {root}"
        return [ChainProblem(case_id, "evidence", row.id, where, kind="missing")]
    if sha256_file(stored) != row.sha256:
        altered = f"stored file {stored} does not match its sha256 (altered)"
        return [ChainProblem(case_id, "evidence", row.id, altered)]
    return []


def verify_all(session: Session, data_dir: Path | None = None) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    for cid in session.scalars(select(Case.id).order_by(Case.id)):
        problems.extend(verify_case(session, cid, data_dir))
    return problems
