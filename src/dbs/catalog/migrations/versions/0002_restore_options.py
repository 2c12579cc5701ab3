"""restore tasks: verify level and engine options; jobs: stop requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tasks created before this column existed were verified by content.
    with op.batch_alter_table("restore_tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verify", sa.String(length=16), nullable=False, server_default="content")
        )
        batch_op.add_column(
            sa.Column("engine_options", sa.JSON(), nullable=False, server_default="{}")
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stop_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("stop_requested")
    with op.batch_alter_table("restore_tasks", schema=None) as batch_op:
        batch_op.drop_column("engine_options")
        batch_op.drop_column("verify")
