"""index on incidents' latitude span, for fast bbox-overlap queries on B-tree indexes.

A bbox overlap test (``min_lat <= y1 AND max_lat >= y0 ...``) can only use
``ix_incidents_bbox`` as an open range ``min_lat <= y1``, i.e. half the table. With the
largest span ``max(max_lat - min_lat)`` (this index makes it one lookup) the query adds
``min_lat >= y0 - span`` and the range becomes tight (``burnwatch.api.queries``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_lat_span", "incidents", [sa.text("(max_lat - min_lat)")])


def downgrade() -> None:
    op.drop_index("ix_incidents_lat_span", table_name="incidents")
