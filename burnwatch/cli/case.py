"""``burnwatch case``: work enforcement cases (assign, inspect, conclude, verify)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from burnwatch.cli.db import database_option, open_session
from burnwatch.cli.options import DATE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session

actor_option = click.option(
    "--actor",
    envvar="BURNWATCH_USER",
    required=True,
    help="Username doing this (or BURNWATCH_USER); checked against roles.",
)
STATES = [
    "new",
    "assigned",
    "in_inspection",
    "confirmed_burning",
    "no_burning_found",
    "static_source",
    "closed",
]


@contextmanager
def write_session(url: str | None) -> Iterator[Session]:
    """A committing session that takes SQLite's write lock first (``BEGIN IMMEDIATE``):
    parallel case commands queue on busy_timeout instead of failing "database is locked"."""
    from burnwatch.store.db import session_scope

    with session_scope(url, write=True) as session:
        yield session


@click.group()
def case() -> None:
    """Enforcement cases: one per incident, worked from new to closed."""


@case.command("list")
@database_option
@click.option("--state", type=click.Choice(STATES), help="Only cases in this state.")
@click.option("--province", help="Only this province.")
@click.option("--assignee", help="Only cases assigned to this inspector.")
@click.option("--open", "open_only", is_flag=True, help="Hide closed cases.")
def list_(
    database: str | None, state: str | None, province: str | None, assignee: str | None, open_only: bool
) -> None:
    """List cases with their incident's place, time and confidence."""
    from burnwatch.store import queries

    with open_session(database) as session:
        views = queries.cases(session, state=state, province=province, assignee=assignee, open_only=open_only)
        for v in views:
            inc = v.incident
            where = ", ".join(x for x in (inc.commune, inc.province) if x) or f"{inc.lat:.4f},{inc.lon:.4f}"
            due = f" due {v.case.due_at:%Y-%m-%d}" if v.case.due_at else ""
            click.echo(
                f"case {v.case.id:>5}  {v.case.state:<18} incident {inc.id:>5}  {where:<40} "
                f"{inc.first_seen:%Y-%m-%d %H:%M}Z  conf {inc.confidence:.2f}  "
                f"{v.assignee or '-'}{due}"
            )
        click.echo(f"{len(views)} cases")


@case.command()
@database_option
@click.argument("case_id", type=int)
@click.option("--to", "inspector", required=True, help="Inspector's username.")
@click.option("--due", type=DATE, help="Due date (ISO).")
@click.option("--reason", required=True, help="Why this inspector / why re-opened.")
@actor_option
def assign(
    database: str | None, case_id: int, inspector: str, due: datetime | None, reason: str, actor: str
) -> None:
    """Assign (re-assign, or re-open) a case to an inspector."""
    from burnwatch.incidents.cases import assign as do_assign

    with write_session(database) as session:
        ev = do_assign(session, case_id, inspector, actor=actor, reason=reason, due_at=due)
        click.echo(f"case {case_id}: {ev.from_state} -> assigned to {inspector}")


@case.command()
@database_option
@click.argument("case_id", type=int)
@click.argument("state", type=click.Choice(STATES))
@click.option("--reason", required=True, help="Why (recorded in the case history).")
@actor_option
def transition(database: str | None, case_id: int, state: str, reason: str, actor: str) -> None:
    """Move a case to STATE (only transitions the workflow allows)."""
    from burnwatch.incidents.cases import transition as do_transition

    with write_session(database) as session:
        ev = do_transition(session, case_id, state, actor=actor, reason=reason)
        click.echo(f"case {case_id}: {ev.from_state} -> {ev.to_state}")


@case.command()
@database_option
@click.argument("case_id", type=int)
@click.argument("text")
@actor_option
def note(database: str | None, case_id: int, text: str, actor: str) -> None:
    """Add an inspector's note to a case."""
    from burnwatch.incidents.cases import add_note

    with write_session(database) as session:
        n = add_note(session, case_id, actor, text)
        click.echo(f"case {case_id}: note #{n.seq} added")


@case.command()
@database_option
@click.argument("case_id", type=int)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@actor_option
def evidence(database: str | None, case_id: int, files: tuple[Path, ...], actor: str) -> None:
    """Upload evidence files (photos: EXIF GPS read, distance to the incident shown)."""
    from burnwatch.config import get_settings
    from burnwatch.errors import BurnwatchError
    from burnwatch.incidents.cases import add_evidence

    settings = get_settings()
    failures = 0
    for path in files:
        try:
            with write_session(database) as session:
                ev = add_evidence(
                    session, case_id, path, actor, settings.data_dir, settings.max_upload_mb << 20
                )
                where = (
                    f"GPS {ev.lat:.6f},{ev.lon:.6f}, {ev.distance_m:.0f} m from the incident"
                    if ev.distance_m is not None
                    else "no GPS"
                )
                click.echo(f"{path.name}: sha256 {ev.sha256[:12]}…, {where}")
        except BurnwatchError as exc:
            failures += 1
            click.echo(f"error: {exc.message}", err=True)
    if failures:
        raise SystemExit(1)


@case.command()
@database_option
@click.argument("case_id", type=int, required=False)
@click.option("--all", "all_", is_flag=True, help="Verify every case and the audit log.")
@click.option("--files/--no-files", default=True, show_default=True, help="Re-hash stored evidence files.")
def verify(database: str | None, case_id: int | None, all_: bool, files: bool) -> None:
    """Recompute hash chains; exit 1 and name the first bad row when tampered with.

    Evidence files are looked up under data_dir (BURNWATCH_DATA_DIR, made absolute when the
    settings load); a file not found there is reported MISSING, with the folder searched, and
    exits 3 when nothing was tampered with."""
    from burnwatch.config import get_settings
    from burnwatch.incidents.cases import verify_all, verify_case
    from burnwatch.store.chain import verify_audit

    if (case_id is None) == (not all_):
        raise click.UsageError("give a CASE_ID or --all")
    data_dir = get_settings().data_dir if files else None
    with open_session(database) as session:
        found = verify_all(session, data_dir) if case_id is None else verify_case(session, case_id, data_dir)
        tampered = [str(p) for p in found if p.kind != "missing"]
        missing = [str(p) for p in found if p.kind == "missing"]
        if all_:
            tampered += verify_audit(session)
    for p in tampered:
        click.echo(f"TAMPERED: {p}", err=True)
    for p in missing:
        click.echo(f"MISSING: {p}", err=True)
    if missing:
        click.echo(
            f"evidence files were searched under data_dir {data_dir} (BURNWATCH_DATA_DIR); "
            "a missing file is not proof of tampering — check the data_dir",
            err=True,
        )
    if tampered:
        raise SystemExit(1)
    if missing:
        raise SystemExit(3)
    click.echo("all case histories and the audit log verify" if all_ else f"case {case_id}: history verifies")


@case.command()
@database_option
@click.argument("case_id", type=int)
def show(database: str | None, case_id: int) -> None:
    """Show a case: incident, state, assignment and the full history."""
    from burnwatch.incidents.cases import get_case, history
    from burnwatch.store.models import CaseEvent, CaseNote, Evidence, Incident

    with open_session(database) as session:
        c = get_case(session, case_id)
        inc = session.get(Incident, c.incident_id)
        assert inc is not None
        click.echo(f"case {c.id}: {c.state}" + (f", due {c.due_at:%Y-%m-%d}" if c.due_at else ""))
        sources = ", ".join(f"{k} {v}" for k, v in inc.source_counts.items())
        click.echo(
            f"incident {inc.id}: {inc.commune or '-'}, {inc.province or '-'}; {inc.lat:.5f}N {inc.lon:.5f}E; "
            f"{inc.first_seen:%Y-%m-%d %H:%M}Z – {inc.last_seen:%Y-%m-%d %H:%M}Z; "
            f"{inc.hotspot_count} hotspots ({sources}); confidence {inc.confidence:.2f}"
            + ("; STATIC SOURCE" if inc.static_source else "")
        )
        for row in history(session, case_id):
            when = f"{row.at:%Y-%m-%d %H:%M:%S}Z"
            if isinstance(row, CaseEvent):
                extra = f" -> {row.assignee}" if row.assignee else ""
                move = f"{row.from_state or '·'} -> {row.to_state}{extra}"
                click.echo(f"  #{row.seq} {when} {row.actor}: {move} ({row.reason})")
            elif isinstance(row, CaseNote):
                click.echo(f"  #{row.seq} {when} {row.author}: note: {row.text}")
            elif isinstance(row, Evidence):
                dist = f", {row.distance_m:.0f} m from incident" if row.distance_m is not None else ", no GPS"
                what = f"evidence {row.filename} sha256 {row.sha256}{dist}"
                click.echo(f"  #{row.seq} {when} {row.uploaded_by}: {what}")
