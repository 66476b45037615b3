"""Alembic migrations shipped inside the package (no alembic.ini; see burnwatch.store.db)."""
