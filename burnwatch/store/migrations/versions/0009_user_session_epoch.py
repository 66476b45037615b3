"""web app: a session epoch per user, so that logging out ends the user's sessions.

Session cookies are signed and were valid until they expired (``SESSION_MINUTES``), whatever
happened: a copied cookie kept working after its owner had logged out. Each cookie now carries
the user's ``session_epoch``; logout increments it, and a cookie with an older epoch is refused.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_epoch")
