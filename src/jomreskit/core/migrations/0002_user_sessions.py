"""user sessions: console sign-ins held server-side

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30T09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

import jomreskit.core.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("created_at", jomreskit.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_manager_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_user_sessions")),
    )
    op.create_index(
        op.f("ix_user_sessions_manager_id"), "user_sessions", ["manager_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_user_sessions_manager_id"), table_name="user_sessions")
    op.drop_table("user_sessions")
