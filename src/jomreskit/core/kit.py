"""The per-app runtime the Flask extension keeps in ``app.extensions["jomreskit"]``."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine, insert, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config, db, metrics, plugins, registry
from .authmethods import AuthMethod
from .config import SiteSetting
from .db import make_engine, make_session
from .domain.models import EventRecord, PluginRecord
from .errors import JomresKitError, PluginError
from .events import Event, EventCatalog
from .hooks import Hooks
from .scopes import Scope
from .secrets import SecretBox, site_secret_key
from .site_address import SiteAddressReader

if TYPE_CHECKING:
    import click
    import pluggy

log = logging.getLogger("jomreskit")

REGISTRY_CHECK_SECONDS = 2.0  # how stale a running process's plugin set may be
# Hooks whose work is done once, when the app starts: a plugin loaded later waits for a restart.
# (register_api_routes is api_core's own hook; its routes are mounted at start as well.)
START_UP_HOOKS = frozenset({"init_app", "register_api_routes", "register_console_pages",
                            "background_services"})

EXTENSION = "jomreskit"
_IN_TRANSACTION = "jomreskit_in_transaction"  # session.info: a kit.transaction() is open
# Who is making the changes being served, for the events they fire (see Kit.origin).
_ORIGIN: ContextVar[str | None] = ContextVar("jomreskit_origin", default=None)
# The plugin set a request being served started with, and its kit (see _on_every_request).
_PINNED: ContextVar[tuple[Kit, PluginSet] | None] = ContextVar("jomreskit_plugin_set",
                                                               default=None)


@dataclasses.dataclass(frozen=True)
class PluginSet:
    """The loaded plugins and what they register, built whole and put in force with one
    assignment (``Kit.load_plugins``): a request or an event sees the set before a reload or
    the one after it, never half of each. Only while a site starts does a set change in place:
    a plugin whose start-up hook raises leaves it (``Kit._unload``)."""

    hooks: Hooks
    loaded: plugins.Loaded
    warnings: list[str]
    not_ready: str | None  # why the site cannot serve yet, if it cannot
    registry_rows: list[dict[str, Any]]
    registry_stamp: Any  # None: not set up (or not reachable), so any registry differs
    catalog: EventCatalog
    scopes: Mapping[str, Scope]
    authmethods: Mapping[str, AuthMethod]
    setting_catalog: list[SiteSetting]  # every setting the site reads, with its default


class Kit:
    """jomreskit in one Flask app: settings, database, loaded plugins and what they register."""

    cli: click.Group | None = None  # the `jomreskit` command group, once the site mounts it

    def __init__(self, app: Flask, session: scoped_session | None = None) -> None:
        """``session``: the host app's scoped session (Flask-SQLAlchemy's ``db.session``, say)
        for jomreskit to work in, so that one commit covers the host's change, the event and
        what plugins wrote about it, and one rollback removes them all. Without it jomreskit
        opens its own engine on ``JOMRESKIT_DATABASE_URL``."""
        self.app = app
        self.settings = app.config
        # Nothing is written to the instance folder until something needs it (`db upgrade`
        # makes the SQLite file, the first stored secret the key file): `--help` leaves none.
        self.owns_session = session is None
        if session is None:
            self.engine = _engine(
                self.settings["JOMRESKIT_DATABASE_URL"],
                prepared_statements=bool(self.settings["JOMRESKIT_DATABASE_PREPARED_STATEMENTS"]))
            self.session = make_session(self.engine)
        else:
            self.session = session
            with app.app_context():  # Flask-SQLAlchemy finds an app's engine through it
                self.engine = session.get_bind()
            # The CLI's workers and the settings page then name the database the host uses.
            self.settings["JOMRESKIT_DATABASE_URL"] = self.engine.url.render_as_string(
                hide_password=False
            )
        self._registry_check = threading.Lock()
        # This process's Prometheus metrics of this site (core/metrics.py); plugins add theirs.
        self.metrics = metrics.new_registry()
        self._site_address = SiteAddressReader(self.engine)
        with app.app_context():  # a host's session may only work inside one
            self.load_plugins()
        self.started_with = frozenset(self.loaded.names)  # their pages and routes are mounted

    @functools.cached_property
    def secret_key(self) -> str:
        """JOMRESKIT_SECRET_KEY, else the instance's key file, made on first use."""
        return site_secret_key(
            self.settings["JOMRESKIT_SECRET_KEY"], self.settings["JOMRESKIT_INSTANCE_PATH"]
        )

    @functools.cached_property
    def secret_box(self) -> SecretBox:
        """Encrypts the secrets plugins store (webhook signing secrets, auth settings)."""
        return SecretBox(self.secret_key)

    def database_looked_at(self) -> str:
        """The database and instance folder this site uses, for messages (no password)."""
        url = self.engine.url.render_as_string(hide_password=True)
        return f"database {url}, instance folder {self.settings['JOMRESKIT_INSTANCE_PATH']}"

    # -- plugins -------------------------------------------------------------------------

    @property
    def plugin_set(self) -> PluginSet:
        """The plugins in force: those the request being served started with, else the latest
        loaded. Read it once where two of its parts must agree (``fire`` does)."""
        pinned = _PINNED.get()
        return pinned[1] if pinned is not None and pinned[0] is self else self._plugin_set

    @property
    def hooks(self) -> Hooks:
        return self.plugin_set.hooks

    @property
    def pm(self) -> pluggy.PluginManager:
        return self.plugin_set.hooks.pm

    @property
    def loaded(self) -> plugins.Loaded:
        return self.plugin_set.loaded

    @property
    def warnings(self) -> list[str]:
        return self.plugin_set.warnings

    @property
    def not_ready(self) -> str | None:
        return self.plugin_set.not_ready

    @property
    def catalog(self) -> EventCatalog:
        return self.plugin_set.catalog

    @property
    def scopes(self) -> Mapping[str, Scope]:
        return self.plugin_set.scopes

    @property
    def authmethods(self) -> Mapping[str, AuthMethod]:
        return self.plugin_set.authmethods

    @property
    def setting_catalog(self) -> list[SiteSetting]:
        return self.plugin_set.setting_catalog

    def load_plugins(self) -> None:
        """(Re)build the plugin set from the registry and put it in force."""
        self._plugin_set = self._build_plugin_set()
        self._next_registry_check = time.monotonic() + REGISTRY_CHECK_SECONDS

    def _build_plugin_set(self) -> PluginSet:
        """A new plugin manager loaded from the registry, and what its plugins register."""
        stamp = None
        if not _missing_sqlite_file(self.engine):  # looking would create the file
            try:
                stamp = registry.stamp(self.engine)
            except SQLAlchemyError:
                pass
        pm = plugins.make_plugin_manager(trace=bool(self.settings["JOMRESKIT_TRACE_PLUGINS"]))
        warnings: list[str] = []
        records, not_ready = self._registry_records(warnings)
        loaded = plugins.load(pm, records, only=config.plugin_filter(self.app))
        warnings += [f"plugin {name}: {problem}" for name, problem in loaded.problems.items()]
        hooks = Hooks(pm, unload=functools.partial(self._unload, pm, loaded, warnings))
        return PluginSet(hooks=hooks, loaded=loaded, warnings=warnings, not_ready=not_ready,
                         registry_rows=records, registry_stamp=stamp,
                         **self._registrations(hooks, loaded))

    def _registrations(self, hooks: Hooks, loaded: plugins.Loaded) -> dict[str, Any]:
        """Ask the loaded plugins for their events, scopes, auth methods and settings, until
        none is unloaded meanwhile (what an unloaded plugin registered goes with it)."""
        while True:
            names = list(loaded.names)
            found = {
                "catalog": EventCatalog(hooks.register_events()),
                "scopes": {s.name: s for s in hooks.register_scopes()},
                "authmethods": {m.name: m for m in hooks.register_authmethods()},
                "setting_catalog": [*config.CORE_SETTINGS, *hooks.register_settings()],
            }
            if loaded.names == names:
                break
        # The plugins' defaults filled in like the core's, so a setting's documented default
        # is the one in force.
        for setting in found["setting_catalog"]:
            self.settings.setdefault(setting.key, setting.default)
        return found

    def collect_registrations(self) -> None:
        """Ask the loaded plugins again for what they register, after a start-up hook
        unloaded one."""
        current = self._plugin_set
        self._plugin_set = dataclasses.replace(
            current, **self._registrations(current.hooks, current.loaded))

    def _unload(self, pm: pluggy.PluginManager, loaded: plugins.Loaded, warnings: list[str],
                plugin: object, hook: str, exc: Exception) -> None:
        """A plugin's start-up hook raised: unload the plugin from the set being started and
        report it, so the site starts without it (the core's own failures are bugs, and
        raise)."""
        name = pm.get_name(plugin)
        if name == plugins.CORE_PLUGIN or name not in loaded.names:
            raise exc
        pm.unregister(plugin)
        loaded.names.remove(name)
        loaded.problems[name] = f"not loaded: {hook} failed: {type(exc).__name__}: {exc}"
        warnings.append(f"plugin {name}: {loaded.problems[name]}")

    def follow_registry(self) -> bool:
        """Reload the plugins if the registry changed since they were loaded (another process
        ran `plugins rebuild`, `enable` or `disable`), so a running site and its workers use
        them without a restart. Looked at no more than every REGISTRY_CHECK_SECONDS, with one
        small query; True when it reloaded."""
        if time.monotonic() < self._next_registry_check:
            return False
        with self._registry_check:
            if time.monotonic() < self._next_registry_check:
                return False
            self._next_registry_check = time.monotonic() + REGISTRY_CHECK_SECONDS
            in_force = self._plugin_set
            try:
                if registry.stamp(self.engine) == in_force.registry_stamp:
                    return False
            except SQLAlchemyError:
                return False  # the database is away for a moment: keep what is loaded
            fresh = self._build_plugin_set()
            if fresh.not_ready and not in_force.not_ready:  # the registry read failed
                return False  # keep what is loaded; look again in a while
            self._plugin_set = fresh
        before, now = set(in_force.loaded.names), set(fresh.loaded.names)
        log.warning("the plugin registry changed: plugins reloaded (%s)", ", ".join(
            [f"+{n}" for n in sorted(now - before)] + [f"-{n}" for n in sorted(before - now)])
            or "same plugins")
        unmounted = self.needs_restart()
        if unmounted:
            log.warning("%s: their pages, API routes or services appear after a restart of "
                        "this process", ", ".join(unmounted))
        return True

    def needs_restart(self) -> list[str]:
        """Loaded plugins not loaded at start that mount something at start (pages, API routes,
        request handlers, background services): those parts wait for a restart."""
        records = {str(r["name"]): r for r in self.plugin_set.registry_rows}
        return [name for name in self.loaded.names if name not in self.started_with
                and set(records.get(name, {}).get("hooks") or ()) & START_UP_HOOKS]

    def command(self, words: str) -> str:
        """A jomreskit command as this site's operator types it, quoted for a message."""
        standalone = self.app.name == config.STANDALONE_APP_NAME
        return f"`{'' if standalone else 'flask '}jomreskit {words}`"

    def _registry_records(self, warnings: list[str]) -> tuple[list[dict[str, Any]], str | None]:
        """The registry's rows, and why the site cannot serve yet if it cannot (then none)."""
        try:
            if _missing_sqlite_file(self.engine) or not registry.exists(self.engine):
                not_ready = (
                    f"the database is not set up: run {self.command('db upgrade')} "
                    f"({self.database_looked_at()})"
                )
                warnings.append(f"{not_ready} (no plugins loaded)")
                return [], not_ready
            with self.session() as session:
                records = registry.read(session)
            self.session.remove()
        except SQLAlchemyError as exc:
            warnings.append(f"cannot read the plugin registry ({_short(exc)}); no plugins loaded")
            return [], f"cannot read the database: {_short(exc)}"
        changes = registry.differences(
            records, plugins.discover(self.settings["JOMRESKIT_PLUGINS_DIR"])
        )
        if changes:
            warnings.append(
                "installed plugins differ from the registry ("
                + "; ".join(changes)
                + f"): run {self.command('plugins rebuild')}"
            )
        return records, None

    def rebuild_registry(self) -> list[dict[str, Any]]:
        """Validate every installed plugin, write the registry and reload from it."""
        with self.transaction() as session:
            records = registry.rebuild(session, self.settings["JOMRESKIT_PLUGINS_DIR"])
        self.load_plugins()
        return records

    def upgrade_database(
        self, report: Callable[[str], Any] = log.info, rebuild: bool = False
    ) -> None:
        """Apply the core's migrations, build the registry if it is empty (or ``rebuild``),
        then apply every loaded plugin's migrations."""
        from . import migrate  # Alembic is only needed here; keep it out of start-up

        Path(self.settings["JOMRESKIT_INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
        folders = dict(self.hooks.register_migrations())
        _report_upgrade(
            report,
            plugins.CORE_PLUGIN,
            *migrate.upgrade(self.engine, plugins.CORE_PLUGIN, folders["core"]),
        )
        with self.session() as session:
            empty = not registry.read(session)
        self.session.remove()
        if empty or rebuild:
            report("building the plugin registry from what is installed")
            self.rebuild_registry()
        else:
            self.load_plugins()
        for name, folder in self.hooks.register_migrations():
            if name != plugins.CORE_PLUGIN:
                _report_upgrade(report, name, *migrate.upgrade(self.engine, name, folder))

    def set_plugin_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        if not registry.exists(self.engine):
            raise PluginError(f"the database is not set up: run {self.command('db upgrade')} first")
        with self.transaction() as session:
            record = registry.set_enabled(session, name, enabled)
        self.load_plugins()
        return record

    # -- database --------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """The current thread's session, committed on success and rolled back on error.

        Inside another ``kit.transaction()`` (an API write runs in one that api_core opens) it
        is a savepoint instead: its changes stand or fall together, and only the outermost
        transaction commits, so a view that brackets its change this way still writes nothing
        when the request fails after it.
        """
        session = self.session()
        if session.info.get(_IN_TRANSACTION):
            with session.begin_nested():
                yield session
            return
        session.info[_IN_TRANSACTION] = True
        try:
            # Writers take turns from here on a host's SQLite engine too (db.take_write_lock).
            db.take_write_lock(session, PluginRecord.__table__.c.name)
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info.pop(_IN_TRANSACTION, None)

    def autocommit(self) -> None:
        """Let the current thread's session run each statement as a transaction of its own
        (``db.autocommit``): for requests that only read, or write in single statements.
        Called before its first statement; once it has begun, it changes nothing. It takes a
        connection only if it is used (``db.autocommit_when_used``)."""
        db.autocommit_when_used(self.session())

    @contextmanager
    def autocommitting(self) -> Iterator[None]:
        """``autocommit()`` for the block, without making the thread's session: one made in
        the block runs in autocommit, and a block that reads nothing through the session
        (an API call answered from a connection, say) makes none (``db.autocommit_when_made``).
        """
        with db.autocommit_when_made(self.session):
            yield

    # -- events ----------------------------------------------------------------------------

    @contextmanager
    def origin(self, client_id: str | None) -> Iterator[None]:
        """Mark the events fired inside the block (in this thread or task) as the doing of the
        API key ``client_id``: their ``origin``, recorded with them, lets the remote service
        that wrote a change recognise its own echo among the notifications. api_core sets it
        around every API write; None inside the block unmarks."""
        token = _ORIGIN.set(client_id)
        try:
            yield
        finally:
            _ORIGIN.reset(token)

    def fire(self, name: str, **ids: int | str) -> Event:
        """Record an event and tell every plugin, inside the caller's transaction.

        The caller commits: if it rolls back instead, the event and all that plugins did
        about it (webhook deliveries queued, say) are gone with it.
        """
        in_force = self.plugin_set  # one set for both: a reload may swap it meanwhile
        event_type = in_force.catalog.check(name, ids)
        session = self.session()
        # The caller's pending changes first: plugins' statements about the event must see
        # them (a property just linked to its manager, say).
        session.flush()
        timestamp = db.utcnow()
        origin = _ORIGIN.get()
        event_id = session.scalar(
            _RECORD_EVENT,
            {"name": name, "ids": dict(ids), "created_at": timestamp, "origin": origin},
        )
        event = Event(id=event_id, name=name, ids=dict(ids), timestamp=timestamp, type=event_type,
                      origin=origin)
        event.outcomes.extend(in_force.hooks.event_fired(kit=self, event=event))
        return event

    def site_address(self) -> str | None:
        """The site's public address as this process knows it: JOMRESKIT_BASE_URL, else what
        `jomreskit serve` recorded (None: neither)."""
        return self._site_address(self.settings.get("JOMRESKIT_BASE_URL"))

    def callback_url(self, event: Event) -> str | None:
        """Where the remote service reads the record (None when no API plugin offers it)."""
        return self.hooks.event_callback_url(kit=self, event=event)


# A plain INSERT rather than an ORM flush: every fired event runs it inside a request.
_RECORD_EVENT = insert(EventRecord.__table__).returning(EventRecord.__table__.c.id)


def start_kit(app: Flask, session: scoped_session | None = None) -> Kit:
    """Set jomreskit's runtime up on ``app``: settings, database, plugins and their ``init_app``.
    ``session`` is the host's scoped session, if jomreskit is to share it (see ``Kit``).

    The core's half of ``JomresKit.init_app``; the site assembly then mounts the console and
    the CLI, which live outside the core.
    """
    config.load(app)
    kit = Kit(app, session)
    app.extensions[EXTENSION] = kit
    if not app.config.get("SECRET_KEY"):
        if type(app.session_interface) is SecureCookieSessionInterface:
            app.session_interface = _KeyOnFirstSession()
        else:
            app.config["SECRET_KEY"] = kit.secret_key

    proxies = int(app.config["JOMRESKIT_TRUSTED_PROXIES"] or 0)
    if proxies > 0:  # the sign-in throttle and the rate limits count real client addresses
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    if kit.owns_session:  # a host's session is the host's to end (Flask-SQLAlchemy does)

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            kit.session.remove()

    _on_every_request(app, kit)
    metrics.init_metrics(kit, app)
    loaded = list(kit.loaded.names)
    kit.hooks.init_app(kit=kit, app=app)
    if kit.loaded.names != loaded:
        kit.collect_registrations()
    return kit


def _on_every_request(app: Flask, kit: Kit) -> None:
    """Before each request: follow the plugin registry (cheap; see ``Kit.follow_registry``)
    and hold the plugin set then in force for the whole request, so a reload meanwhile is
    seen by the next request, whole; on the first one log the start-up warnings, there rather
    than when the app is made: a command such as `db upgrade` builds the app too, and should
    not be told to run itself."""
    pending = [True]

    @app.before_request
    def _follow_registry_and_warn_once() -> None:
        kit.follow_registry()
        _PINNED.set((kit, kit.plugin_set))
        if pending:
            pending.clear()
            for message in kit.warnings:
                log.warning(message)

    @app.teardown_request
    def _let_go_of_the_plugin_set(_exc: BaseException | None) -> None:
        _PINNED.set(None)


def get_kit(app: Flask | None = None) -> Kit:
    """The jomreskit runtime of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return app.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError("jomreskit is not set up on this app: call JomresKit(app)") from None


def _report_upgrade(
    report: Callable[[str], Any], name: str, before: str | None, after: str | None
) -> None:
    if before == after:
        report(f"{name}: up to date ({after or 'no revisions'})")
    else:
        report(f"{name}: upgraded {before or 'empty'} -> {after}")


class _KeyOnFirstSession(SecureCookieSessionInterface):
    """Flask's cookie sessions, signed with the site's key once a request opens one: a command
    (`--help`, `demo`, ...) builds the app too, and should not write a key file."""

    def get_signing_serializer(self, app: Flask) -> Any:
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = get_kit(app).secret_key
        return super().get_signing_serializer(app)


def _engine(url: str, prepared_statements: bool) -> Engine:
    """``make_engine``, or one line naming what to install when the URL's driver is missing."""
    try:
        return make_engine(url, prepared_statements=prepared_statements)
    except ModuleNotFoundError as exc:
        if exc.name != "psycopg" and not str(url).startswith("postgresql"):
            raise
        shown = make_url(url).render_as_string(hide_password=True)
        raise JomresKitError(
            f"JOMRESKIT_DATABASE_URL {shown} needs the PostgreSQL driver psycopg, which is "
            "not installed here: pip install 'jomreskit[postgres]' (or 'psycopg[binary]')",
            code="database_driver_missing") from None


def _missing_sqlite_file(engine: Engine) -> bool:
    """A SQLite database whose file does not exist yet: looking would create it."""
    database = engine.url.database
    return (engine.url.get_backend_name() == "sqlite" and bool(database)
            and database != ":memory:" and not database.startswith("file:")
            and not Path(database).exists())


def _short(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
