"""web app: a heartbeat on flight jobs.

On start-up a server marked every queued or running flight job as interrupted, which was right
for one server process but wrong for several on one database: a second process starting would
fail the first one's live jobs. Each process now touches its own jobs' ``heartbeat_at`` every
30 s, and only jobs whose heartbeat is older than 2 minutes (or missing) are marked
interrupted, at start-up and on every heartbeat.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from burnwatch.store.coltypes import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flight_jobs") as batch:
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flight_jobs") as batch:
        batch.drop_column("heartbeat_at")
