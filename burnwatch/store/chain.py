"""Hash chains: ``hash = sha256(prev_hash + canonical JSON of the row)``.

Used for each case's history (events, notes and evidence, ordered by their shared per-case
``seq``) and for the global append-only audit log. The canonical JSON is RFC 8785-like:
sorted keys, no whitespace, UTF-8, datetimes as ISO 8601 UTC with microseconds, floats by
Python's shortest round-trip ``repr``. Any change to a hashed field, a deleted row or a
reordering breaks the chain at (and names) the first affected row.

Deleting the *newest* rows leaves a shorter chain that still links up, so each chain keeps a
head: a case its ``seq``/``head_hash``, the audit log the one-row table ``audit_head`` (row
count and newest hash), updated by :func:`audit` in the same transaction as the row it appends
and compared by :func:`verify_audit`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Integer, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from burnwatch.errors import IntegrityError
from burnwatch.store.models import AuditLog, Base, now_utc

GENESIS = "0" * 64


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise TypeError(f"cannot hash {type(value).__name__}")


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def chain_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def row_payload(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The hashed content of an ORM row: its table name plus ``fields``."""
    payload = {name: getattr(row, name) for name in fields}
    payload["table"] = row.__tablename__
    return payload


class AuditHead(Base):
    """The audit log's head: how many rows it has and the newest row's hash (one row, id 1)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


AUDIT_FIELDS = ("at", "actor", "action", "entity", "entity_id", "details")


def _lock_audit(session: Session) -> None:
    # Serialise appends so concurrent writers cannot fork the chain (PostgreSQL); SQLite
    # already serialises writers on its database lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(724311)"))


def audit(
    session: Session, actor: str, action: str, entity: str, entity_id: object = "", **details: Any
) -> AuditLog:
    """Append one audit record (in the caller's transaction)."""
    _lock_audit(session)
    last = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).first()
    prev = last.hash if last is not None else GENESIS
    head = session.get(AuditHead, 1, with_for_update=True)
    if head is None:
        if last is not None:
            raise IntegrityError("the audit log's head row is missing; run `burnwatch case verify --all`")
        head = AuditHead(id=1, count=0, hash=GENESIS)
        session.add(head)
    row = AuditLog(
        at=now_utc(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        details=json.loads(canonical_json(details)),
        prev_hash=prev,
        hash="",
    )
    row.hash = chain_hash(prev, row_payload(row, AUDIT_FIELDS))
    session.add(row)
    head.count += 1
    head.hash = row.hash
    session.flush()
    return row


def verify_audit(session: Session) -> list[str]:
    """Recompute the audit chain; return problems naming rows (``audit_log id=N``)."""
    problems: list[str] = []
    prev = GENESIS
    for row in session.scalars(select(AuditLog).order_by(AuditLog.id)):
        if row.prev_hash != prev:
            problems.append(f"audit_log id={row.id}: previous hash does not match (row missing or reordered)")
        elif chain_hash(prev, row_payload(row, AUDIT_FIELDS)) != row.hash:
            problems.append(f"audit_log id={row.id}: content does not match its hash (edited)")
        prev = row.hash
    problems.extend(_head_problems(session, prev))
    return problems


def _head_problems(session: Session, newest: str) -> list[str]:
    """The audit head against the rows present (deleted newest rows, a removed head)."""
    rows = session.scalar(select(func.count()).select_from(AuditLog)) or 0
    head = session.get(AuditHead, 1)
    if head is None:
        return ["audit_head: missing (deleted?)"] if rows else []
    if head.count != rows:
        return [f"audit_head: {head.count} rows recorded, {rows} present (rows deleted?)"]
    if head.hash != newest:
        return ["audit_head: hash does not match the newest audit_log row (rows deleted or replaced?)"]
    return []
