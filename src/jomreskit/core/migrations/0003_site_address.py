"""site address: where `jomreskit serve` last said the site is

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30T09:25:00+00:00
"""

import sqlalchemy as sa
from alembic import op

import jomreskit.core.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("recorded_at", jomreskit.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_address")),
    )


def downgrade() -> None:
    op.drop_table("site_address")
