"""Retries are safe (Idempotency-Key) and lost updates are refused (ETag and If-Match)."""

from __future__ import annotations

from jomreskit_api_core.testing import day
from sqlalchemy import select

from jomreskit.domain import EventRecord

BOOKING = {"arrival": day(70), "departure": day(72), "room_uids": [2],
           "guest": {"surname": "Retry"}}


def booking_added(remote) -> list[int]:
    with remote.site.app.app_context():
        ids = remote.site.kit.session().scalars(select(EventRecord.ids).where(
            EventRecord.name == "booking_added")).all()
        remote.site.kit.session.remove()
    return [i["contract_uid"] for i in ids if i["contract_uid"] > 42]  # the demo's are 41, 42


def test_a_create_retried_with_its_idempotency_key_books_once_and_answers_the_same(remote):
    key = {"Idempotency-Key": "cm-order-1001"}

    first = remote.call("POST", "/bookings/1", json=BOOKING, headers=key)
    retried = remote.call("POST", "/bookings/1", json=BOOKING, headers=key)

    assert (first.status_code, retried.status_code) == (201, 201)
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    assert retried.headers["Location"] == first.headers["Location"]
    assert booking_added(remote) == [first.json()["data"]["contract_uid"]]

    reused = remote.call("POST", "/bookings/1", json={**BOOKING, "room_uids": [3]}, headers=key)

    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    # Without a key the same body is a second booking, refused: the nights are taken.
    assert remote.refused("POST", "/bookings/1", json=BOOKING) == (409, "room_unavailable")


def test_a_modify_with_a_stale_etag_is_refused(remote):
    read = remote.call("GET", "/bookings/1/41")
    etag = read.headers["ETag"]

    changed = remote.call("PATCH", "/bookings/1/41", json={"adults": 1},
                          headers={"If-Match": etag})

    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] != etag
    assert remote.call("GET", "/bookings/1/41").headers["ETag"] == changed.headers["ETag"]
    stale = remote.call("PATCH", "/bookings/1/41", json={"adults": 2},
                        headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    assert remote.ok("GET", "/bookings/1/41")["adults"] == 1
    assert remote.call("POST", "/bookings/1/41/cancel", headers={"If-Match": etag}
                       ).status_code == 412
    assert remote.call("PATCH", "/bookings/1/41", json={"adults": 2}).status_code == 200
