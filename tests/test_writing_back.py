"""Writing back, end to end: a channel manager writes through the API; another service
subscribed to the manager's webhooks is notified, calls back, and sees the change. The
notification of a write names the writing key (``data.origin.client_id``), so the channel
manager can ignore its own echo; a write that fails sends nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import requests
from flask import Flask, request
from jomreskit_api_core.testing import create_key, issue_token

ARRIVAL, DEPARTURE = date.today() + timedelta(40), date.today() + timedelta(43)


@pytest.fixture
def served(make_api_site, serve_app):
    """The demo site served on loopback, a receiving service, and the manager's webhook to it."""
    site = make_api_site()
    base = serve_app(site.app)
    site.app.config["JOMRESKIT_BASE_URL"] = base
    received: list[dict] = []
    receiver = Flask("receiver")

    @receiver.post("/hook")
    def hook():
        received.append(json.loads(request.get_data()))
        return "", 204

    hook_url = serve_app(receiver) + "/hook"
    result = site.cli("webhooks", "create", "--manager", "manager", "--url", hook_url, "--json")
    assert result.exit_code == 0, result.output
    return site, base + "/api", received


def notified(site, received) -> list[dict]:
    result = site.cli("worker", "--drain", "--json")
    assert result.exit_code == 0, result.output
    return received


def key_and_token(site, *scopes) -> tuple[str, dict[str, str]]:
    client_id, secret = create_key(site, "manager", scopes)
    return client_id, {"Authorization": f"Bearer {issue_token(site, client_id, secret)}"}


def test_nights_closed_through_the_api_reach_another_service_whose_callback_shows_them(
        served):
    site, api, received = served
    channel_manager, writes = key_and_token(site, "availability_write")
    _other_service, reads = key_and_token(site, "webhooks_get")

    closed = requests.post(f"{api}/availability/1/close", headers=writes, timeout=10, json={
        "room_uids": [2], "arrival": ARRIVAL.isoformat(), "departure": DEPARTURE.isoformat()})
    assert closed.status_code == 200, closed.text

    [notification] = notified(site, received)
    assert notification["type"] == "blackbooking_created"
    assert notification["data"]["origin"] == {"client_id": channel_manager}
    record = requests.get(notification["callback_url"], headers=reads, timeout=10).json()["data"]
    assert record["blackbooking"] is True
    [room] = record["rooms"]
    assert room["room_uid"] == 2
    assert room["nights"] == [(ARRIVAL + timedelta(n)).isoformat() for n in range(3)]


def test_a_booking_made_through_the_api_is_notified_with_the_writing_keys_client_id(served):
    site, api, received = served
    channel_manager, writes = key_and_token(site, "bookings_write")
    _other_service, reads = key_and_token(site, "webhooks_get")

    made = requests.post(f"{api}/bookings/1", headers=writes, timeout=10, json={
        "room_uids": [3], "arrival": ARRIVAL.isoformat(), "departure": DEPARTURE.isoformat(),
        "adults": 3, "guest": {"firstname": "Sybil", "surname": "Fawlty"}})
    assert made.status_code == 201, made.text
    site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")

    by_type = {n["type"]: n for n in notified(site, received)}
    assert set(by_type) == {"guest_saved", "booking_added", "booking_modified"}
    added = by_type["booking_added"]
    assert added["data"]["origin"] == {"client_id": channel_manager}
    assert by_type["guest_saved"]["data"]["origin"] == {"client_id": channel_manager}
    assert "origin" not in by_type["booking_modified"]["data"]  # a change made on the site
    record = requests.get(added["callback_url"], headers=reads, timeout=10).json()["data"]
    assert record["contract_uid"] == made.json()["data"]["contract_uid"]
    assert record["guest"]["surname"] == "Fawlty" and record["adults"] == 3


def test_a_write_that_fails_sends_nothing(served):
    site, api, received = served
    _channel_manager, writes = key_and_token(site, "bookings_write", "availability_write")
    nights = {"room_uids": [1], "arrival": (date.today() + timedelta(13)).isoformat(),
              "departure": (date.today() + timedelta(16)).isoformat()}  # contract 41's room

    booked = requests.post(f"{api}/bookings/1", headers=writes, timeout=10,
                           json={**nights, "guest": {"surname": "Too late"}})
    closed = requests.post(f"{api}/availability/1/close", headers=writes, timeout=10,
                           json=nights)

    assert (booked.status_code, closed.status_code) == (409, 409)
    assert notified(site, received) == []  # not even the new guest's guest_saved
