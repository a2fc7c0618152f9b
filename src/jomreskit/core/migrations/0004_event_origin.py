"""event origin: the client id of the API key whose write fired an event

Notifications and the event feed carry it, so a remote service that wrote a change can tell
its own echo from another's change. NULL for changes made on the site.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30T12:45:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: a batch copy on SQLite would drop what plugins
    # added to the table (the event feed's column default and index).
    op.add_column("events", sa.Column("origin", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("origin")
