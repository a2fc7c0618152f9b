"""Running processes follow the plugin registry: what `plugins rebuild`, `enable` or `disable`
change in another process reaches a running site and its workers within seconds."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.wrappers import Request, Response

from jomreskit import EventError
from jomreskit.testing import Site, restart

JOMRESKIT = str(Path(sys.executable).with_name("jomreskit"))


def another_process(site: Site) -> Site:
    """The same site as a second process would start it."""
    return restart(site)


def test_a_running_process_reloads_its_plugins_when_the_registry_changes(site):
    running = another_process(site)
    assert "oauth" in running.kit.authmethods

    site.cli("plugins", "disable", "authmethod_oauth")
    unchanged = running.kit.follow_registry()  # looked at a moment ago: not yet
    running.kit._next_registry_check = 0.0  # as two seconds later
    reloaded = running.kit.follow_registry()

    assert (unchanged, reloaded) == (False, True)
    assert "oauth" not in running.kit.authmethods
    assert running.kit.follow_registry() is False  # nothing more changed


def test_nothing_is_reloaded_while_the_registry_stays_the_same(site):
    running = another_process(site)
    pm = running.kit.pm
    running.kit._next_registry_check = 0.0

    assert running.kit.follow_registry() is False
    assert running.kit.pm is pm


def test_a_plugin_that_mounts_things_at_start_is_named_as_needing_a_restart(site, caplog):
    running = another_process(site)
    site.cli("plugins", "disable", "api_feature_search")
    restarted = another_process(site)  # started without it
    site.cli("plugins", "enable", "api_feature_search")
    restarted.kit._next_registry_check = 0.0

    with caplog.at_level(logging.WARNING, logger="jomreskit"):
        assert restarted.kit.follow_registry() is True

    assert restarted.kit.needs_restart() == ["api_feature_search"]
    assert "api_feature_search: their pages, API routes or services appear after a restart" \
        in caplog.text
    assert running.kit.needs_restart() == []


class TokenAndInbox:
    """A remote service with an OAuth token endpoint and an inbox for notifications."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/token":
            response = Response('{"access_token": "t-1", "token_type": "Bearer", '
                                '"expires_in": 3600}', content_type="application/json")
        else:
            self.received.append(dict(request.headers))
            response = Response("ok")
        return response(environ, start_response)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_serving_site_delivers_with_an_auth_method_enabled_after_it_started(site, serve_app):
    service = TokenAndInbox()
    url = serve_app(service)
    site.cli("plugins", "disable", "authmethod_oauth")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOMRESKIT_")}
    env.update({k: str(site.kit.settings[k]) for k in (
        "JOMRESKIT_INSTANCE_PATH", "JOMRESKIT_DATABASE_URL", "JOMRESKIT_SECRET_KEY",
        "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS")})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = subprocess.Popen([JOMRESKIT, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) and time.monotonic() < deadline:
            time.sleep(0.1)

        enabled = subprocess.run([JOMRESKIT, "plugins", "enable", "authmethod_oauth"], env=env,
                                 capture_output=True, text=True, timeout=60)
        made = subprocess.run(
            [JOMRESKIT, "webhooks", "create", "--manager", "manager", "--url", url + "/in",
             "--authmethod", "oauth", "--setting", "client_id=c", "--setting",
             "client_secret=s", "--setting", f"token_url={url}/token"],
            env=env, capture_output=True, text=True, timeout=60)
        fired = subprocess.run([JOMRESKIT, "events", "fire", "booking_modified",
                                "property_uid=1", "contract_uid=41"], env=env,
                               capture_output=True, text=True, timeout=60)
        deadline = time.monotonic() + 20
        while not service.received and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        served.terminate()
        out, err = served.communicate(timeout=30)

    assert enabled.returncode == 0 and made.returncode == 0, enabled.stderr + made.stderr
    assert fired.returncode == 0, fired.stderr
    assert len(service.received) == 1, err
    assert service.received[0]["Authorization"] == "Bearer t-1"
    assert "the plugin registry changed: plugins reloaded (+authmethod_oauth)" in err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_registry_that_cannot_be_read_for_a_moment_unloads_nothing(site):
    running = another_process(site)
    database = Path(site.kit.settings["JOMRESKIT_DATABASE_URL"].removeprefix("sqlite:///"))
    loaded = list(running.kit.loaded.names)
    for kit in (site.kit, running.kit):
        kit.session.remove()
        kit.engine.dispose()
    away = database.rename(database.with_suffix(".away"))  # the database is gone for a while

    running.kit._next_registry_check = 0.0
    reloaded = running.kit.follow_registry()
    away.rename(database)

    assert reloaded is False
    assert running.kit.loaded.names == loaded
    assert "oauth" in running.kit.authmethods


STAMPED = """
from jomreskit import EventType, get_kit, hookimpl

requires = ["api_core"]


@hookimpl
def register_events():
    return [EventType("stamp_checked", ("property_uid",), "A reload drill's event.")]


@hookimpl
def event_fired(kit, event):
    if event.name == "stamp_checked":
        return "stamped"


@hookimpl
def register_api_routes(api):
    @api.route("/stamp", public=True, summary="What this request sees of the stamped plugin")
    def stamp():
        kit = get_kit()
        return {"in_catalog": "stamp_checked" in kit.catalog,
                "loaded": "stamped" in kit.loaded.names,
                "hooked": kit.hooks.pm.get_plugin("stamped") is not None}
"""


def test_requests_and_events_see_the_old_or_the_new_plugin_set_never_half(make_site, serve_app):
    site = make_site()
    folder = Path(site.kit.settings["JOMRESKIT_PLUGINS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stamped.py").write_text(STAMPED)
    assert site.cli("plugins", "rebuild").exit_code == 0
    served = another_process(site)  # started with it: its route is mounted
    url = serve_app(served.app)
    answers: list[tuple[bool, ...]] = []
    fired: list[bool] = []  # per event fired: did the plugin that registered it react?
    failures: list[str] = []
    done = threading.Event()

    def call_the_api() -> None:
        with requests.Session() as http:
            while not done.is_set():
                answer = http.get(f"{url}/api/stamp", timeout=60)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text}")
                else:
                    answers.append(tuple(answer.json()["data"].values()))

    def fire_events() -> None:
        while not done.is_set():
            try:
                event = served.kit.fire("stamp_checked", property_uid=1)
                fired.append("stamped" in event.outcomes)
            except EventError:
                pass  # the plugin is disabled: nobody registered the event
            except Exception as exc:  # noqa: BLE001 - any other error is a failure
                failures.append(repr(exc))
            finally:
                served.kit.session.rollback()
        served.kit.session.remove()

    workers = [threading.Thread(target=call_the_api) for _ in range(4)]
    workers += [threading.Thread(target=fire_events) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for turn in range(20):  # disable, enable, ... each reloads the serving site's plugins
            served.kit.set_plugin_enabled("stamped", enabled=turn % 2 == 1)
            time.sleep(0.05)
    finally:
        done.set()
        for worker in workers:
            worker.join(timeout=120)

    assert failures == []
    assert set(answers) == {(True, True, True), (False, False, False)}
    assert fired and all(fired)
