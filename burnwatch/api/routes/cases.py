"""Cases: list (my assigned cases for inspectors), transitions, notes, evidence upload/download."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse

from burnwatch.api import queries
from burnwatch.api.auth import CASE_ROLES, Principal, allow, db_session, principal, province_scope
from burnwatch.api.routes.common import RowId
from burnwatch.api.routes.incidents import history_rows
from burnwatch.api.uploads import inside, max_upload_bytes, safe_filename, stream_to_file
from burnwatch.errors import BurnwatchError, NotFoundError
from burnwatch.incidents.cases import WRITER_ROLES
from burnwatch.store.models import Case, Evidence, Incident

router = APIRouter(tags=["cases"])
EVIDENCE_ROLES = tuple(sorted(WRITER_ROLES))


class TransitionIn(BaseModel):
    to_state: str = Field(max_length=24)
    reason: str = Field(min_length=1, max_length=2000)
    assignee: str | None = Field(default=None, max_length=64)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=10000)


def load_case(db: Session, p: Principal, case_id: int) -> tuple[Case, Incident]:
    case = db.get(Case, case_id)
    inc = db.get(Incident, case.incident_id) if case is not None else None
    scope = province_scope(p, None)
    if case is None or inc is None or (scope is not None and inc.province != scope):
        raise NotFoundError(f"no case {case_id}")
    return case, inc


def case_out(db: Session, case: Case, inc: Incident, assignee: str | None) -> dict[str, Any]:
    from burnwatch.incidents.cases import TRANSITIONS

    return {
        "id": case.id,
        "state": case.state,
        "next_states": sorted(TRANSITIONS[case.state]),
        "assignee": assignee,
        "due_at": queries.iso_utc(case.due_at),
        "updated_at": queries.iso_utc(case.updated_at),
        "incident": queries.incident_feature(inc, case),
    }


@router.get("/api/cases", dependencies=[allow(*CASE_ROLES)])
def list_cases(
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
    mine: bool = False,
    state: Annotated[str | None, Query(max_length=24)] = None,
    open_only: bool = True,
) -> list[dict[str, Any]]:
    """Cases in the caller's scope; ``mine`` = assigned to the caller."""
    from burnwatch.store.queries import cases

    views = cases(
        db,
        state=state,
        province=province_scope(p, None),
        assignee=p.username if mine else None,
        open_only=open_only,
    )
    return [case_out(db, v.case, v.incident, v.assignee) for v in views]


@router.get("/api/cases/{case_id}", dependencies=[allow(*CASE_ROLES)])
def get_case(
    case_id: RowId, p: Annotated[Principal, Depends(principal)], db: Annotated[Session, Depends(db_session)]
) -> dict[str, Any]:
    from burnwatch.store.models import User

    case, inc = load_case(db, p, case_id)
    user = db.get(User, case.assignee_id) if case.assignee_id else None
    out = case_out(db, case, inc, user.username if user else None)
    out["history"] = history_rows(db, case.id)
    return out


@router.post("/api/cases/{case_id}/transition", dependencies=[allow(*CASE_ROLES)])
def transition(
    case_id: RowId,
    body: TransitionIn,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> dict[str, Any]:
    """Move the case (409 for a transition the workflow forbids, 403 for the wrong role)."""
    from burnwatch.incidents.cases import transition as move

    load_case(db, p, case_id)
    event = move(db, case_id, body.to_state, actor=p.username, reason=body.reason, assignee=body.assignee)
    return {"case_id": case_id, "state": event.to_state, "seq": event.seq}


@router.post("/api/cases/{case_id}/notes", dependencies=[allow(*EVIDENCE_ROLES)])
def add_note(
    case_id: RowId,
    body: NoteIn,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> dict[str, Any]:
    from burnwatch.incidents.cases import add_note as note

    load_case(db, p, case_id)
    row = note(db, case_id, p.username, body.text)
    return {"case_id": case_id, "seq": row.seq}


@router.post("/api/cases/{case_id}/evidence", dependencies=[allow(*EVIDENCE_ROLES)])
async def upload_evidence(
    case_id: RowId,
    request: Request,
    p: Annotated[Principal, Depends(principal)],
    filename: Annotated[str, Query(max_length=128)] = "photo.jpg",
) -> dict[str, Any]:
    """Raw body = the photo (``?filename=IMG_1.jpg``). Its EXIF GPS gives the distance (m)
    to the incident geometry; the file is stored content-addressed under ``data_dir``."""
    name = safe_filename(filename, "photo.jpg")
    settings = request.app.state.settings

    def _check() -> None:
        db = request.app.state.sessions()
        try:
            load_case(db, p, case_id)
        finally:
            db.close()

    await run_in_threadpool(_check)
    with tempfile.TemporaryDirectory(prefix="burnwatch-upload-") as tmp:
        path = Path(tmp) / name
        await stream_to_file(request, path, max_upload_bytes(request))

        def _store() -> dict[str, Any]:
            from burnwatch.incidents.cases import add_evidence

            db = request.app.state.sessions()
            try:
                ev = add_evidence(db, case_id, path, p.username, Path(settings.data_dir))
                out = {
                    "case_id": case_id,
                    "evidence_id": ev.id,
                    "seq": ev.seq,
                    "sha256": ev.sha256,
                    "lon": ev.lon,
                    "lat": ev.lat,
                    "distance_m": ev.distance_m,
                    "url": f"/api/evidence/{ev.id}/file",
                }
                db.commit()
                return out
            except BaseException:
                db.rollback()
                raise
            finally:
                db.close()

        try:
            return await run_in_threadpool(_store)
        except BurnwatchError as exc:
            cut_folder(exc, Path(tmp))
            raise


def cut_folder(exc: BurnwatchError, folder: Path) -> None:
    """Cut the server's temporary upload folder out of ``exc``'s message, so that it names
    the file as uploaded (``IMG_1.jpg: ...``), never ``/tmp/burnwatch-upload-.../IMG_1.jpg``."""
    exc.message = exc.message.replace(f"{folder}{os.sep}", "")
    exc.args = (exc.message,)


@router.get("/api/evidence/{evidence_id}/file", dependencies=[allow(*CASE_ROLES)])
def evidence_file(
    evidence_id: RowId,
    request: Request,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> FileResponse:
    ev = db.get(Evidence, evidence_id)
    if ev is None:
        raise NotFoundError(f"no evidence {evidence_id}")
    load_case(db, p, ev.case_id)
    base = Path(request.app.state.settings.data_dir) / "evidence"
    path = inside(base, ev.path.removeprefix("evidence/"))
    if not path.is_file():
        raise NotFoundError(f"evidence {evidence_id}: stored file is missing")
    return FileResponse(path, filename=ev.filename)
