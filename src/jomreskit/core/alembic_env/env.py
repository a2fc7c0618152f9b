"""The Alembic environment every revision folder (the core's, each plugin's) is run in.

``migrate.upgrade`` runs Alembic's ``command.upgrade`` with this folder as the script location
and the revision folder as the version location, and hands over the open connection and the
plugin's version table in the config's attributes; so a plugin's folder needs no env.py.
"""

from alembic import context

from jomreskit.core.db import Base

attributes = context.config.attributes
context.configure(
    connection=attributes["connection"],
    target_metadata=Base.metadata,
    version_table=attributes["version_table"],
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
