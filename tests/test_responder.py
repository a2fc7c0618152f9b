"""The simulation webhook responder, on its own: notifications signed with the official
`standardwebhooks` package, and a stand-in for the site's API (a real loopback server) that
issues client-credentials tokens and answers the callback."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask, jsonify, request
from standardwebhooks import Webhook

from jomreskit.responder import ResponderConfig, StepLog, make_app

SIGNING_SECRET = "whsec_" + base64.b64encode(b"the webhook's signing secret!").decode()
BOOKING = {"contract_uid": 41, "property_uid": 1, "guest": {"surname": "Richards"}}


class StandInAPI:
    """The site's API as the responder sees it: a token endpoint and one callback."""

    def __init__(self) -> None:
        self.token_requests: list[dict] = []
        self.callbacks: list[str] = []
        self.valid_tokens: set[str] = set()
        app = Flask("stand-in-api")

        @app.post("/api/oauth/token")
        def token():
            auth = request.authorization
            self.token_requests.append({"auth": (auth.username, auth.password) if auth else None,
                                        "form": request.form.to_dict()})
            if not auth or (auth.username, auth.password) != ("key-id", "key-secret"):
                return jsonify({"error": "invalid_client"}), 401
            issued = secrets.token_hex(8)
            self.valid_tokens.add(issued)
            return jsonify({"access_token": issued, "token_type": "Bearer", "expires_in": 3600})

        @app.get("/api/webhooks/1/booking_modified/41")
        def callback():
            given = request.headers.get("Authorization", "")
            self.callbacks.append(given)
            if given.removeprefix("Bearer ") not in self.valid_tokens:
                return jsonify({"error": {"code": "invalid_token", "message": "no"}}), 401
            return jsonify({"data": BOOKING, "meta": {}})

        self.app = app


@pytest.fixture
def api(serve_app):
    stand_in = StandInAPI()
    stand_in.url = serve_app(stand_in.app) + "/api"
    return stand_in


@pytest.fixture
def start_responder(serve_app, tmp_path):
    logs: list[StepLog] = []

    def start(api_url: str, **options) -> tuple[str, Path]:
        config = ResponderConfig(api_url=api_url, client_id="key-id", client_secret="key-secret",
                                 signing_secret=SIGNING_SECRET, **options)
        log = StepLog(path=tmp_path / f"responder{len(logs)}.jsonl")
        logs.append(log)
        return serve_app(make_app(config, log)), log.path

    yield start
    for log in logs:
        log.close()


def notification(api_url: str, **data) -> dict:
    data = data or {"property_uid": 1, "contract_uid": 41}
    return {"type": "booking_modified", "timestamp": datetime.now(UTC).isoformat(),
            "data": {**data, "manager_id": 1, "task": "booking_modified"},
            "callback_url": f"{api_url}/webhooks/1/booking_modified/41"}


def send(url: str, body: dict | bytes, secret: str = SIGNING_SECRET,
         sent_ago: timedelta = timedelta(0), tamper: bool = False, **headers) -> requests.Response:
    """POST a notification signed as the Standard Webhooks reference library signs it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    webhook_id = "msg_" + secrets.token_hex(8)
    sent_at = datetime.now(UTC) - sent_ago
    signature = Webhook(secret).sign(webhook_id, sent_at, raw.decode())
    if tamper:
        raw = raw.replace(b'"contract_uid": 41', b'"contract_uid": 42')
    signed = {"webhook-id": webhook_id, "webhook-timestamp": str(int(sent_at.timestamp())),
              "webhook-signature": signature, "Content-Type": "application/json"}
    signed.update(headers)
    return requests.post(url + "/", data=raw, headers={k: v for k, v in signed.items() if v},
                         timeout=10)


def steps(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_signed_notification_is_verified_and_the_record_fetched_with_a_token(
        api, start_responder):
    url, log = start_responder(api.url)

    answer = send(url, notification(api.url))

    assert answer.status_code == 200
    assert [(s["step"], s["ok"]) for s in steps(log)] == [
        ("received", True), ("signature", True), ("token", True), ("callback", True)]
    received, _, token, callback = steps(log)
    assert received["body"]["data"]["task"] == "booking_modified"
    assert "took a new token" in token["message"]
    assert callback["status"] == 200
    assert callback["answer"]["data"] == BOOKING
    assert api.token_requests[0]["form"] == {"grant_type": "client_credentials"}
    assert api.callbacks[0].startswith("Bearer ")


def test_the_token_is_cached_until_it_expires(api, start_responder):
    url, log = start_responder(api.url)

    for _ in range(3):
        assert send(url, notification(api.url)).status_code == 200

    assert len(api.token_requests) == 1
    tokens = [s["message"] for s in steps(log) if s["step"] == "token"]
    assert tokens[1:] == ["reused the cached token", "reused the cached token"]


def test_a_token_the_api_refuses_is_replaced_once(api, start_responder):
    url, log = start_responder(api.url)
    send(url, notification(api.url))
    api.valid_tokens.clear()  # the site revoked it

    assert send(url, notification(api.url)).status_code == 200

    assert len(api.token_requests) == 2
    assert steps(log)[-1]["status"] == 200


@pytest.mark.parametrize("how, reason", [
    ({"tamper": True}, "no v1 signature matches"),
    ({"secret": "whsec_" + base64.b64encode(b"somebody else's secret").decode()},
     "no v1 signature matches"),
    ({"sent_ago": timedelta(minutes=10)}, "away from now"),  # stale, or replayed
    ({"sent_ago": -timedelta(minutes=10)}, "away from now"),  # from the future
    ({"webhook-signature": ""}, "missing header webhook-signature"),
])
def test_a_bad_signature_is_rejected_with_401_and_nothing_is_fetched(
        api, start_responder, how, reason):
    url, log = start_responder(api.url)

    answer = send(url, notification(api.url), **how)

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_signature"
    assert reason in answer.json()["error"]["message"]
    last = steps(log)[-1]
    assert (last["step"], last["ok"]) == ("signature", False)
    assert api.token_requests == [] and api.callbacks == []


def test_basic_credentials_are_required_when_configured(api, start_responder):
    url, log = start_responder(api.url, username="site", password="s3cret")
    basic = "Basic " + base64.b64encode(b"site:s3cret").decode()
    wrong = "Basic " + base64.b64encode(b"site:guess").decode()

    assert send(url, notification(api.url)).status_code == 401
    assert send(url, notification(api.url), Authorization=wrong).status_code == 401
    assert send(url, notification(api.url), Authorization=basic).status_code == 200
    assert [s["ok"] for s in steps(log) if s["step"] == "credentials"] == [False, False, True]
    assert len(api.callbacks) == 1


def test_the_site_can_take_a_bearer_token_from_the_responder(api, start_responder):
    """What the `oauth` auth method does: client credentials in, bearer token out."""
    url, _ = start_responder(api.url, username="site", password="s3cret")
    refused = requests.post(url + "/oauth/token", data={"grant_type": "client_credentials"},
                            auth=("site", "nope"), timeout=10)
    issued = requests.post(url + "/oauth/token", data={"grant_type": "client_credentials",
                                                       "client_id": "site",
                                                       "client_secret": "s3cret"}, timeout=10)

    assert refused.status_code == 401
    assert issued.status_code == 200 and issued.json()["token_type"] == "Bearer"
    bearer = "Bearer " + issued.json()["access_token"]
    assert send(url, notification(api.url), Authorization=bearer).status_code == 200
    assert send(url, notification(api.url), Authorization="Bearer forged").status_code == 401


def test_the_token_is_never_sent_outside_the_api(api, start_responder):
    url, log = start_responder(api.url)
    body = notification(api.url)
    body["callback_url"] = "http://127.0.0.2:9/steal"

    assert send(url, body).status_code == 200

    assert api.token_requests == []
    assert "not under" in steps(log)[-1]["message"]


def test_steps_go_to_syslog_as_rfc5424(api, tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    log = StepLog(syslog=("127.0.0.1", listener.getsockname()[1]))
    try:
        log.step("signature", True, "signature verified", webhook_id="msg_1")
        datagram = listener.recv(65536).decode()
    finally:
        log.close()
        listener.close()

    header = re.match(r"<(\d+)>1 (\S+) (\S+) jomreskit-responder (\d+) signature - (.*)$",
                      datagram)
    assert header, datagram
    assert int(header[1]) == 8 * 1 + 6  # facility user, severity informational
    assert datetime.fromisoformat(header[2].replace("Z", "+00:00")).tzinfo is not None
    assert json.loads(header[5].removeprefix("signature verified "))["webhook_id"] == "msg_1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_jomreskit_responder_command_serves_and_logs_to_console_and_file(api, tmp_path):
    port, log = free_port(), tmp_path / "responder.jsonl"
    env = {**os.environ, "JOMRESKIT_INSTANCE_PATH": str(tmp_path / "instance"),
           "JOMRESKIT_RESPONDER_CLIENT_SECRET": "key-secret"}
    command = [str(Path(sys.executable).parent / "jomreskit"), "responder",
               "--api-url", api.url, "--client-id", "key-id",
               "--signing-secret", SIGNING_SECRET, "--port", str(port), "--log", str(log)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert send(url, notification(api.url)).status_code == 200
        assert send(url, notification(api.url), tamper=True).status_code == 401
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]

    assert f"responder listening on http://127.0.0.1:{port}/" in output
    assert re.search(r"responder callback +ok +GET .*answered 200", output)
    assert re.search(r"responder signature +FAILED +rejected", output)
    assert [s["step"] for s in steps(log)][:4] == ["received", "signature", "token", "callback"]
