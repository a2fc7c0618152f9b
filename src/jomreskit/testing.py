"""Pytest fixtures for jomreskit and its plugins: real databases, real sites, real servers.

Loaded by pytest by itself wherever jomreskit is installed (its ``pytest11`` entry point), so a
plugin's tests use these fixtures without a conftest.py.

- ``database_url``: each test runs once on SQLite and once on PostgreSQL (the latter when
  JOMRESKIT_TEST_POSTGRES_URL is set; it gets a schema of its own, dropped afterwards).
- ``make_site(**config)``: a set-up site (migrated, registry built) in a temporary instance.
- ``site``: ``make_site()`` with the demo data seeded.
- ``serve_app(app)``: serve a WSGI app on a free loopback port in a thread; returns its URL.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from werkzeug.serving import make_server

from .core.kit import Kit, get_kit
from .site import create_app

POSTGRES_ENV = "JOMRESKIT_TEST_POSTGRES_URL"


@contextmanager
def scratch_database(url: str | None, folder: Path, prefix: str = "t") -> Iterator[str]:
    """A fresh, empty database: a SQLite file in ``folder`` when ``url`` is None, else a
    PostgreSQL schema of its own on the server ``url`` names, dropped afterwards."""
    if not url:
        yield f"sqlite:///{folder / 'site.db'}"
        return
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    import sqlalchemy as sa

    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of this test's own."""
    server = None
    if request.param == "postgresql":
        server = os.environ.get(POSTGRES_ENV)
        if not server:
            pytest.skip(f"{POSTGRES_ENV} is not set")
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


@pytest.fixture
def make_site(tmp_path: Any, database_url: str) -> Iterator[Callable[..., Site]]:
    """Build set-up sites on the test's database; each call may add config."""
    made: list[Site] = []

    def make(**config: Any) -> Site:
        settings = {
            "JOMRESKIT_INSTANCE_PATH": str(tmp_path / f"instance{len(made)}"),
            "JOMRESKIT_DATABASE_URL": database_url,
            "JOMRESKIT_SECRET_KEY": "test-secret-key",
            "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "TESTING": True,
        }
        settings.update(config)
        # As on a real site: `jomreskit db upgrade` first, then the site starts from the
        # registry that built, so every plugin's init_app runs on the app under test.
        installer = get_kit(create_app(settings))
        with installer.app.app_context():
            installer.upgrade_database(report=lambda _message: None)
        installer.session.remove()
        installer.engine.dispose()
        app = create_app(settings)
        site = Site(app, get_kit(app))
        made.append(site)
        return site

    yield make
    for site in made:
        site.kit.session.remove()
        site.kit.engine.dispose()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    """A set-up site with the demo data seeded (Fawlty Towers is property 1, contract 41...)."""
    built = make_site()
    result = built.cli("demo", "seed")
    assert result.exit_code == 0, result.output
    return built


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Serve WSGI apps on free loopback ports for the test; returns each one's base URL."""
    servers = []

    def serve(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
