"""events.feed_xid (the recording transaction, on PostgreSQL), acknowledged cursors, pruning mark

Revision ID: 0001
Revises: None
Create Date: 2026-11-30T09:50:00+00:00
"""

import sqlalchemy as sa
from alembic import op

import jomreskit.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Every INSERT into events records its transaction's id, whoever inserts it: the core's
# kit.fire() knows nothing of this column. SQLite has no such id and keeps 0 (see horizon.py).
RECORDING_XID = "pg_current_xact_id()::text::bigint"


def upgrade() -> None:
    bind = op.get_bind()
    # Events recorded before this column existed are long committed: 0 puts them first.
    op.add_column("events", sa.Column("feed_xid", sa.BigInteger(), nullable=False,
                                      server_default="0"))
    if bind.dialect.name == "postgresql":
        op.alter_column("events", "feed_xid", server_default=sa.text(RECORDING_XID))
    op.create_index("ix_events_feed_xid_id", "events", ["feed_xid", "id"], unique=False)

    op.create_table(
        "event_feed_cursors",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged_at", jomreskit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"],
                                name=op.f("fk_event_feed_cursors_api_key_id_api_keys"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_event_feed_cursors")),
    )
    op.create_table(
        "event_feed_pruned",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("pruned_at", jomreskit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_feed_pruned")),
    )


def downgrade() -> None:
    op.drop_table("event_feed_pruned")
    op.drop_table("event_feed_cursors")
    op.drop_index("ix_events_feed_xid_id", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("feed_xid")
