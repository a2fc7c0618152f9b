"""an index of tariffs by property, room type and first night, for reading and setting rates

Revision ID: 0001
Revises: None
Create Date: 2026-11-30T12:00:00+00:00
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tariffs_property_uid_room_type_valid_from", "tariffs",
                    ["property_uid", "room_type", "valid_from"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tariffs_property_uid_room_type_valid_from", table_name="tariffs")
