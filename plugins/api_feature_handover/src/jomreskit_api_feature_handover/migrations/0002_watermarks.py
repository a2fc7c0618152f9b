"""Each key's watermark (below it, every revision the key may see is acknowledged), and
revisions indexed by when they were recorded

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04T18:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handover_watermarks",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("below", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"],
                                name=op.f("fk_handover_watermarks_api_key_id_api_keys"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_handover_watermarks")),
    )
    op.create_index("ix_handover_revisions_recorded_at", "handover_revisions", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_handover_revisions_recorded_at", "handover_revisions")
    op.drop_table("handover_watermarks")
