"""A webhook can be paused; a delivery keeps the trace context of the request that queued it

``webhooks.paused_at``: since when the webhook is paused (NULL: it is not). Workers claim no
delivery of a paused webhook, so every worker, on every machine, sees a pause at once and
after any restart. ``webhook_deliveries.traceparent``: the W3C ``traceparent`` of the span that
was current when the event fired, when the site traces with OpenTelemetry, so a delivery
attempt's span can link to it. Both are nullable columns added in place: no table is copied.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04T17:45:00+00:00
"""

import sqlalchemy as sa
from alembic import op

import jomreskit.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhooks", sa.Column("paused_at", jomreskit.db.UTCDateTime(timezone=True),
                                        nullable=True))
    op.add_column("webhook_deliveries", sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("traceparent")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("paused_at")
