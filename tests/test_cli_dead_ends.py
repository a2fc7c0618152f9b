"""What a newcomer meets on the command line when something is off: a port out of range, a
port taken, a URL or secret mistyped, an id that is not a number, a missing driver. Each gets
one line that says what is wrong, and nothing is left behind by merely asking for help."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jomreskit import __version__

JOMRESKIT = str(Path(sys.executable).with_name("jomreskit"))
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, as webhooks create makes
RESPONDER = ("responder", "--api-url", "http://127.0.0.1:8000/api", "--client-id", "id",
             "--client-secret", "secret")


def jomreskit(instance: Path, *args: str, code: str | None = None,
              **env: str) -> subprocess.CompletedProcess[str]:
    """`jomreskit ARGS` in a shell of its own on the instance folder ``instance``; with
    ``code``, that Python runs first in the same process (to take a module away)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JOMRESKIT_")}
    environment.update(JOMRESKIT_INSTANCE_PATH=str(instance), **env)
    command = ([sys.executable, "-c", f"{code}\nfrom jomreskit.cli import main\nmain()", *args]
               if code else [JOMRESKIT, *args])
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)


@pytest.mark.parametrize("command", [("serve",), RESPONDER + ("--follow",), ("demo", "--once")])
def test_a_port_out_of_range_is_refused_not_wrapped(site, command):
    result = site.cli(*command, "--port", "99999")

    assert result.exit_code == 2
    assert "Invalid value for '--port': 99999 is not in the range 0<=x<=65535." in result.output
    assert "serving on" not in result.output


def test_the_responder_on_a_taken_port_says_so_in_one_line(site, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = site.cli(*RESPONDER, "--signing-secret", SIGNING_SECRET, "--port", str(port),
                          "--log", str(tmp_path / "responder.jsonl"))

    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: the responder cannot listen on 127.0.0.1:{port}: port {port} is already in use")


def test_the_responder_refuses_an_api_url_that_is_not_one(site):
    result = site.cli("responder", "--api-url", "not-a-url", "--client-id", "id",
                      "--client-secret", "secret", "--signing-secret", SIGNING_SECRET)

    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: --api-url 'not-a-url' is not an http(s) URL; give the site's API root, like "
        "http://127.0.0.1:8000/api")


@pytest.mark.parametrize("secret", ["nope", "whsec_nope", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                    "whsec_not base64!"])
def test_the_responder_refuses_a_signing_secret_that_is_not_one(site, secret):
    result = site.cli(*RESPONDER, "--signing-secret", secret)

    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: the signing secret must be the whsec_... secret `jomreskit webhooks create` "
        "printed")


def test_an_id_that_is_not_a_number_says_so(site):
    result = site.cli("deliveries", "show", "abc")

    assert result.exit_code == 2
    assert "Invalid value for 'DELIVERY_ID': 'abc' is not a whole number." in result.output


def test_version_names_the_core_and_each_loaded_plugin(site):
    result = site.cli("version")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"jomreskit {__version__}"
    assert "webhooks_core 0.1.0" in lines and "api_core 0.1.0" in lines


def test_version_and_help_before_setting_up_leave_the_instance_folder_untouched(tmp_path):
    instance = tmp_path / "instance"

    helped = jomreskit(instance, "--help")
    version = jomreskit(instance, "version")

    assert helped.returncode == 0, helped.stderr
    assert "Plugin commands (webhooks, keys, ...) are not loaded" in helped.stdout
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"jomreskit {__version__}\nplugins: not loaded because "
                                     "the database is not set up")
    assert not instance.exists()  # no jomreskit.db, no secret_key


def test_a_database_not_set_up_names_the_url_and_the_instance_folder(tmp_path):
    instance = tmp_path / "instance"

    result = jomreskit(instance, "users", "list",
                       JOMRESKIT_DATABASE_URL=f"sqlite:///{tmp_path}/elsewhere.db")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: the database is not set up: run `jomreskit db upgrade` (database "
        f"sqlite:///{tmp_path}/elsewhere.db, instance folder {instance})")
    assert not (tmp_path / "elsewhere.db").exists()


def test_a_postgresql_url_without_the_driver_names_the_extra_to_install(tmp_path):
    url = "postgresql+psycopg://portal:secret@db.example:5432/portal"

    # The driver taken away, as in a virtualenv made without the [postgres] extra.
    result = jomreskit(tmp_path / "instance", "users", "list",
                       code="import sys; sys.modules['psycopg'] = None",
                       JOMRESKIT_DATABASE_URL=url)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: cannot start jomreskit: JOMRESKIT_DATABASE_URL "
        "postgresql+psycopg://portal:***@db.example:5432/portal needs the PostgreSQL driver "
        "psycopg, which is not installed here: pip install 'jomreskit[postgres]' (or "
        "'psycopg[binary]')")
