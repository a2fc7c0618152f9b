"""The case study end to end: the simulation responder against a live site, with each auth
method and a tampered signature; and `jomreskit demo --once` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from flask import Flask, Response, request
from sqlalchemy import create_engine, text

from jomreskit.responder import ResponderConfig, StepLog, make_app

JOMRESKIT = str(Path(sys.executable).parent / "jomreskit")
USERNAME, PASSWORD = "channel-manager", "correct horse"


@pytest.fixture
def live_site(site, serve_app):
    """The demo site served on loopback, with the manager's API key (scope webhooks_get)."""
    url = serve_app(site.app)
    site.kit.settings["JOMRESKIT_BASE_URL"] = url
    key = json.loads(site.cli("keys", "create", "--manager", "manager",
                              "--scope", "webhooks_get", "--json").output)
    yield site, url, key
    site.kit.session.remove()
    site.kit.engine.dispose()


@pytest.fixture
def make_responder(tmp_path):
    """A responder app for a site's API key and a webhook's secret, and the path of its log."""
    logs = []

    def make(api_url: str, key: dict, signing_secret: str,
             credentials: bool = True) -> tuple[Flask, Path]:
        log = StepLog(path=tmp_path / f"responder{len(logs)}.jsonl")
        logs.append(log)
        config = ResponderConfig(api_url=api_url, client_id=key["client_id"],
                                 client_secret=key["client_secret"],
                                 signing_secret=signing_secret,
                                 username=USERNAME if credentials else None,
                                 password=PASSWORD if credentials else None)
        return make_app(config, log), log.path

    yield make
    for log in logs:
        log.close()


class LateApp:
    """Served before the responder exists: the webhook needs its URL, it needs the webhook's
    signing secret."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def steps(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def deliveries(site) -> list[dict]:
    return json.loads(site.cli("deliveries", "list", "--json").output)


def settings_for(authmethod: str, responder_url: str) -> list[str]:
    pairs = {
        "none": [],
        "basic": [f"username={USERNAME}", f"password={PASSWORD}"],
        "oauth": [f"client_id={USERNAME}", f"client_secret={PASSWORD}",
                  f"token_url={responder_url}oauth/token"],
    }[authmethod]
    return [arg for pair in pairs for arg in ("--setting", pair)]


@pytest.mark.parametrize("authmethod", ["none", "basic", "oauth"])
def test_the_responder_completes_the_round_trip_with_each_auth_method(
        live_site, make_responder, serve_app, authmethod):
    site, site_url, key = live_site
    late = LateApp()
    responder_url = serve_app(late) + "/"
    made = site.cli("webhooks", "create", "--manager", "manager", "--url", responder_url,
                    "--authmethod", authmethod, *settings_for(authmethod, responder_url),
                    "--json")
    assert made.exit_code == 0, made.output
    webhook = json.loads(made.output)
    late.app, log = make_responder(site_url + "/api", key, webhook["secret"],
                                   credentials=authmethod != "none")

    site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    drained = site.cli("worker", "--drain")

    assert drained.exit_code == 0, drained.output
    story = [(s["step"], s["ok"]) for s in steps(log) if s["step"] != "issue_token"]
    expected = [("received", True)]
    if authmethod != "none":
        expected.append(("credentials", True))
    expected += [("signature", True), ("token", True), ("callback", True)]
    assert story == expected
    callback = steps(log)[-1]
    assert callback["status"] == 200
    assert callback["answer"]["data"]["contract_uid"] == 41
    assert [d["status"] for d in deliveries(site) if d["webhook_id"] == webhook["id"]] \
        == ["succeeded"]


def test_a_tampered_notification_is_refused_and_the_site_retries_later(
        live_site, make_responder, serve_app):
    site, site_url, key = live_site
    proxy = Flask("tampering-proxy")
    responder_url: dict[str, str] = {}

    @proxy.post("/")
    def tamper() -> Response:
        # Someone on the way changes the booking id; the signature no longer matches.
        body = request.get_data().replace(b'"contract_uid": 41', b'"contract_uid": 42')
        body = body.replace(b'"contract_uid":41', b'"contract_uid":42')
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length")}
        answer = requests.post(responder_url["url"] + "/", data=body, headers=headers,
                               timeout=10)
        return Response(answer.content, answer.status_code,
                        content_type=answer.headers.get("Content-Type"))

    proxy_url = serve_app(proxy) + "/"
    made = json.loads(site.cli("webhooks", "create", "--manager", "manager", "--url", proxy_url,
                               "--authmethod", "basic", *settings_for("basic", proxy_url),
                               "--json").output)
    app, log = make_responder(site_url + "/api", key, made["secret"])
    responder_url["url"] = serve_app(app)

    site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    site.cli("worker", "--drain")

    last = steps(log)[-1]
    assert (last["step"], last["ok"]) == ("signature", False)
    assert "no v1 signature matches" in last["message"]
    assert not any(s["step"] == "token" for s in steps(log))
    [delivery] = [d for d in deliveries(site) if d["webhook_id"] == made["id"]]
    assert delivery["status"] != "succeeded" and delivery["last_status_code"] == 401
    shown = json.loads(site.cli("deliveries", "show", str(delivery["id"]), "--json").output)
    assert shown["attempt_log"][-1]["status_code"] == 401


def test_jomreskit_demo_once_completes_the_round_trip(database_url, tmp_path):
    env = {**os.environ, "JOMRESKIT_INSTANCE_PATH": str(tmp_path / "instance")}
    if not database_url.startswith("sqlite"):
        env["JOMRESKIT_DATABASE_URL"] = database_url  # the demo uses the configured database
    else:
        env.pop("JOMRESKIT_DATABASE_URL", None)  # the default: SQLite in the demo's folder

    result = subprocess.run([JOMRESKIT, "demo", "--once", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=90)

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for told in ("created an API key with scope webhooks_get and events_get", "created webhook",
                 "fired booking_modified property_uid=1 contract_uid=41 (event 22)",
                 "sent the notification", "HTTP Basic credentials accepted",
                 "signature verified", "took a new token",
                 "/api/webhooks/1/booking_modified/41 answered 200", '"contract_uid": 41',
                 "Round trip complete"):
        assert told in out, out
    demo_folder = tmp_path / "instance" / "demo"
    assert (demo_folder / "responder.jsonl").exists()
    assert (demo_folder / "jomreskit.db").exists() == database_url.startswith("sqlite")

    # Then the responder catches up on the event feed (api_feature_events is installed): every
    # event of the manager's properties since its key's (never) acknowledged cursor, each
    # callback read, and the cursor stored for its key.
    feed_part = out[out.index("follows the event feed too"):]
    read = re.findall(r"^ +event +(\d+) (\w+) .*: GET answered (\d+)$", feed_part, re.M)
    with create_engine(database_url if not database_url.startswith("sqlite")
                       else f"sqlite:///{demo_folder / 'jomreskit.db'}").connect() as db:
        expected = [row.id for row in db.execute(text("SELECT id, ids FROM events ORDER BY id"))
                    if (json.loads(row.ids) if isinstance(row.ids, str) else row.ids)
                    .get("property_uid") in (1, 2)]
        stored = [tuple(row) for row in db.execute(text(
            "SELECT xid, event_id FROM event_feed_cursors"))]
        newest = tuple(db.execute(text("SELECT feed_xid, id FROM events WHERE id = 22")).one())
    assert [int(event_id) for event_id, _type, _status in read] == expected
    assert read[-1] == ("22", "booking_modified", "200")
    assert {status for _id, _type, status in read} == {"200"}
    cursor = re.search(r"acknowledged cursor (ev\d_[\w-]+) \(PUT /events/cursor\)", feed_part)[1]
    # past event 22, the newest (a caught-up key's cursor is at the feed's horizon)
    assert len(stored) == 1 and stored[0] >= newest
    acknowledged = [s for s in steps(demo_folder / "responder.jsonl")
                    if s["step"] == "acknowledged"]
    assert acknowledged[-1]["cursor"] == cursor and acknowledged[-1]["status"] == 200
    assert "then caught up on the event feed" in out


def test_without_the_event_feed_the_demo_tells_the_webhook_round_only(tmp_path):
    env = {**os.environ, "JOMRESKIT_INSTANCE_PATH": str(tmp_path / "instance"),
           "JOMRESKIT_LOAD_PLUGINS": "api_core,api_feature_webhooks,webhooks_core,"
                                     "authmethod_basic"}
    env.pop("JOMRESKIT_DATABASE_URL", None)

    result = subprocess.run([JOMRESKIT, "demo", "--once", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=90)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "created an API key with scope webhooks_get (the secret" in result.stdout
    assert "Round trip complete" in result.stdout
    assert "event feed" not in result.stdout


def _demo(database_url: str, instance: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOMRESKIT_INSTANCE_PATH": str(instance)}
    env.pop("JOMRESKIT_SECRET_KEY", None)  # the demo's own key file, as on a fresh machine
    if database_url.startswith("sqlite"):
        env.pop("JOMRESKIT_DATABASE_URL", None)
    else:
        env["JOMRESKIT_DATABASE_URL"] = database_url
    return subprocess.run([JOMRESKIT, "demo", "--once", "--port", "0"], env=env,
                          capture_output=True, text=True, timeout=90)


def test_the_demo_run_twice_on_one_database_is_a_fresh_site_each_time(database_url, tmp_path):
    instance = tmp_path / "instance"

    runs = [_demo(database_url, instance) for _ in range(2)]

    for result in runs:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "fired booking_modified property_uid=1 contract_uid=41 (event 22)" in result.stdout
        assert "Round trip complete" in result.stdout
    assert sorted(p.name for p in instance.iterdir()) == ["demo"]  # nothing stray beside it


def test_the_demo_refuses_a_database_holding_another_site(database_url, tmp_path):
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'portal.db'}"  # configured, outside the folder
    engine = create_engine(database_url)
    with engine.begin() as db:
        db.execute(text("CREATE TABLE stays (id INTEGER PRIMARY KEY)"))

    env = {**os.environ, "JOMRESKIT_INSTANCE_PATH": str(tmp_path / "instance"),
           "JOMRESKIT_DATABASE_URL": database_url}
    result = subprocess.run([JOMRESKIT, "demo", "--once", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=90)

    assert result.returncode == 1
    assert "has tables not made by `jomreskit demo` (stays); give the demo an empty database " \
        "or schema in JOMRESKIT_DATABASE_URL" in result.stderr
    with engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM stays")).scalar() == 0  # still there
    engine.dispose()


def _read_until(process: subprocess.Popen, last: str, timeout: float = 90) -> str:
    """What ``process`` printed up to and with the first line matching ``last``."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("exited early:\n" + "".join(seen))
        seen.append(line)
        if re.search(last, line):
            return "".join(seen)
    raise AssertionError("not said in time:\n" + "".join(seen))


def test_the_commands_the_demo_prints_at_the_end_work_as_printed(tmp_path):
    env = {**os.environ, "JOMRESKIT_INSTANCE_PATH": str(tmp_path / "instance")}
    for name in ("JOMRESKIT_DATABASE_URL", "JOMRESKIT_SECRET_KEY"):
        env.pop(name, None)
    shell = {k: v for k, v in env.items() if not k.startswith("JOMRESKIT_")}  # a new terminal
    demo = subprocess.Popen([JOMRESKIT, "demo", "--port", "0"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    follower = None
    try:
        told = _read_until(demo, r"^  \S*jomreskit responder --follow$")
        exports = re.search(r"^  (export .*)$", told, re.M)[1]
        follow = told.split("Follow the event feed", 1)[1].splitlines()[-2:]
        fire = re.search(r"^  (\S*jomreskit events fire booking_cancelled .*)$", told, re.M)[1]

        follower = subprocess.Popen(["bash", "-c", "\n".join(line.strip() for line in follow)],
                                    env=shell, text=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        _read_until(follower, "following the event feed")
        fired = subprocess.run(["bash", "-e", "-c", f"{exports}\n{fire}"], env=shell,
                               capture_output=True, text=True, timeout=60)
        assert fired.returncode == 0, fired.stderr

        read = _read_until(follower, "read booking_cancelled from the feed", timeout=30)
        assert "FAILED" not in read, read
    finally:
        if follower is not None:
            os.killpg(follower.pid, signal.SIGTERM)
            follower.communicate(timeout=30)
        demo.send_signal(signal.SIGTERM)
        demo.communicate(timeout=30)
