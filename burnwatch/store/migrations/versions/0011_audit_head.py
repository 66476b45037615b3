"""audit log: a head row (row count + newest hash) so that deleting the newest rows is caught.

The audit log is hash-chained, but a chain cut short at its end still links up; cases keep
their head on the case row, the audit log now keeps it in the one-row table ``audit_head``,
updated with every append (``burnwatch.store.chain.audit``) and compared by ``verify_audit``.
The row is initialised from the log as it stands.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(
        "INSERT INTO audit_head (id, count, hash) SELECT 1, (SELECT count(*) FROM audit_log), "
        f"COALESCE((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), '{GENESIS}')"
    )


def downgrade() -> None:
    op.drop_table("audit_head")
