"""Creating, reading, modifying and cancelling bookings through the API, and what each fires."""

from __future__ import annotations

from jomreskit_api_core.testing import day
from sqlalchemy import select

from jomreskit.domain import EventRecord


def events_since(remote, first_id: int) -> list[tuple[str, dict]]:
    with remote.site.app.app_context():
        rows = remote.site.kit.session().scalars(
            select(EventRecord).where(EventRecord.id > first_id).order_by(EventRecord.id)).all()
        remote.site.kit.session.remove()
    return [(row.name, row.ids) for row in rows]


def last_event_id(remote) -> int:
    events = events_since(remote, 0)
    return len(events) and max(0, len(events))


def newest_id(remote) -> int:
    with remote.site.app.app_context():
        found = remote.site.kit.session().scalar(select(EventRecord.id).order_by(
            EventRecord.id.desc()).limit(1)) or 0
        remote.site.kit.session.remove()
    return found


BOOKING = {"arrival": day(60), "departure": day(63), "room_uids": [2], "adults": 2,
           "guest": {"firstname": "Basil", "surname": "Fawlty", "email": "basil@example.com"},
           "contract_total": "195.00", "currency": "GBP"}


def test_a_booking_made_through_the_api_is_there_and_fires_as_on_the_site(remote):
    before = newest_id(remote)

    made = remote.ok("POST", "/bookings/1", json=BOOKING)

    assert made["arrival"] == day(60) and made["departure"] == day(63) and made["nights"] == 3
    assert made["room_uids"] == [2] and made["status"] == "confirmed"
    assert made["guest"]["surname"] == "Fawlty" and made["contract_total"] == "195.00"
    assert remote.ok("GET", f"/bookings/1/{made['contract_uid']}") == made
    guest_uid, contract_uid = made["guest"]["guest_uid"], made["contract_uid"]
    assert events_since(remote, before) == [
        ("guest_saved", {"property_uid": 1, "guest_uid": guest_uid}),
        ("booking_added", {"property_uid": 1, "contract_uid": contract_uid}),
    ]


def test_modify_changes_dates_rooms_and_guest_and_fires_booking_modified(remote):
    made = remote.ok("POST", "/bookings/1", json=BOOKING)
    path = f"/bookings/1/{made['contract_uid']}"
    before = newest_id(remote)

    changed = remote.ok("PATCH", path, json={"departure": day(65), "room_uids": [3],
                                             "guest": {"telephone": "+44 1803 555"}})

    assert changed["departure"] == day(65) and changed["room_uids"] == [3]
    assert changed["guest"]["telephone"] == "+44 1803 555"
    assert changed["guest"]["surname"] == "Fawlty"
    assert [name for name, _ in events_since(remote, before)] == ["guest_updated",
                                                                  "booking_modified"]
    # Room 2 is free again on those nights; room 3 is not.
    assert remote.call("POST", "/bookings/1", json={**BOOKING, "room_uids": [2]}
                       ).status_code == 201
    assert remote.refused("POST", "/bookings/1", json={**BOOKING, "room_uids": [3]}) == (
        409, "room_unavailable")


def test_cancel_frees_the_nights_and_fires_booking_cancelled(remote):
    made = remote.ok("POST", "/bookings/1", json=BOOKING)
    before = newest_id(remote)

    cancelled = remote.ok("POST", f"/bookings/1/{made['contract_uid']}/cancel")

    assert cancelled["status"] == "cancelled" and cancelled["room_uids"] == []
    assert events_since(remote, before) == [
        ("booking_cancelled", {"property_uid": 1, "contract_uid": made["contract_uid"]})]
    assert remote.refused("POST", f"/bookings/1/{made['contract_uid']}/cancel") == (
        409, "already_cancelled")
    assert remote.refused("PATCH", f"/bookings/1/{made['contract_uid']}",
                          json={"adults": 1}) == (409, "booking_cancelled")
    assert remote.call("POST", "/bookings/1", json=BOOKING).status_code == 201


def test_the_same_nights_of_a_room_are_not_sold_twice(remote):
    remote.ok("POST", "/bookings/1", json=BOOKING)
    before = newest_id(remote)

    overlapping = {**BOOKING, "arrival": day(62), "departure": day(64)}

    assert remote.refused("POST", "/bookings/1", json=overlapping) == (409, "room_unavailable")
    assert events_since(remote, before) == []  # nothing written, nothing fired


def test_other_managers_and_other_properties(remote):
    contract_41 = "/bookings/1/41"

    assert remote.refused("GET", contract_41, manager="manager2") == (403, "forbidden_property")
    assert remote.refused("POST", "/bookings/1", manager="manager2", json=BOOKING) == (
        403, "forbidden_property")
    assert remote.refused("PATCH", contract_41, manager="manager2", json={"adults": 1}) == (
        403, "forbidden_property")
    # Contract 42 is Best West's: asked for under Fawlty Towers it is not there.
    assert remote.refused("GET", "/bookings/1/42") == (404, "invalid_contract_uid")
    assert remote.refused("PATCH", "/bookings/1/42", json={"adults": 1}) == (
        404, "invalid_contract_uid")
    assert remote.refused("POST", "/bookings/1/42/cancel") == (404, "invalid_contract_uid")
    assert remote.refused("GET", "/bookings/1/999999") == (404, "invalid_contract_uid")
    assert remote.refused("GET", "/bookings/77/1", manager="super") == (
        404, "invalid_contract_uid")
    assert remote.refused("POST", "/bookings/77", manager="super", json=BOOKING) == (
        404, "invalid_property_uid")


def test_a_booking_number_another_booking_of_the_property_has_is_refused(remote):
    first = remote.ok("POST", "/bookings/1", json={**BOOKING, "booking_number": "CM-1001"})
    before = newest_id(remote)

    again = remote.call("POST", "/bookings/1", json={
        **BOOKING, "arrival": day(70), "departure": day(71), "booking_number": "CM-1001"})
    demo = remote.call("POST", "/bookings/1", json={
        **BOOKING, "arrival": day(72), "departure": day(73),
        "booking_number": remote.ok("GET", "/bookings/1/41")["booking_number"]})

    for answer in (again, demo):
        assert answer.status_code == 409, answer.text
        error = answer.json()["error"]
        assert (error["code"], error["field"]) == ("booking_number_taken", "booking_number")
    assert events_since(remote, before) == []  # nothing booked, no guest saved
    # Another property may use the same number.
    other = remote.ok("POST", "/bookings/2", json={**BOOKING, "room_uids": [5],
                                                   "booking_number": "CM-1001"})
    assert other["booking_number"] == first["booking_number"] == "CM-1001"
