"""A remote service written for Jomres works against jomreskit with only its configuration
changed (DESIGN 4a).

The test plays such a service with nothing of jomreskit's own client code: a plain Flask
endpoint receives the notifications; then, as the Jomres case study's PHP did, it reads
``data.task`` and the ids from the body, POSTs a form-encoded client-credentials request with
``client_id`` and ``client_secret`` to the API root, and GETs
``webhooks/<property_uid>/<task>/<id>`` under the API root with the bearer token.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from flask import Flask, request

# The id field a Jomres responder reads for each kind of task (property tasks have none).
ID_FIELDS = ("contract_uid", "invoice_uid", "guest_uid", "room_uid", "review_uid")


class JomresStyleService:
    """The remote side: it stores what it receives and answers 200, as Jomres expected."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        app = Flask("jomres-style-service")

        @app.post("/jomres-webhook")
        def receive():
            self.received.append({"body": json.loads(request.get_data()),
                                  "authorization": request.headers.get("Authorization")})
            return "", 200

        self.app = app

    # What the service's PHP does once a notification is in: token, then the callback.
    def token(self, api_root: str, client_id: str, client_secret: str) -> str:
        answer = requests.post(api_root, data={"grant_type": "client_credentials",
                                               "client_id": client_id,
                                               "client_secret": client_secret}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["token_type"].lower() == "bearer"
        return answer.json()["access_token"]

    def call_back(self, api_root: str, token: str, notification: dict) -> requests.Response:
        data = notification["data"]
        path = f"webhooks/{data['property_uid']}/{data['task']}"
        ids = [data[f] for f in ID_FIELDS if f in data]
        if ids:
            path += f"/{ids[0]}"
        return requests.get(api_root + path, headers={"Authorization": f"Bearer {token}"},
                            timeout=10)


@pytest.fixture
def jomres_setup(site, serve_app):
    """The site served on loopback, the manager's API key, and the Jomres-style service."""
    site_url = serve_app(site.app)
    site.kit.settings["JOMRESKIT_BASE_URL"] = site_url
    service = JomresStyleService()
    service.url = serve_app(service.app) + "/jomres-webhook"
    key = json.loads(site.cli("keys", "create", "--manager", "manager",
                              "--scope", "webhooks_get", "--json").output)
    yield site, site_url + "/api/", key, service
    site.kit.session.remove()
    site.kit.engine.dispose()


def fire_and_deliver(site, event: str, **ids: int) -> None:
    fired = site.cli("events", "fire", event, *(f"{k}={v}" for k, v in ids.items()))
    assert fired.exit_code == 0, fired.output
    drained = site.cli("worker", "--drain")
    assert drained.exit_code == 0, drained.output


def notify(jomres_setup, authmethod: str, settings: list[str], *events) -> dict[str, dict]:
    """Create a webhook to the service, fire ``events`` ((name, ids) pairs) and deliver them;
    returns what the service received, by event name."""
    site, _, _, service = jomres_setup
    made = site.cli("webhooks", "create", "--manager", "manager", "--url", service.url,
                    "--authmethod", authmethod, *settings, "--json")
    assert made.exit_code == 0, made.output
    for event, ids in events:
        fire_and_deliver(site, event, **ids)
    received = {r["body"]["type"]: r for r in service.received}
    assert set(received) == {event for event, _ in events}
    return received


# One event of each kind a Jomres service handles, with the id field it reads.
EVENTS = [
    ("booking_modified", {"property_uid": 1, "contract_uid": 41}),
    ("invoice_updated", {"property_uid": 1, "invoice_uid": 1}),
    ("guest_updated", {"property_uid": 1, "guest_uid": 1}),
    ("room_updated", {"property_uid": 1, "room_uid": 2}),
    ("review_published", {"property_uid": 1, "review_uid": 1}),
    ("property_updated", {"property_uid": 1}),
]


@pytest.mark.parametrize("authmethod, settings, authorization", [
    ("none", [], None),  # no credentials at all, as Jomres sent them
    ("basic", ["--setting", "username=jomres", "--setting", "password=open sesame"],
     "Basic " + base64.b64encode(b"jomres:open sesame").decode()),
])
def test_a_jomres_service_reads_each_kind_of_record_back(jomres_setup, authmethod, settings,
                                                         authorization):
    _, api_root, key, service = jomres_setup

    received = notify(jomres_setup, authmethod, settings, *EVENTS)

    token = service.token(api_root, key["client_id"], key["client_secret"])
    for event, ids in EVENTS:
        notification = received[event]
        assert notification["authorization"] == authorization
        assert notification["body"]["data"] == {**ids, "manager_id": 1, "task": event}
        answer = service.call_back(api_root, token, notification["body"])
        assert answer.status_code == 200, (event, answer.text)
        record = answer.json()["data"]
        assert {k: record[k] for k in ids} == ids, event


def test_ids_that_do_not_exist_get_a_clear_json_404(jomres_setup):
    _, api_root, key, service = jomres_setup
    missing = [
        ("booking_modified", {"property_uid": 1, "contract_uid": 99999999}),
        ("invoice_cancelled", {"property_uid": 1, "invoice_uid": 99999999}),
        ("guest_updated", {"property_uid": 1, "guest_uid": 99999999}),
        ("room_updated", {"property_uid": 1, "room_uid": 99999}),
        ("review_published", {"property_uid": 1, "review_uid": 99999}),
    ]

    received = notify(jomres_setup, "none", [], *missing)

    token = service.token(api_root, key["client_id"], key["client_secret"])
    for event, _ in missing:
        answer = service.call_back(api_root, token, received[event]["body"])
        assert answer.status_code == 404, event
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.json()["error"]["code"] and answer.json()["error"]["message"]


def test_records_that_no_longer_exist_are_answered_as_deleted(jomres_setup):
    """As with Jomres' fake calls for deleted guests, rooms and reviews: the callback says
    what was deleted and when, in JSON."""
    _, api_root, key, service = jomres_setup
    deleted = [
        ("guest_deleted", {"property_uid": 1, "guest_uid": 99999999}),
        ("room_deleted", {"property_uid": 1, "room_uid": 99999}),
        ("review_deleted", {"property_uid": 1, "review_uid": 99999}),
    ]

    received = notify(jomres_setup, "none", [], *deleted)

    token = service.token(api_root, key["client_id"], key["client_secret"])
    for event, ids in deleted:
        answer = service.call_back(api_root, token, received[event]["body"])
        assert answer.status_code == 200, event
        assert answer.json()["data"] == {**ids, "deleted": True,
                                         "deleted_at": answer.json()["data"]["deleted_at"]}


def test_a_wrong_secret_at_the_api_root_is_refused_in_json(jomres_setup):
    site, api_root, key, service = jomres_setup

    answer = requests.post(api_root, data={"grant_type": "client_credentials",
                                           "client_id": key["client_id"],
                                           "client_secret": "not the secret"}, timeout=10)

    assert answer.status_code in (400, 401)
    assert answer.headers["Content-Type"].startswith("application/json")
