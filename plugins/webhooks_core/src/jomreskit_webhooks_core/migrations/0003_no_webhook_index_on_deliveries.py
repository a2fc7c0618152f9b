"""No index on webhook_deliveries.webhook_id: firing an event pays for it

An event for N webhooks writes N delivery rows in the caller's transaction; an index on
webhook_id puts their entries in N places, so every commit rewrote N index pages (on SQLite
that was most of what webhooks_core added to a request). Listing one webhook's deliveries
walks the table newest first instead, and the table is kept short by the retention.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27T21:20:00+00:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_webhook_deliveries_webhook_id", table_name="webhook_deliveries")


def downgrade() -> None:
    op.create_index("ix_webhook_deliveries_webhook_id", "webhook_deliveries", ["webhook_id"])
