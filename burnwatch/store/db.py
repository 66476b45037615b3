"""Engine, sessions and migrations for ``BURNWATCH_DATABASE_URL``.

SQLite (``sqlite:///burnwatch.db`` in the working directory) is the embedded default;
``postgresql+psycopg://user@host/db`` with the PostGIS extension is the production store.
Migrations are Alembic revisions shipped in :mod:`burnwatch.store.migrations`, configured
programmatically (no ``alembic.ini``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from burnwatch.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_CHECKED: set[str] = set()  # URLs already found at the head revision in this process


def database_url(url: str | None = None) -> str:
    """``url`` or the configured ``BURNWATCH_DATABASE_URL``; ``postgresql://`` gets psycopg 3."""
    if url is None:
        from burnwatch.config import get_settings

        url = get_settings().database_url
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # We emit BEGIN ourselves (see _sqlite_begin); pysqlite's implicit transactions are off.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """``BEGIN IMMEDIATE`` (take the write lock first) for connections marked
    ``sqlite_immediate`` — ingests, ``session_scope(write=True)``, writing web requests — so
    two writers queue on busy_timeout instead of one failing with "database is locked" when
    both try to upgrade a read lock."""
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL (cached). ``None`` means the configured URL *now*: it is resolved
    before the cache lookup, so a changed ``BURNWATCH_DATABASE_URL`` gets its own engine."""
    return _engine_for(database_url(url))


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except Exception as exc:  # bad URL, missing driver
        raise ConfigError(f"BURNWATCH_DATABASE_URL: cannot use {url!r}: {exc}") from exc
    _engines_seen.append(engine)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_custom_plans)
    return engine


def _postgres_custom_plans(dbapi_conn: Any, _record: Any) -> None:
    """Plan every execution with its own parameters. psycopg prepares a statement after 5 runs
    and PostgreSQL may then switch to one generic plan for all parameters — for a bbox query
    the plan of an average box: a province-sized hotspot page went from 10 ms to 350 ms when it
    happened (docs/api.md)."""
    with dbapi_conn.cursor() as cur:
        cur.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_conn.commit()


def dispose_engines() -> None:
    """Close every cached engine's connections and forget them (tests, forks, shutdown)."""
    for engine in _engines_seen:
        engine.dispose()
    _engines_seen.clear()
    _engine_for.cache_clear()


_engines_seen: list[Engine] = []


def session_factory(url: str | None = None, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions on ``url``; ``write=True``: every transaction begins ``BEGIN IMMEDIATE`` on
    SQLite (see :func:`_sqlite_begin`), for processes that write in most transactions."""
    engine = get_engine(url)
    bind = engine.execution_options(sqlite_immediate=True) if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False, future=True)


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision``; return the database's revision afterwards."""
    from alembic import command

    url = database_url(url)
    cfg = _alembic_config(url)
    try:
        # BEGIN IMMEDIATE on SQLite: two processes migrating a new file queue instead of one
        # failing with "database is locked"; the second then finds the head revision
        with get_engine(url).execution_options(sqlite_immediate=True).begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise ConfigError(f"database {url}: cannot migrate: {exc.orig}") from exc
    return current_revision(url)


def current_revision(url: str | None = None) -> str | None:
    """The Alembic revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


def ensure_schema(url: str | None = None) -> None:
    """Upgrade-on-start: migrate SQLite databases automatically; for PostgreSQL only check."""
    url = database_url(url)
    if url in _CHECKED:
        return
    engine = get_engine(url)
    if current_revision(url) == head_revision():
        _CHECKED.add(url)
        return
    if engine.dialect.name == "sqlite":
        log.info("migrating %s to %s", url, head_revision())
        upgrade(url)
        _CHECKED.add(url)
        return
    raise ConfigError(f"database {url} is not at the current schema; run `burnwatch db upgrade`")


def has_table(url: str, name: str) -> bool:
    return inspect(get_engine(url)).has_table(name)


@contextmanager
def session_scope(url: str | None = None, *, migrate: bool = True, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    ``write=True``: the session will write, so on SQLite it begins with ``BEGIN IMMEDIATE``
    (:func:`_sqlite_begin`) and parallel writers (CLI processes, threads) queue on
    ``busy_timeout`` instead of failing with "database is locked" when two deferred
    transactions both read and then try to write. PostgreSQL ignores it."""
    if migrate:
        ensure_schema(url)
    with committed(session_factory(url)()) as session:
        if write:
            session.connection(execution_options={"sqlite_immediate": True})
        yield session


@contextmanager
def committed(session: Session) -> Iterator[Session]:
    """Use ``session``; commit when the block ends, roll back on error, close it either way."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
