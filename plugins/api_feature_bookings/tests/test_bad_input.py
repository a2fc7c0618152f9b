"""Bad input answers 422 naming the member to fix, never a 500, and writes nothing."""

from __future__ import annotations

import pytest
from jomreskit_api_core.testing import day

BOOKING = {"arrival": day(60), "departure": day(63), "room_uids": [2],
           "guest": {"firstname": "Polly", "surname": "Sherman"}}

CASES = [
    ({"room_uids": [4]}, "room_uids"),  # Best West's room
    ({"room_uids": [999]}, "room_uids"),
    ({"room_uids": []}, "room_uids"),
    ({"room_uids": ["2"]}, "room_uids"),
    ({"departure": day(59)}, "departure"),
    ({"departure": day(60)}, "departure"),
    ({"departure": day(60 + 400)}, "departure"),
    ({"arrival": day(-1), "departure": day(2)}, "arrival"),
    ({"arrival": "2030-02-30"}, "arrival"),
    ({"arrival": 20300101}, "arrival"),
    ({"adults": 3}, "adults"),  # room 2 takes two
    ({"adults": 0}, "adults"),
    ({"children": -1}, "children"),
    ({"adults": True}, "adults"),
    ({"contract_total": "1.234"}, "contract_total"),
    ({"contract_total": "-5"}, "contract_total"),
    ({"contract_total": "NaN"}, "contract_total"),
    ({"contract_total": "1e40"}, "contract_total"),
    ({"currency": "pounds"}, "currency"),
    ({"status": "cancelled"}, "status"),
    ({"guest": "Polly"}, "guest"),
    ({"guest": {"nickname": "P"}}, "guest.nickname"),
    ({"guest": {"country": "GBR"}}, "guest.country"),
    ({"guest": None, "guest_uid": 2}, "guest_uid"),  # Best West's guest
    ({"guest_uid": 1}, "guest"),  # both a new guest and an existing one
    ({"rooms": [2]}, "rooms"),
    ({"special_requests": "\x00"}, "special_requests"),
]


@pytest.mark.parametrize(("change", "member"), CASES,
                         ids=[f"{m}-{n}" for n, (_, m) in enumerate(CASES)])
def test_a_booking_with_a_bad_member_is_refused_naming_it(remote, change, member):
    body = {k: v for k, v in {**BOOKING, **change}.items() if v is not None}

    response = remote.call("POST", "/bookings/1", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == f"invalid_{member}"
    assert response.json()["error"]["field"] == member


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe", b"null"])
def test_a_body_that_is_not_a_json_object_is_refused(remote, raw):
    response = remote.call("POST", "/bookings/1", data=raw,
                           headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_json"


def test_a_modify_with_a_bad_member_is_refused_and_changes_nothing(remote):
    before = remote.ok("GET", "/bookings/1/41")

    for change, member in [({"departure": before["arrival"]}, "departure"),
                           ({"room_uids": [5]}, "room_uids"), ({"adults": 9}, "adults"),
                           ({}, "json"), ({"guest_uid": 1}, "guest_uid")]:
        response = remote.call("PATCH", "/bookings/1/41", json=change)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["error"]["code"] == f"invalid_{member}"
        assert response.json()["error"].get("field") == (None if member == "json" else member)

    assert remote.ok("GET", "/bookings/1/41") == before


def test_the_last_night_a_date_can_name_is_booked_without_overflowing(remote):
    last = {**BOOKING, "arrival": "9999-12-30", "departure": "9999-12-31"}

    assert remote.call("POST", "/bookings/1", json=last).status_code == 201
    assert remote.refused("POST", "/bookings/1", json={**last, "departure": "10000-01-01"}) == (
        422, "invalid_departure")
