"""api keys, access tokens and rate limit counters

Revision ID: 0001
Revises: None
Create Date: 2026-11-27T17:28:10+00:00
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
        "api_rate_limits",
        sa.Column("bucket", sa.String(length=100), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_api_rate_limits")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", jomreskit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", jomreskit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", jomreskit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["users.id"],
            name=op.f("fk_api_keys_manager_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_keys_client_id")),
    )
    op.create_index(op.f("ix_api_keys_manager_id"), "api_keys", ["manager_id"], unique=False)
    op.create_table(
        "api_access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=1000), nullable=False),
        sa.Column("issued_at", jomreskit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", jomreskit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_api_access_tokens_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_access_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_api_access_tokens_api_key_id"), "api_access_tokens", ["api_key_id"], unique=False
    )
    op.create_index(
        op.f("ix_api_access_tokens_expires_at"), "api_access_tokens", ["expires_at"], unique=False
    )
