"""schedule jobs and notification outbox (burnwatch.schedule.models).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from burnwatch.store.coltypes import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("pass_id", sa.String(length=256), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("pass_time", UTCDateTime(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("software_version", sa.String(length=32), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("scenes", sa.Integer(), nullable=False),
        sa.Column("hotspots", sa.Integer(), nullable=False),
        sa.Column("hotspots_added", sa.Integer(), nullable=False),
        sa.Column("incidents_new", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_jobs")),
        sa.UniqueConstraint("area", "source", "pass_id", "generation", name="uq_schedule_jobs_pass"),
    )
    with op.batch_alter_table("schedule_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_jobs_area"), ["area"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_jobs_pass_time"), ["pass_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_schedule_jobs_status"), ["status"], unique=False)
    op.create_table(
        "schedule_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_notifications")),
        sa.UniqueConstraint("kind", "key", "target", name="uq_schedule_notifications_key"),
    )
    with op.batch_alter_table("schedule_notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_notifications_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("schedule_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_notifications_status"))
    op.drop_table("schedule_notifications")
    with op.batch_alter_table("schedule_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_schedule_jobs_pass_time"))
        batch_op.drop_index(batch_op.f("ix_schedule_jobs_area"))
    op.drop_table("schedule_jobs")
