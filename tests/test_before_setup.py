"""Before `db upgrade`, and when `serve` cannot start: every command says what to do, in one
line and with a non-zero exit, standalone and embedded alike."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jomreskit import create_app, get_kit
from jomreskit.testing import Site


def set_up(site: Site) -> str:
    """What a site not set up says, naming the database and instance folder it looked at."""
    instance = site.kit.settings["JOMRESKIT_INSTANCE_PATH"]
    return ("the database is not set up: run `jomreskit db upgrade` (database "
            f"sqlite:///{instance}/jomreskit.db, instance folder {instance})")


@pytest.fixture
def fresh(tmp_path: Path) -> Site:
    """A site whose database (SQLite in its instance folder) nobody has set up yet."""
    app = create_app({"JOMRESKIT_INSTANCE_PATH": str(tmp_path / "fresh"), "TESTING": True})
    yield Site(app, get_kit(app))
    get_kit(app).engine.dispose()


def test_core_commands_before_db_upgrade_say_to_run_it(fresh):
    for args in (("users", "create", "polly"), ("users", "list"), ("events", "fire",
                 "booking_modified", "property_uid=1", "contract_uid=41"), ("demo", "seed"),
                 ("plugins", "list"), ("plugins", "enable", "api_core")):
        result = fresh.cli(*args)
        assert result.exit_code == 1, args
        assert result.output.strip() == f"Error: {set_up(fresh)}", args


def test_a_plugin_command_before_db_upgrade_is_named_as_not_loaded_yet(fresh):
    result = fresh.cli("webhooks", "list")

    assert result.exit_code == 2
    assert ("Error: no command 'webhooks': plugin commands (webhooks, keys, ...) are not loaded "
            f"because {set_up(fresh)}") in result.output
    assert "No such command" not in result.output


def test_the_help_before_db_upgrade_says_why_plugin_commands_are_missing(fresh):
    shown = "".join(fresh.cli("--help").output.split())  # wrapped, even inside a path

    said = f"Plugin commands (webhooks, keys, ...) are not loaded because {set_up(fresh)}."
    assert "".join(said.split()) in shown


def test_serve_refuses_a_database_that_is_not_set_up(fresh):
    result = fresh.cli("serve", "--port", "0")

    assert result.exit_code == 1
    assert result.output.strip() == f"Error: cannot serve: {set_up(fresh)}"


def test_serve_refuses_a_database_it_cannot_reach(tmp_path):
    app = create_app({"JOMRESKIT_INSTANCE_PATH": str(tmp_path / "away"),
                      "JOMRESKIT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none"})
    result = Site(app, get_kit(app)).cli("serve", "--port", "0")

    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot serve: cannot read the database: ")
    assert "serving on" not in result.output


def test_the_console_before_db_upgrade_answers_503_with_what_to_do(fresh):
    page = fresh.client().get("/console/sign-in")

    assert page.status_code == 503
    assert "jomreskit db upgrade" in page.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_on_a_taken_port_says_which_and_announces_nothing(make_site):
    site = make_site()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = site.cli("serve", "--port", str(port), "--no-worker")

    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: port {port} is already in use")


def test_jomreskit_version(fresh):
    from jomreskit import __version__

    result = fresh.cli("--version")

    assert (result.exit_code, result.output) == (0, f"jomreskit {__version__}\n")


def test_an_embedding_app_names_its_own_command_and_db_upgrade_does_not_nag(tmp_path):
    (tmp_path / "portal.py").write_text(textwrap.dedent(f"""
        from flask import Flask
        from jomreskit import JomresKit

        app = Flask(__name__)
        app.config.update(SECRET_KEY="portal", JOMRESKIT_INSTANCE_PATH={str(tmp_path / 'i')!r})
        JomresKit(app)
    """))
    flask = [str(Path(sys.executable).with_name("flask")), "--app", "portal", "jomreskit"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*flask, *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)

    before = run("users", "list")
    upgrade = run("db", "upgrade")
    after = run("users", "list")

    assert before.returncode == 1
    assert before.stderr.strip() == (
        "Error: the database is not set up: run `flask --app portal jomreskit db upgrade` "
        f"(database sqlite:///{tmp_path}/i/jomreskit.db, instance folder {tmp_path}/i)")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "not set up" not in upgrade.stdout + upgrade.stderr
    assert after.returncode == 0, after.stderr
