"""The plugin registry table: written by `plugins rebuild`, read at every start."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import plugins
from .db import autocommit_options, utcnow
from .domain.models import PluginRecord
from .errors import PluginError

FIELDS = ("name", "version", "source", "module", "hooks", "requires", "enabled", "error")


def as_dict(record: PluginRecord) -> dict[str, object]:
    return {f: getattr(record, f) for f in FIELDS}


def exists(engine: Engine) -> bool:
    return inspect(engine).has_table(PluginRecord.__tablename__)


def stamp(engine: Engine) -> tuple[tuple[object, ...], ...]:
    """A fingerprint of the registry, cheap to read often: it changes whenever a rebuild, an
    enable or a disable writes the registry. SQLAlchemyError when it cannot be read (no
    registry yet, or no database)."""
    with engine.connect().execution_options(**autocommit_options(engine)) as connection:
        rows = connection.execute(_STAMP).all()
    return tuple(tuple(row) for row in rows)


_STAMP = select(PluginRecord.name, PluginRecord.enabled, PluginRecord.error,
                PluginRecord.checked_at).order_by(PluginRecord.name)


def read(session: Session) -> list[dict[str, object]]:
    """The registry rows as plain dicts, by name."""
    return [as_dict(r) for r in session.scalars(select(PluginRecord).order_by(PluginRecord.name))]


def rebuild(session: Session, plugins_dir: str | None) -> list[dict[str, object]]:
    """Discover and validate every installed plugin and write the registry.

    A plugin keeps its enabled/disabled choice across rebuilds; a new one starts enabled;
    one that is no longer installed leaves the registry.
    """
    checked = plugins.check(plugins.discover(plugins_dir))
    existing = {r.name: r for r in session.scalars(select(PluginRecord))}
    seen = set()
    for result in checked:
        c = result.candidate
        seen.add(c.name)
        record = existing.get(c.name) or PluginRecord(name=c.name, enabled=True)
        record.version = c.version
        record.source = c.source
        record.module = c.module
        record.hooks = result.hooks
        record.requires = c.requires
        record.error = result.error
        record.checked_at = utcnow()
        session.add(record)
    for name, record in existing.items():
        if name not in seen:
            session.delete(record)
    session.flush()
    return read(session)


def set_enabled(session: Session, name: str, enabled: bool) -> dict[str, object]:
    """Enable or disable a plugin; refuse to leave an enabled plugin without a requirement."""
    records = read(session)
    record = plugins.refuse_unknown(records, name)
    if enabled:
        off = [req for req in record["requires"] if not _enabled(records, req)]  # type: ignore[union-attr]
        if off:
            raise PluginError(
                f"cannot enable {name}: it requires {', '.join(off)}; enable that first"
            )
    else:
        needed_by = plugins.dependants(records, name)
        if needed_by:
            raise PluginError(
                f"cannot disable {name}: {', '.join(needed_by)} require it; disable them first"
            )
    row = session.get(PluginRecord, name)
    assert row is not None
    row.enabled = enabled
    session.flush()
    return as_dict(row)


def _enabled(records: Iterable[dict[str, object]], name: str) -> bool:
    return any(r["name"] == name and r["enabled"] and not r["error"] for r in records)


def differences(records: list[dict[str, object]], installed: list[plugins.Candidate]) -> list[str]:
    """What differs between the registry and what is installed now, one phrase per plugin."""
    known = {str(r["name"]): r for r in records}
    now = {c.name: c for c in installed}
    said = [f"{name} is new" for name in sorted(set(now) - set(known))]
    said += [f"{name} was removed" for name in sorted(set(known) - set(now))]
    for name in sorted(set(now) & set(known)):
        c = now[name]
        if c.source == "entrypoint" and c.version != known[name]["version"]:
            said.append(f"{name} changed from {known[name]['version']} to {c.version}")
    return said
