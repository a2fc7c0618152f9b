"""Each webhook's host, for the per-host cap, and its circuit breaker's state

The worker claims at most a share of due deliveries per host (the URL's hostname and port),
so the host is kept beside the URL, filled in here for the webhooks there are. The circuit
breaker's state lives on the webhook so that every worker shares it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04T15:00:00+00:00
"""

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

import jomreskit.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _host_of(url: str) -> str:
    # As models.host_of when this was written: a migration does not follow later changes.
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    hostname = (parts.hostname or "").lower()
    return f"[{hostname}]:{port}" if ":" in hostname else f"{hostname}:{port}"


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("host", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("circuit", sa.String(20), nullable=False,
                                   server_default="closed"))
        batch.add_column(sa.Column("circuit_failures", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("circuit_counted_from", jomreskit.db.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("circuit_opened_at", jomreskit.db.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("circuit_until", jomreskit.db.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("circuit_opens", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("circuit_reason", sa.Text(), nullable=True))
    webhooks = sa.table("webhooks", sa.column("id", sa.Integer()), sa.column("url", sa.String()),
                        sa.column("host", sa.String()))
    connection = op.get_bind()
    for row in connection.execute(sa.select(webhooks.c.id, webhooks.c.url)).all():
        connection.execute(webhooks.update().where(webhooks.c.id == row.id)
                           .values(host=_host_of(row.url)))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        for name in ("circuit_reason", "circuit_opens", "circuit_until", "circuit_opened_at",
                     "circuit_counted_from", "circuit_failures", "circuit", "host"):
            batch.drop_column(name)
