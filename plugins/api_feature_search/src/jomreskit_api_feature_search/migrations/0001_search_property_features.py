"""search_property_features (filled from what exists) and an index of rooms by property

Revision ID: 0001
Revises: None
Create Date: 2026-11-27T18:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MAX_FEATURE = 255


def _normalise(features):
    found = set()
    for feature in features or ():
        word = str(feature).strip().lower()
        if word and len(word) <= MAX_FEATURE:
            found.add(word)
    return found


def upgrade() -> None:
    table = op.create_table(
        "search_property_features",
        sa.Column("feature", sa.String(length=MAX_FEATURE), nullable=False),
        sa.Column("property_uid", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_uid"], ["properties.property_uid"],
            name=op.f("fk_search_property_features_property_uid_properties"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feature", "property_uid",
                                name=op.f("pk_search_property_features")),
    )
    op.create_index(op.f("ix_search_property_features_property_uid"),
                    "search_property_features", ["property_uid"], unique=False)
    op.create_index("ix_search_rooms_property_uid_room_uid_max_people", "rooms",
                    ["property_uid", "room_uid", "max_people"], unique=False)

    # A site that installs search later has properties already: index their features now.
    bind = op.get_bind()
    found: dict[int, set[str]] = {}
    for name in ("properties", "rooms"):
        source = sa.table(name, sa.column("property_uid", sa.Integer),
                          sa.column("features", sa.JSON))
        for property_uid, features in bind.execute(sa.select(source.c.property_uid,
                                                             source.c.features)):
            found.setdefault(property_uid, set()).update(_normalise(features))
    rows = [{"feature": f, "property_uid": uid} for uid, fs in found.items() for f in sorted(fs)]
    if rows:
        op.bulk_insert(table, rows)
