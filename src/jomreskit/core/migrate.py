"""Alembic migrations for the core and each plugin, each with its own version table.

A plugin ships a folder of Alembic revision files (no env.py needed) and returns it from
``register_migrations``; `jomreskit db upgrade` applies the core's, then every loaded plugin's.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from . import db
from .db import Base

ENVIRONMENT = Path(__file__).with_name("alembic_env")  # the env.py every folder runs in


def version_table(plugin: str) -> str:
    return f"jomreskit_version_{plugin}"


def _script(folder: str) -> ScriptDirectory:
    return ScriptDirectory(folder, version_locations=[folder])


def current(engine: Engine, plugin: str) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": version_table(plugin)}
        )
        return context.get_current_revision()


def upgrade(engine: Engine, plugin: str, folder: str) -> tuple[str | None, str | None]:
    """Apply ``folder``'s revisions up to head, as `alembic upgrade heads` would, in one
    transaction; return the revision before and after."""
    before = current(engine, plugin)
    cfg = Config()
    cfg.set_main_option("script_location", str(ENVIRONMENT))
    cfg.set_main_option("path_separator", "os")  # folders may have spaces in them
    cfg.set_main_option("version_locations", folder.replace("%", "%%"))
    with engine.begin() as connection:
        cfg.attributes.update(connection=connection, version_table=version_table(plugin))
        command.upgrade(cfg, "heads")
    return before, current(engine, plugin)


def _not_a_version_table(name: str | None, type_: str, _parent: object) -> bool:
    return not (type_ == "table" and name and name.startswith("jomreskit_version_"))


def pending_changes(engine: Engine) -> str:
    """Python code of the operations that would bring the database in line with the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "render_as_batch": True,
                "compare_type": True,
                "include_name": _not_a_version_table,
            },
        )
        ops = produce_migrations(context, Base.metadata)
    if ops.upgrade_ops.is_empty():
        return ""
    return render_python_code(ops.upgrade_ops, render_item=_render_public_type)


def _render_public_type(type_: str, obj: object, _context: object) -> str | bool:
    """Write the core's column types by their public name (``jomreskit.db``), so a plugin's
    migration imports only the public surface; anything else renders as Alembic would."""
    if type_ == "type" and type(obj).__module__ == db.__name__:
        return f"jomreskit.db.{obj!r}"
    return False


REVISION_TEMPLATE = '''"""{message}

Revision ID: {revision}
Revises: {down_revision}
Create Date: {date}
"""

import sqlalchemy as sa
from alembic import op

import jomreskit.db

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}
'''


def write_revision(engine: Engine, folder: str, message: str) -> str | None:
    """Write a revision into ``folder`` with what the models have that the database lacks.

    Returns the new file's path, or None when nothing differs. For plugin authors:
    upgrade first so the database holds everything but the change being written.
    """
    import re
    from datetime import UTC, datetime

    code = pending_changes(engine)
    if not code:
        return None
    script = _script(folder) if Path(folder).is_dir() else None
    heads = script.get_heads() if script else []
    number = len(list(script.walk_revisions())) + 1 if script else 1
    revision = f"{number:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40]
    Path(folder).mkdir(parents=True, exist_ok=True)
    body = "\n".join(
        line if line.startswith("    ") else "    " + line for line in code.splitlines()
    )
    path = Path(folder) / f"{revision}_{slug}.py"
    path.write_text(
        REVISION_TEMPLATE.format(
            message=message,
            revision=revision,
            down_revision=heads[0] if heads else None,
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            body=body.rstrip(),
        )
    )
    return str(path)
