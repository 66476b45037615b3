"""web app: flight upload jobs and review verdicts (burnwatch.api.models).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from burnwatch.store.coltypes import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flight_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("flight_id", sa.String(length=32), nullable=True),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("hotspots", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name=op.f("fk_flight_jobs_scan_id_scans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flight_jobs")),
    )
    op.create_index(op.f("ix_flight_jobs_uploaded_by"), "flight_jobs", ["uploaded_by"])
    op.create_index(op.f("ix_flight_jobs_status"), "flight_jobs", ["status"])
    op.create_index(op.f("ix_flight_jobs_flight_id"), "flight_jobs", ["flight_id"])
    op.create_table(
        "review_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hotspot_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hotspot_id"], ["hotspots.id"], name=op.f("fk_review_verdicts_hotspot_id_hotspots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_verdicts")),
        sa.UniqueConstraint("hotspot_id", "reviewer", name="uq_review_verdicts_hotspot_reviewer"),
    )
    op.create_index(op.f("ix_review_verdicts_hotspot_id"), "review_verdicts", ["hotspot_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_review_verdicts_hotspot_id"), table_name="review_verdicts")
    op.drop_table("review_verdicts")
    op.drop_index(op.f("ix_flight_jobs_flight_id"), table_name="flight_jobs")
    op.drop_index(op.f("ix_flight_jobs_status"), table_name="flight_jobs")
    op.drop_index(op.f("ix_flight_jobs_uploaded_by"), table_name="flight_jobs")
    op.drop_table("flight_jobs")
