"""Stay restrictions: written over ranges with a weekday mask, read back, shown on the calendar,
and enforced on bookings made through the API and through the core's services alike."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from jomreskit_api_core.testing import RemoteService, day
from sqlalchemy import select

from jomreskit import ValidationError
from jomreskit.domain import EventRecord, services

SCOPES = ("availability_get", "restrictions_get", "restrictions_write", "bookings_write")


@pytest.fixture
def channel(make_api_site, serve_app) -> RemoteService:
    site = make_api_site()
    return RemoteService(site, serve_app(site.app) + "/api", SCOPES)


def restrict(channel, first: int, last: int, room_type: str = "Double", **values) -> dict:
    return channel.ok("PUT", "/restrictions/1", json={
        "room_type": room_type, "valid_from": day(first), "valid_to": day(last), **values})


def nights_of(channel, first: int, departure: int, room_type: str = "Double") -> dict:
    data = channel.ok("GET", "/restrictions/1", params={
        "arrival": day(first), "departure": day(departure), "room_type": room_type})
    return {n["date"]: {k: v for k, v in n.items() if k != "date"}
            for t in data["room_types"] for n in t["nights"]}


def book(channel, arrival: int, departure: int, room_uid: int = 1):
    return channel.call("POST", "/bookings/1", json={
        "arrival": day(arrival), "departure": day(departure), "room_uids": [room_uid],
        "guest": {"surname": "Fawlty"}})


def next_weekday(start: int, weekday: int) -> int:
    """The first day offset from ``start`` on that weekday (0 = Monday)."""
    when = date.today() + timedelta(days=start)
    return start + (weekday - when.weekday()) % 7


def test_each_restriction_is_set_on_its_own_over_the_masked_nights(channel):
    friday = next_weekday(10, 4)
    restrict(channel, friday, friday + 13, days=["fri", "sat"], min_stay_arrival=2)
    restrict(channel, friday, friday + 2, closed_to_arrival=True)

    nights = nights_of(channel, friday, friday + 14)

    assert nights == {
        day(friday): {"min_stay_arrival": 2, "closed_to_arrival": True},
        day(friday + 1): {"min_stay_arrival": 2, "closed_to_arrival": True},
        day(friday + 2): {"closed_to_arrival": True},
        day(friday + 7): {"min_stay_arrival": 2},
        day(friday + 8): {"min_stay_arrival": 2},
    }
    restrict(channel, friday, friday + 1, min_stay_arrival=None)
    assert nights_of(channel, friday, friday + 3) == {
        day(friday): {"closed_to_arrival": True}, day(friday + 1): {"closed_to_arrival": True},
        day(friday + 2): {"closed_to_arrival": True}}
    assert nights_of(channel, friday, friday + 14, room_type="Twin") == {}


def test_a_write_fires_one_restrictions_updated_and_the_calendar_shows_them(channel):
    with channel.site.app.app_context():
        before = channel.site.kit.session().scalar(
            select(EventRecord.id).order_by(EventRecord.id.desc()).limit(1))
        channel.site.kit.session.remove()

    restrict(channel, 20, 60, stop_sell=True, max_stay=7)

    with channel.site.app.app_context():
        fired = channel.site.kit.session().scalars(
            select(EventRecord).where(EventRecord.id > before)).all()
        assert [(e.name, e.ids) for e in fired] == [("restrictions_updated", {
            "property_uid": 1, "valid_from": day(20), "valid_to": day(60)})]
        channel.site.kit.session.remove()
    calendar = channel.ok("GET", "/availability/1", params={"arrival": day(20),
                                                            "departure": day(21)})
    shown = {room["room_type"]: room["nights"][0].get("restrictions") for room in
             calendar["rooms"]}
    assert shown == {"Double": {"max_stay": 7, "stop_sell": True}, "Twin": None, "Family": None}


@pytest.mark.parametrize(("restriction", "arrival", "departure", "field", "night"), [
    ({"min_stay_arrival": 3}, 30, 32, "departure", 30),
    ({"max_stay": 2}, 30, 33, "departure", 30),
    ({"closed_to_arrival": True}, 30, 32, "arrival", 30),
    ({"min_stay_through": 3}, 29, 31, "departure", 30),
    ({"stop_sell": True}, 29, 31, "arrival", 30),
    ({"closed_to_departure": True}, 28, 30, "departure", 30),
])
def test_a_booking_that_breaks_a_restriction_is_refused_naming_it_and_the_night(
        channel, restriction, arrival, departure, field, night):
    restrict(channel, 30, 30, **restriction)
    name = next(iter(restriction))

    refused = book(channel, arrival, departure)

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == (name, field)
    assert day(night) in error["message"]
    assert book(channel, arrival, departure, room_uid=2).status_code == 201  # a Twin: no rule


def test_stays_that_keep_the_restrictions_are_booked(channel):
    restrict(channel, 30, 30, min_stay_arrival=2, max_stay=3, closed_to_departure=True)
    restrict(channel, 40, 40, min_stay_through=2, closed_to_arrival=True)

    assert book(channel, 30, 32).status_code == 201  # arrives on 30 for 2, leaves on 32
    assert book(channel, 29, 30).status_code == 422  # leaves on 30: closed to departure
    assert book(channel, 39, 41).status_code == 201  # through 40 for 2 nights
    assert book(channel, 41, 42).status_code == 201  # the night after: no restriction


def test_the_services_the_site_books_through_are_refused_too_but_not_black_bookings(channel):
    site = channel.site
    restrict(channel, 30, 30, stop_sell=True)
    with site.app.app_context(), pytest.raises(ValidationError) as refused:
        with site.kit.transaction():  # rolled back by the refusal
            services.add_booking(site.kit, 1, date.today() + timedelta(days=30),
                                 date.today() + timedelta(days=31), [1])
    assert refused.value.code == "stop_sell"
    with site.app.app_context(), site.kit.transaction():
        closed = services.create_blackbooking(site.kit, 1, date.today() + timedelta(days=30),
                                              date.today() + timedelta(days=31), [1])
        assert closed.contract_uid
    site.kit.session.remove()


def test_restrictions_refuse_other_managers_and_bad_input(channel):
    body = {"room_type": "Double", "valid_from": day(10), "valid_to": day(12),
            "min_stay_arrival": 2}
    assert channel.refused("PUT", "/restrictions/1", manager="manager2", json=body) == (
        403, "forbidden_property")
    assert channel.refused("GET", "/restrictions/1", manager="manager2",
                           params={"arrival": day(1), "departure": day(2)}) == (
        403, "forbidden_property")
    assert channel.refused("PUT", "/restrictions/77", manager="super", json=body) == (
        404, "invalid_property_uid")
    for change, member in [({"valid_to": day(9)}, "valid_to"),
                           ({"valid_from": day(-2)}, "valid_from"),
                           ({"valid_to": day(400)}, "valid_to"),
                           ({"days": ["friday"]}, "days"),
                           ({"days": []}, "days"),
                           ({"min_stay_arrival": 0}, "min_stay_arrival"),
                           ({"max_stay": True}, "max_stay"),
                           ({"stop_sell": "yes"}, "stop_sell"),
                           ({"room_uid": 4, "room_type": None}, "room_uid"),
                           ({"colour": "red"}, "colour")]:
        sent = {k: v for k, v in {**body, **change}.items() if v is not None or k in body
                and change.get(k, 0) is not None}
        assert channel.refused("PUT", "/restrictions/1", json=sent) == (
            422, f"invalid_{member}"), change
    only_range = {k: body[k] for k in ("room_type", "valid_from", "valid_to")}
    assert channel.refused("PUT", "/restrictions/1", json=only_range)[0] == 422


def test_search_offers_no_room_whose_type_refuses_the_stay(make_api_site, serve_app):
    site = make_api_site()
    super_manager = RemoteService(site, serve_app(site.app) + "/api",
                                  ("search_get", "restrictions_write"))

    def free_rooms(arrival: int, departure: int) -> dict[int, int]:
        found = super_manager.ok("GET", "/search/properties", manager="super", params={
            "arrival": day(arrival), "departure": day(departure)})
        return {p["property_uid"]: p["free_rooms"] for p in found}

    before = free_rooms(200, 202)
    for room_type, values in [("Double", {"stop_sell": True}),
                              ("Twin", {"min_stay_arrival": 3})]:
        super_manager.ok("PUT", "/restrictions/1", manager="super", json={
            "room_type": room_type, "valid_from": day(200), "valid_to": day(200), **values})

    assert free_rooms(200, 202) == {**before, 1: before[1] - 2}  # the Family room is left
    assert free_rooms(200, 203) == {**before, 1: before[1] - 1}  # three nights: Twin too
    assert free_rooms(201, 203) == before  # not through the stop-sold night
    super_manager.ok("PUT", "/restrictions/1", manager="super", json={
        "room_type": "Family", "valid_from": day(202), "valid_to": day(202),
        "closed_to_departure": True})
    assert 1 not in free_rooms(200, 202)


def test_moving_a_booking_onto_restricted_nights_is_refused(channel):
    site = channel.site
    restrict(channel, 300, 300, closed_to_arrival=True)
    with site.app.app_context(), site.kit.transaction():
        contract = services.add_booking(site.kit, 1, date.today() + timedelta(days=290),
                                        date.today() + timedelta(days=292), [1])
        contract_uid = contract.contract_uid
    with site.app.app_context(), pytest.raises(ValidationError) as refused:
        with site.kit.transaction():  # rolled back by the refusal
            services.modify_booking(site.kit, contract_uid,
                                    arrival=date.today() + timedelta(days=300),
                                    departure=date.today() + timedelta(days=302))
    assert (refused.value.code, refused.value.field) == ("closed_to_arrival", "arrival")
    site.kit.session.remove()
