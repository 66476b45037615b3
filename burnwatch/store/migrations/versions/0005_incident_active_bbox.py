"""covering index for the map's bbox query on active incidents.

``GET /api/incidents?bbox=`` counts the active incidents overlapping a box and returns the
newest page of them. ``(status, min_lat, max_lat, min_lon, max_lon, last_seen)`` answers
the count from the index alone (equality on ``status``, range on ``min_lat``, the other
bbox terms checked on index entries) and lets the page be sorted before any table row is
read; ``ix_incidents_bbox`` needed a table lookup per candidate for ``status``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ["status", "min_lat", "max_lat", "min_lon", "max_lon", "last_seen"]


def upgrade() -> None:
    op.create_index("ix_incidents_active_bbox", "incidents", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_incidents_active_bbox", table_name="incidents")
