"""Closing and opening nights through the API, the calendar that shows them, and their events."""

from __future__ import annotations

from jomreskit_api_core.testing import day
from sqlalchemy import select

from jomreskit.domain import EventRecord


def newest_id(remote) -> int:
    with remote.site.app.app_context():
        found = remote.site.kit.session().scalar(select(EventRecord.id).order_by(
            EventRecord.id.desc()).limit(1)) or 0
        remote.site.kit.session.remove()
    return found


def events_since(remote, first_id: int) -> list[tuple[str, dict]]:
    with remote.site.app.app_context():
        rows = remote.site.kit.session().scalars(
            select(EventRecord).where(EventRecord.id > first_id).order_by(EventRecord.id)).all()
        remote.site.kit.session.remove()
    return [(row.name, row.ids) for row in rows]


def statuses(remote, room_uid: int, arrival: str, departure: str) -> list[str]:
    calendar = remote.ok("GET", "/availability/1",
                         params={"arrival": arrival, "departure": departure})
    room = next(r for r in calendar["rooms"] if r["room_uid"] == room_uid)
    return [night["status"] for night in room["nights"]]


def nights(room_uids, first: int, last_plus_one: int) -> dict:
    return {"room_uids": room_uids, "arrival": day(first), "departure": day(last_plus_one)}


def test_the_calendar_shows_free_booked_and_closed_nights(remote):
    # Contract 41 holds room 1 from day 14 for three nights.
    calendar = remote.ok("GET", "/availability/1", params={"arrival": day(13),
                                                            "departure": day(18)})

    assert [r["room_uid"] for r in calendar["rooms"]] == [1, 2, 3]
    room_1 = calendar["rooms"][0]["nights"]
    assert [n["status"] for n in room_1] == ["free", "booked", "booked", "booked", "free"]
    assert room_1[1] == {"date": day(14), "status": "booked", "contract_uid": 41}
    assert statuses(remote, 2, day(13), day(18)) == ["free"] * 5


def test_closing_nights_makes_a_black_booking_and_fires_blackbooking_created(remote):
    before = newest_id(remote)

    closed = remote.ok("POST", "/availability/1/close", json=nights([2, 3], 40, 70))

    [black] = closed["blackbookings"]
    assert black["room_uids"] == [2, 3] and black["arrival"] == day(40)
    assert black["departure"] == day(70)
    assert events_since(remote, before) == [
        ("blackbooking_created", {"property_uid": 1, "contract_uid": black["contract_uid"]})]
    assert statuses(remote, 2, day(39), day(71)) == ["free"] + ["closed"] * 30 + ["free"]
    # Closed nights are not for sale; closing them again changes nothing and fires nothing.
    again = remote.ok("POST", "/availability/1/close", json=nights([2], 45, 50))
    assert again["blackbookings"] == []
    assert len(events_since(remote, before)) == 1


def test_closing_around_closed_nights_closes_only_the_rest(remote):
    remote.ok("POST", "/availability/1/close", json=nights([2], 44, 46))

    closed = remote.ok("POST", "/availability/1/close", json=nights([2], 40, 50))

    assert [(b["arrival"], b["departure"]) for b in closed["blackbookings"]] == [
        (day(40), day(44)), (day(46), day(50))]
    assert statuses(remote, 2, day(40), day(50)) == ["closed"] * 10


def test_a_night_sold_to_a_guest_is_not_closed_and_nothing_else_is(remote):
    before = newest_id(remote)

    refused = remote.refused("POST", "/availability/1/close", json=nights([1, 2], 10, 20))

    assert refused == (409, "room_unavailable")  # room 1 is contract 41's from day 14
    assert events_since(remote, before) == []
    assert statuses(remote, 2, day(10), day(20)) == ["free"] * 10


def test_opening_nights_cuts_the_black_booking_back_and_fires_what_changed(remote):
    closed = remote.ok("POST", "/availability/1/close", json=nights([2], 40, 50))
    contract_uid = closed["blackbookings"][0]["contract_uid"]
    before = newest_id(remote)

    opened = remote.ok("POST", "/availability/1/open", json=nights([2], 44, 46))

    kept, split = opened["blackbookings"]
    assert (kept["contract_uid"], kept["arrival"], kept["departure"]) == (
        contract_uid, day(40), day(44))
    assert (split["arrival"], split["departure"]) == (day(46), day(50))
    assert events_since(remote, before) == [
        ("booking_modified", {"property_uid": 1, "contract_uid": contract_uid}),
        ("blackbooking_created", {"property_uid": 1, "contract_uid": split["contract_uid"]})]
    assert statuses(remote, 2, day(40), day(50)) == (["closed"] * 4 + ["free"] * 2
                                                     + ["closed"] * 4)

    before = newest_id(remote)
    remote.ok("POST", "/availability/1/open", json=nights([2], 30, 60))

    assert events_since(remote, before) == [
        ("booking_cancelled", {"property_uid": 1, "contract_uid": contract_uid}),
        ("booking_cancelled", {"property_uid": 1, "contract_uid": split["contract_uid"]})]
    assert statuses(remote, 2, day(40), day(50)) == ["free"] * 10


def test_opening_leaves_bookings_of_guests_alone(remote):
    opened = remote.ok("POST", "/availability/1/open", json=nights([1], 10, 20))

    assert opened["blackbookings"] == []
    assert statuses(remote, 1, day(14), day(17)) == ["booked"] * 3


def test_other_managers_other_properties_and_bad_input(remote):
    body = nights([2], 40, 42)
    assert remote.refused("POST", "/availability/1/close", manager="manager2", json=body) == (
        403, "forbidden_property")
    assert remote.refused("GET", "/availability/1", manager="manager2",
                          params={"arrival": day(1), "departure": day(2)}) == (
        403, "forbidden_property")
    assert remote.refused("POST", "/availability/77/close", manager="super", json=body) == (
        404, "invalid_property_uid")
    for change, member in [({"room_uids": [4]}, "room_uids"),  # Best West's room
                           ({"room_uids": [99]}, "room_uids"),
                           ({"departure": day(40)}, "departure"),
                           ({"departure": day(500)}, "departure"),
                           ({"arrival": day(-3)}, "arrival"),
                           ({"arrival": "tomorrow"}, "arrival"),
                           ({"until": day(45)}, "until")]:
        assert remote.refused("POST", "/availability/1/close", json={**body, **change}) == (
            422, f"invalid_{member}"), change
    assert remote.refused("POST", "/availability/1/open", data=b"{",
                          headers={"Content-Type": "application/json"}) == (422, "invalid_json")
    assert remote.refused("GET", "/availability/1", params={"arrival": day(5),
                                                             "departure": day(2)}) == (
        422, "invalid_departure")


def test_opening_one_room_of_a_black_booking_of_two_keeps_the_other_closed(remote):
    closed = remote.ok("POST", "/availability/1/close", json=nights([2, 3], 40, 50))
    [black] = closed["blackbookings"]

    opened = remote.ok("POST", "/availability/1/open", json=nights([3], 44, 46))

    assert black["contract_uid"] in [b["contract_uid"] for b in opened["blackbookings"]]
    held = sorted((b["arrival"], b["departure"], b["room_uids"]) for b in opened["blackbookings"])
    assert held == [(day(40), day(44), [3]), (day(40), day(50), [2]), (day(46), day(50), [3])]
    assert statuses(remote, 2, day(40), day(50)) == ["closed"] * 10
    assert statuses(remote, 3, day(40), day(50)) == ["closed"] * 4 + ["free"] * 2 + [
        "closed"] * 4


def test_the_last_night_a_date_can_name_is_closed_opened_and_shown(remote):
    last = {"room_uids": [2], "arrival": "9999-12-30", "departure": "9999-12-31"}

    assert remote.call("POST", "/availability/1/close", json=last).status_code == 200
    assert statuses(remote, 2, "9999-12-30", "9999-12-31") == ["closed"]
    assert remote.call("POST", "/availability/1/open", json=last).status_code == 200
    assert statuses(remote, 2, "9999-12-30", "9999-12-31") == ["free"]


def test_a_missing_or_bad_date_of_the_calendar_names_its_parameter(remote):
    for params, member in (({"departure": day(3)}, "arrival"), ({"arrival": day(1)}, "departure"),
                           ({"arrival": "soon", "departure": day(3)}, "arrival")):
        answer = remote.call("GET", "/availability/1", params=params)
        error = answer.json()["error"]
        assert (answer.status_code, error["code"], error["field"]) == (
            422, f"invalid_{member}", member), params
