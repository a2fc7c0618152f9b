"""Event and property filters as delimited text, matched in SQL by the outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27T18:40:00+00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _delimited(values: list) -> str:
    return f",{','.join(str(v) for v in values)}," if values else ""


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("event_filter", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("property_filter", sa.Text(), nullable=False,
                                   server_default=""))
    webhooks = sa.table("webhooks", sa.column("id", sa.Integer()), sa.column("events", sa.Text()),
                        sa.column("property_uids", sa.Text()),
                        sa.column("event_filter", sa.Text()),
                        sa.column("property_filter", sa.Text()))
    connection = op.get_bind()
    for row in connection.execute(sa.select(webhooks.c.id, webhooks.c.events,
                                            webhooks.c.property_uids)).all():
        events = json.loads(row.events) if isinstance(row.events, str) else row.events
        uids = (json.loads(row.property_uids) if isinstance(row.property_uids, str)
                else row.property_uids)
        connection.execute(webhooks.update().where(webhooks.c.id == row.id).values(
            event_filter=_delimited(events or []), property_filter=_delimited(uids or [])))
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("events")
        batch.drop_column("property_uids")
