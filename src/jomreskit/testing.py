"""Pytest fixtures for jomreskit and its plugins: real databases, real sites, real servers.

Loaded by pytest by itself wherever jomreskit is installed (its ``pytest11`` entry point), so a
plugin's tests use these fixtures without a conftest.py.

- ``database_url``: each test runs once on SQLite and once on PostgreSQL (the latter when
  JOMRESKIT_TEST_POSTGRES_URL is set; it gets a database of its own, dropped afterwards).
- ``make_site(seed=False, plugins=(), mode="standalone", **config)``: a set-up site (migrated,
  registry built, the demo data seeded when ``seed``) in a temporary instance; ``plugins`` are
  single-file plugins (path or source text) dropped in its plugins folder first;
  ``mode="embedded"``: served by a host app that hands jomreskit its Flask-SQLAlchemy session
  (``embed``).
- ``site``: ``make_site(seed=True)``.
- ``site_mode``: "standalone", then "embedded": a test that passes it to ``make_site`` (or
  api_core's ``make_api_site``) runs once for each way a site runs jomreskit.
- ``serve_app(app)``: serve a WSGI app on a free loopback port in a thread; returns its URL.

Functions: ``start(config)`` a site's app started from its settings, as `jomreskit serve` starts
one; ``restart(site)`` the same site started afresh (a second process, say); ``embed(site)`` the
same site served by a Flask + Flask-SQLAlchemy host app, as the README's embedding section
writes it.

Setting up a site (every migration, the registry, the demo seed) costs far more than most tests
do, so ``make_site`` sets up each distinct site once per test session, as a template database,
and gives each test a copy of it: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL. Each test still owns its database; nobody else sees it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool
from werkzeug.serving import make_server

from .core.kit import Kit, get_kit
from .core.plugins import Candidate, discover
from .site import create_app

POSTGRES_ENV = "JOMRESKIT_TEST_POSTGRES_URL"


def _psycopg(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@cache
def _server(url: str) -> Engine:
    """An AUTOCOMMIT engine on the PostgreSQL server ``url`` names, to create and drop
    databases with (one per server and process; NullPool: no connection kept between uses)."""
    return sa.create_engine(_psycopg(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _on_server(server: str, *statements: str) -> None:
    with _server(server).connect() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))


def _database_at(server: str, name: str) -> str:
    """The URL of database ``name`` on the server ``server`` names."""
    return make_url(_psycopg(server)).set(database=name).render_as_string(hide_password=False)


@contextmanager
def scratch_database(url: str | None, folder: Path, prefix: str = "t") -> Iterator[str]:
    """A fresh, empty database: a SQLite file in ``folder`` when ``url`` is None, else a
    PostgreSQL schema of its own on the server ``url`` names, dropped afterwards."""
    if not url:
        yield f"sqlite:///{folder / 'site.db'}"
        return
    schema = f"{prefix}_{secrets.token_hex(6)}"
    _on_server(url, f"CREATE SCHEMA {schema}")
    try:
        url = _psycopg(url)
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        _on_server(url, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or on PostgreSQL a schema of this test's own;
    in a test that builds sites with ``make_site``, a database of its own, which the first
    site built creates (as a copy of a set-up one)."""
    server = None
    if request.param == "postgresql":
        server = os.environ.get(POSTGRES_ENV)
        if not server:
            pytest.skip(f"{POSTGRES_ENV} is not set")
        if "make_site" in request.fixturenames:
            templates: SiteTemplates = request.getfixturevalue("site_templates")
            url = templates.new_database(server)
            yield url
            templates.finished(url)
            return
    with scratch_database(server, tmp_path) as url:
        yield url


@dataclass
class Site:
    """A site under test: its app, its Kit, and a way to run its CLI."""

    app: Flask
    kit: Kit

    def cli(self, *args: str, input: str | None = None) -> Result:
        """Run `jomreskit ARGS...` against this site, as the command line would."""
        with self.app.app_context():
            return CliRunner().invoke(self.kit.cli, list(args), input=input,
                                      catch_exceptions=False)

    def client(self) -> Any:
        return self.app.test_client()


def start(settings: Mapping[str, Any]) -> Site:
    """The site ``settings`` describe, started as `jomreskit serve` starts it: its app mounts
    whatever the registry says."""
    app = create_app(settings)
    return Site(app, get_kit(app))


def restart(site: Site) -> Site:
    """The same site (instance, database, config) started afresh, as a restarted server or a
    second process would: its app mounts whatever the registry now says."""
    config = {k: v for k, v in site.app.config.items() if k.startswith("JOMRESKIT_")}
    return start({**config, "TESTING": site.app.config.get("TESTING", True)})


def embed(site: Site) -> Site:
    """The same site (database, instance, config) served by a host app, as the README's
    embedding section writes one: its own Flask app and Flask-SQLAlchemy on the site's
    database, handing jomreskit its session (``JomresKit(app, session=db.session)``), so
    jomreskit works on the host's engine and sessions rather than its own."""
    from flask_sqlalchemy import SQLAlchemy

    from . import JomresKit

    host = Flask("portal")
    host.config.update({k: v for k, v in site.app.config.items() if k.startswith("JOMRESKIT_")})
    host.config.update(SECRET_KEY="the portal's own secret", TESTING=True,
                       SQLALCHEMY_DATABASE_URI=site.app.config["JOMRESKIT_DATABASE_URL"])
    db = SQLAlchemy(host)
    JomresKit(host, session=db.session)
    return Site(host, get_kit(host))


SITE_MODES = ("standalone", "embedded")


def set_up(settings: Mapping[str, Any], seed: bool = False) -> None:
    """Set up the site ``settings`` describe, as a real one is: `jomreskit db upgrade` (every
    migration, the registry built from what is installed), then `jomreskit demo seed` when
    ``seed``, each by an app of its own that lets go of its connections when done."""
    installer = start(settings).kit
    with installer.app.app_context():
        installer.upgrade_database(report=lambda _message: None)
    installer.session.remove()
    installer.engine.dispose()
    if seed:
        seeder = start(settings)
        result = seeder.cli("demo", "seed")
        seeder.kit.session.remove()
        seeder.kit.engine.dispose()
        assert result.exit_code == 0, result.output


# Settings that differ from test to test without changing what the database holds.
_PER_TEST_SETTINGS = ("JOMRESKIT_INSTANCE_PATH", "JOMRESKIT_DATABASE_URL", "JOMRESKIT_PLUGINS_DIR")


def _effective(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a site started from ``settings`` runs with: the environment's
    ``JOMRESKIT_`` variables, overridden by ``settings``."""
    return {**{k: v for k, v in os.environ.items() if k.startswith("JOMRESKIT_")}, **settings}


def plugin_files(settings: Mapping[str, Any]) -> list[Path]:
    """The single-file plugins of the site ``settings`` describe (its plugins folder's)."""
    folder = Path(settings.get("JOMRESKIT_PLUGINS_DIR") or Path(
        settings["JOMRESKIT_INSTANCE_PATH"]) / "plugins")
    return sorted(path for path in folder.glob("*.py") if not path.name.startswith("_"))


def rebuild_registry(settings: Mapping[str, Any]) -> None:
    """`jomreskit plugins rebuild` on the site ``settings`` describe, by an app of its own: a
    copy of a template names the template's plugin files in its registry, as a site whose
    plugins folder moved names the old one."""
    rebuilder = start(settings).kit
    with rebuilder.app.app_context():
        rebuilder.rebuild_registry()
    rebuilder.session.remove()
    rebuilder.engine.dispose()


class SiteTemplates:
    """Set-up sites kept as template databases for the test session, one per distinct setup
    (its settings, the installed plugins, seeded or not), each built the first time a test
    asks for it and copied into every test's own database after that.

    On PostgreSQL it also keeps the tests' own databases: each is created when its test's
    first site is built, and dropped in batches while later tests run, not one after each
    test: a DROP DATABASE waits for a checkpoint of the whole server (a second or two on a
    busy one), and those waiting at the same time share one. Dropped only at the end, a
    session's hundreds would keep its last worker busy for a minute after its last test.
    """

    DROP_TOGETHER = 8  # databases dropped at once, on as many connections

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.built: dict[tuple[str, str], str] = {}  # (server or "", key) -> file or database
        self.uncreated: set[str] = set()  # names of the tests' databases not created yet
        self.databases: list[tuple[str, str]] = []  # templates, and tests' not yet dropped
        self.done: list[tuple[str, str]] = []  # tests' databases to drop with the next batch
        self.lock = threading.Lock()
        self.dropping = ThreadPoolExecutor(max_workers=1)  # one batch at a time
        self.batches: list[Future[None]] = []  # read at the end: a failed drop is not silent

    def new_database(self, server: str) -> str:
        """The URL of a PostgreSQL database for a test, created by ``provide``."""
        name = f"t_{secrets.token_hex(6)}"
        self.uncreated.add(name)
        self.databases.append((server, name))
        return _database_at(server, name)

    @staticmethod
    def key(settings: Mapping[str, Any], seed: bool) -> str | None:
        """What sets up a site's database apart from another's; None when it is the test's
        own (a secret key kept in the instance folder, which would not decrypt the template's
        secrets). Single-file plugins count by name and content: the template is built with
        copies of them."""
        effective = _effective(settings)
        if not effective.get("JOMRESKIT_SECRET_KEY"):
            return None
        installed = _installed_plugins(*_installation())
        files = [(path.name, hashlib.sha256(path.read_bytes()).hexdigest())
                 for path in plugin_files(effective)]
        described = repr((seed, sorted((k, repr(v)) for k, v in effective.items()
                                       if k not in _PER_TEST_SETTINGS and k != POSTGRES_ENV),
                          [(p.name, p.module, p.version, p.requires) for p in installed],
                          files))
        if str(Path(effective["JOMRESKIT_INSTANCE_PATH"]).parent) in described:
            return None  # some setting names a file of the test's own
        return hashlib.sha256(described.encode()).hexdigest()[:16]

    def provide(self, settings: Mapping[str, Any], key: str | None, seed: bool) -> bool:
        """Make the database of ``settings`` a copy of the template ``key`` (built first if
        need be) and say True; or, when there is no template or the database is not new (a
        second site on it, say), leave it to be set up as it is (created, if the test's own
        PostgreSQL database is not yet) and say False."""
        url = str(settings["JOMRESKIT_DATABASE_URL"])
        if url.startswith("sqlite"):
            target = Path(make_url(url).database or "")
            if key is None or (target.exists() and target.stat().st_size):
                return False
            shutil.copyfile(self.template("", key, settings, seed), target)
            return True
        name = make_url(url).database or ""
        if name not in self.uncreated:
            return False
        self.uncreated.discard(name)
        server = os.environ[POSTGRES_ENV]
        if key is None:
            _on_server(server, f"CREATE DATABASE {name}")
            return False
        template = self.template(server, key, settings, seed)
        _on_server(server, f"CREATE DATABASE {name} TEMPLATE {template}")
        return True

    def template(self, server: str, key: str, settings: Mapping[str, Any], seed: bool) -> str:
        with self.lock:
            if (server, key) not in self.built:
                self.built[server, key] = self._build(server, key, settings, seed)
            return self.built[server, key]

    def _build(self, server: str, key: str, settings: Mapping[str, Any], seed: bool) -> str:
        instance = self.folder / key
        instance.mkdir(parents=True, exist_ok=True)
        plugins_dir = instance / "instance" / "plugins"
        plugins_dir.mkdir(parents=True, exist_ok=True)
        for path in plugin_files(_effective(settings)):
            shutil.copyfile(path, plugins_dir / path.name)
        if server:
            name = f"tmpl_{key}_{secrets.token_hex(4)}"
            _on_server(server, f"CREATE DATABASE {name}")
            self.databases.append((server, name))
            url, found = _database_at(server, name), name
        else:
            found = str(instance / "site.db")
            url = f"sqlite:///{instance / 'built.db'}"
        set_up({**settings, "JOMRESKIT_INSTANCE_PATH": str(instance / "instance"),
                "JOMRESKIT_DATABASE_URL": url, "JOMRESKIT_PLUGINS_DIR": str(plugins_dir)}, seed)
        if not server:
            # One file with every commit in it, whatever is still in the write-ahead log.
            with closing(sqlite3.connect(instance / "built.db")) as built:
                built.execute("VACUUM INTO ?", (found,))
        return found

    def finished(self, url: str) -> None:
        """The test of the database at ``url`` (from ``new_database``) is over: drop it with
        the next batch, in the background."""
        name = make_url(url).database
        with self.lock:
            found = next(found for found in self.databases if found[1] == name)
            self.databases.remove(found)
            if name in self.uncreated:  # the test built no site: nothing to drop
                self.uncreated.discard(name)
                return
            self.done.append(found)
            if len(self.done) < self.DROP_TOGETHER:
                return
            batch, self.done = self.done, []
        self.batches.append(self.dropping.submit(_drop_databases, batch))

    def drop(self) -> None:
        """Drop the PostgreSQL databases left (the SQLite files go with the session's
        folder), once the batches under way are done; then raise what any batch raised."""
        self.dropping.shutdown(wait=True)
        _drop_databases(self.done + [found for found in self.databases
                                     if found[1] not in self.uncreated])
        for batch in self.batches:
            batch.result()


def _drop_databases(databases: list[tuple[str, str]]) -> None:
    """Drop ``databases`` ((server, name)) together: DROP DATABASEs that wait at the same
    time share one checkpoint."""
    with ThreadPoolExecutor(max_workers=SiteTemplates.DROP_TOGETHER) as pool:
        # FORCE: a server process a test started may still hold a connection to one.
        list(pool.map(lambda found: _on_server(
            found[0], f"DROP DATABASE IF EXISTS {found[1]} WITH (FORCE)"), databases))


def _installation() -> tuple[tuple[str, float], ...]:
    """What changes when a distribution is installed or removed: the import path's folders
    and their modification times."""
    return tuple((folder, os.stat(folder).st_mtime if os.path.isdir(folder) else 0.0)
                 for folder in sys.path)


@cache
def _installed_plugins(*_installation: tuple[str, float]) -> tuple[Candidate, ...]:
    """The installed plugins (entry points), read once per installation: reading every
    distribution's metadata costs more than copying a database."""
    return tuple(discover(None))


@pytest.fixture(scope="session")
def site_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteTemplates]:
    """The session's set-up sites, copied into each test's database by ``make_site``."""
    templates = SiteTemplates(tmp_path_factory.mktemp("site-templates"))
    yield templates
    templates.drop()


@pytest.fixture
def make_site(tmp_path: Any, database_url: str,
              site_templates: SiteTemplates) -> Iterator[Callable[..., Site]]:
    """Build set-up sites on the test's database; each call may add config, ``seed=True``
    seeds the demo data, ``plugins`` drops single-file plugins (a ``Path`` or source text) in
    the site's plugins folder first, and ``mode="embedded"`` gives the site served by a host
    app sharing its Flask-SQLAlchemy session (``embed``). The first site is a copy of one set
    up before in the session with the same settings and plugins, where there is one."""
    made: list[Site] = []
    hosts: list[Site] = []

    def make(seed: bool = False, plugins: Iterable[str | Path] = (), mode: str = "standalone",
             **config: Any) -> Site:
        if mode not in SITE_MODES:
            raise ValueError(f"mode must be one of {SITE_MODES}, not {mode!r}")
        settings = {
            "JOMRESKIT_INSTANCE_PATH": str(tmp_path / f"instance{len(made)}"),
            "JOMRESKIT_DATABASE_URL": database_url,
            "JOMRESKIT_SECRET_KEY": "test-secret-key",
            "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "TESTING": True,
        }
        settings.update(config)
        plugins = list(plugins)
        if plugins:
            folder = Path(settings.setdefault("JOMRESKIT_PLUGINS_DIR",
                                              str(tmp_path / f"plugins{len(made)}")))
            folder.mkdir(parents=True, exist_ok=True)
            for number, plugin in enumerate(plugins):
                if isinstance(plugin, Path):
                    (folder / plugin.name).write_text(plugin.read_text())
                else:
                    (folder / f"test_plugin_{number}.py").write_text(plugin)
        key = SiteTemplates.key(settings, seed) if not made else None
        if not site_templates.provide(settings, key, seed):
            set_up(settings, seed)
        elif plugin_files(_effective(settings)):
            rebuild_registry(settings)
        # As on a real site: the site starts from the registry the set-up built, so every
        # plugin's init_app runs on the app under test.
        site = start(settings)
        made.append(site)
        if mode == "standalone":
            return site
        hosts.append(embed(site))
        return hosts[-1]

    yield make
    for site in made:
        site.kit.session.remove()
        site.kit.engine.dispose()
    for host in hosts:  # the host's session lives in its app contexts, long gone
        host.kit.engine.dispose()


@pytest.fixture(params=SITE_MODES)
def site_mode(request: pytest.FixtureRequest) -> str:
    """How the site runs jomreskit: on its own ("standalone"), or inside a host app that
    shares its Flask-SQLAlchemy session ("embedded"); for ``make_site(mode=...)``."""
    return str(request.param)


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    """A set-up site with the demo data seeded (Fawlty Towers is property 1, contract 41...)."""
    return make_site(seed=True)


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Serve WSGI apps on free loopback ports for the test; returns each one's base URL."""
    servers = []

    def serve(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        # A short poll: shutdown() waits for the loop to look, 0.5 s a server by default.
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
