"""Booking revisions and their acknowledgements by API keys

Revision ID: 0001
Revises: None
Create Date: 2026-12-04T15:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

import jomreskit.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handover_revisions",
        sa.Column("revision", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("property_uid", sa.Integer(), nullable=False),
        sa.Column("contract_uid", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", jomreskit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("alarmed_at", jomreskit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_handover_revisions")),
    )
    op.create_index("ix_handover_revisions_property_uid_revision", "handover_revisions",
                    ["property_uid", "revision"])
    op.create_index("ix_handover_revisions_contract_uid", "handover_revisions",
                    ["contract_uid"])
    op.create_table(
        "handover_acknowledgements",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged_at", jomreskit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"],
                                name=op.f("fk_handover_acknowledgements_api_key_id_api_keys"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["revision"], ["handover_revisions.revision"],
            name=op.f("fk_handover_acknowledgements_revision_handover_revisions"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", "revision",
                                name=op.f("pk_handover_acknowledgements")),
    )
    op.create_index(op.f("ix_handover_acknowledgements_revision"),
                    "handover_acknowledgements", ["revision"])


def downgrade() -> None:
    op.drop_table("handover_acknowledgements")
    op.drop_table("handover_revisions")
