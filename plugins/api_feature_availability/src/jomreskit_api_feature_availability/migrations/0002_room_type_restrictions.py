"""room_type_restrictions: the stay restrictions of each room type's nights

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04T15:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_type_restrictions",
        sa.Column("property_uid", sa.Integer(), nullable=False),
        sa.Column("room_type", sa.String(length=100), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("min_stay_arrival", sa.Integer(), nullable=True),
        sa.Column("min_stay_through", sa.Integer(), nullable=True),
        sa.Column("max_stay", sa.Integer(), nullable=True),
        sa.Column("closed_to_arrival", sa.Boolean(), nullable=True),
        sa.Column("closed_to_departure", sa.Boolean(), nullable=True),
        sa.Column("stop_sell", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["property_uid"], ["properties.property_uid"],
            name=op.f("fk_room_type_restrictions_property_uid_properties"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("property_uid", "room_type", "date",
                                name=op.f("pk_room_type_restrictions")),
    )


def downgrade() -> None:
    op.drop_table("room_type_restrictions")
