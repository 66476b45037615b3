"""Alembic environment: run with a connection handed over by :func:`burnwatch.store.db.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from burnwatch.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    dialect = connection.dialect.name  # type: ignore[attr-defined]
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=dialect == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///burnwatch.db")
    with engine.begin() as conn:
        _run(conn)
