"""web app: index failed logins by time, so that expired ones are pruned cheaply.

Failures used to be pruned only for the (username, IP) pair that failed again, so trying many
usernames left their rows behind for ever. Each recorded failure now deletes every expired
row (``at`` older than the limiter's window); this index makes that a range scan over the
expired rows only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_login_failures_at", "login_failures", ["at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_at", table_name="login_failures")
