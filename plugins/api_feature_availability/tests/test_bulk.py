"""Bulk ARI: many items in one push, each applied whole or refused on its own, one event per
kind for the whole request, and a retry with the same Idempotency-Key changing nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from jomreskit_api_core.testing import RemoteService, day
from sqlalchemy import select

from jomreskit.domain import Contract, EventRecord

SCOPES = ("ari_write", "rates_get", "restrictions_get", "availability_get")


@pytest.fixture
def channel(make_api_site, serve_app) -> RemoteService:
    site = make_api_site()
    return RemoteService(site, serve_app(site.app) + "/api", SCOPES)


def events_after(channel, first_id: int) -> list[tuple[str, dict]]:
    with channel.site.app.app_context():
        fired = channel.site.kit.session().scalars(
            select(EventRecord).where(EventRecord.id > first_id).order_by(EventRecord.id)).all()
        channel.site.kit.session.remove()
        return [(e.name, e.ids) for e in fired]


def last_event(channel) -> int:
    with channel.site.app.app_context():
        found = channel.site.kit.session().scalar(
            select(EventRecord.id).order_by(EventRecord.id.desc()).limit(1)) or 0
        channel.site.kit.session.remove()
        return found


def test_a_year_of_daily_prices_and_restrictions_is_one_push_and_one_event_per_kind(channel):
    site = channel.site
    created = site.cli("webhooks", "create", "--manager", "manager", "--url",
                       "https://cm.example/hooks", "--json")
    webhook_id = json.loads(created.output)["id"]
    before = last_event(channel)
    items = [{"room_type": room_type, "valid_from": day(n), "valid_to": day(n),
              "price_per_night": f"{100 + n % 7}.00", "min_stay_arrival": 1 + n % 3}
             for room_type in ("Double", "Twin", "Family") for n in range(1, 367)]
    # Every room's Tuesdays closed for four months: over 50 black bookings, no event each.
    items += [{"room_type": room_type, "valid_from": day(2), "valid_to": day(120),
               "days": ["tue"], "availability": "close"}
              for room_type in ("Double", "Twin", "Family")]

    answer = channel.ok("POST", "/ari/1", json={"items": items})

    assert (answer["applied"], answer["refused"]) == (len(items), 0)
    tuesdays = [n for n in range(2, 121) if date.fromisoformat(day(n)).weekday() == 1]
    nights = {"property_uid": 1, "valid_from": day(1), "valid_to": day(366)}
    assert events_after(channel, before) == [
        ("availability_updated", {"property_uid": 1, "valid_from": day(tuesdays[0]),
                                  "valid_to": day(tuesdays[-1])}),
        ("tariffs_updated", nights), ("restrictions_updated", nights)]
    queued = json.loads(site.cli("deliveries", "list", "--webhook", str(webhook_id),
                                 "--json").output)
    assert sorted(d["event_type"] for d in queued) == [
        "availability_updated", "restrictions_updated", "tariffs_updated"]
    calendar = channel.ok("GET", "/availability/1", params={
        "arrival": day(tuesdays[0]), "departure": day(tuesdays[0] + 1)})
    assert {night["status"] for room in calendar["rooms"] for night in room["nights"]} == {
        "closed"}
    rates = channel.ok("GET", "/rates/1", params={"room_type": "Twin", "valid_from": day(1),
                                                  "valid_to": day(366)})["rates"]
    priced = {}
    for rate in rates:
        night = date.fromisoformat(rate["valid_from"])
        while night <= date.fromisoformat(rate["valid_to"]):
            priced[night.isoformat()] = rate["price_per_night"]
            night += timedelta(days=1)
    assert priced == {day(n): f"{100 + n % 7}.00" for n in range(1, 367)}
    restricted = channel.ok("GET", "/restrictions/1", params={
        "arrival": day(1), "departure": day(367), "room_type": "Family"})["room_types"]
    assert [(n["date"], n["min_stay_arrival"]) for n in restricted[0]["nights"]] == [
        (day(n), 1 + n % 3) for n in range(1, 367)]


def test_each_item_is_answered_and_a_refused_one_leaves_the_others_applied(channel):
    channel.ok("POST", "/ari/1", json={"items": [
        {"room_uid": 2, "valid_from": day(30), "valid_to": day(31), "availability": "close"}]})

    answer = channel.ok("POST", "/ari/1", json={"items": [
        {"room_type": "Double", "valid_from": day(10), "valid_to": day(40),
         "days": ["sat"], "price_per_night": "120.00", "stop_sell": True},
        {"room_type": "Double", "valid_from": day(10), "valid_to": day(5),
         "price_per_night": "99.00"},
        {"room_type": "Twin", "valid_from": day(29), "valid_to": day(32),
         "availability": "open", "closed_to_arrival": True},
        {"room_type": "Family", "valid_from": day(10), "valid_to": day(11), "colour": "red"},
        {"room_type": "Family", "valid_from": day(10), "valid_to": day(11),
         "availability": "close", "max_stay": 0},
    ]})

    statuses = [(r["index"], r["status"], r.get("code"), r.get("member"))
                for r in answer["items"]]
    assert statuses == [(0, "applied", None, None), (1, 422, "invalid_valid_to", "valid_to"),
                        (2, "applied", None, None), (3, 422, "invalid_colour", "colour"),
                        (4, 422, "invalid_max_stay", "max_stay")]
    assert (answer["applied"], answer["refused"]) == (2, 3)
    calendar = channel.ok("GET", "/availability/1", params={"arrival": day(10),
                                                            "departure": day(41)})
    rooms = {room["room_type"]: room["nights"] for room in calendar["rooms"]}
    saturdays = [n for n in rooms["Double"] if date.fromisoformat(n["date"]).weekday() == 5]
    assert saturdays and all(n["restrictions"] == {"stop_sell": True} for n in saturdays)
    assert all(n["status"] == "free" for n in rooms["Twin"])  # opened again
    assert all(n["status"] == "free" and "restrictions" not in n for n in rooms["Family"])


def test_a_room_sold_to_a_guest_refuses_only_the_item_that_closes_it(channel):
    booked = channel.site  # contract 41 holds room 1 of property 1 on its nights
    with booked.app.app_context():
        contract = booked.kit.session().get(Contract, 41)
        arrival = contract.arrival
        booked.kit.session.remove()
    if arrival < date.today():
        pytest.skip("the demo booking is in the past")
    answer = channel.ok("POST", "/ari/1", json={"items": [
        {"room_uid": 1, "valid_from": arrival.isoformat(), "valid_to": arrival.isoformat(),
         "availability": "close", "price_per_night": "1.00"},
        {"room_type": "Double", "valid_from": arrival.isoformat(),
         "valid_to": arrival.isoformat(), "min_stay_through": 2},
    ]})
    assert [(r["status"], r.get("code")) for r in answer["items"]] == [
        (409, "room_unavailable"), ("applied", None)]
    rates = channel.ok("GET", "/rates/1", params={"room_type": "Double"})["rates"]
    assert all(r["price_per_night"] != "1.00" for r in rates)  # the refused item's price too


def test_a_retry_with_the_same_idempotency_key_answers_the_first_answer(channel):
    body = {"items": [{"room_type": "Twin", "valid_from": day(5), "valid_to": day(9),
                       "price_per_night": "66.00"}]}
    first = channel.call("POST", "/ari/1", json=body, headers={"Idempotency-Key": "push-1"})
    before = last_event(channel)

    again = channel.call("POST", "/ari/1", json=body, headers={"Idempotency-Key": "push-1"})

    assert first.status_code == again.status_code == 200
    assert again.json()["data"] == first.json()["data"]
    assert events_after(channel, before) == []


def test_bulk_refuses_other_managers_and_a_body_that_is_not_items(channel):
    body = {"items": [{"room_type": "Twin", "valid_from": day(5), "valid_to": day(9),
                       "price_per_night": "66.00"}]}
    assert channel.refused("POST", "/ari/1", manager="manager2", json=body) == (
        403, "forbidden_property")
    assert channel.refused("POST", "/ari/77", manager="super", json=body) == (
        404, "invalid_property_uid")
    assert channel.refused("POST", "/ari/1", json={"items": []}) == (422, "invalid_items")
    assert channel.refused("POST", "/ari/1", json={"items": [{}] * 10_001}) == (
        422, "invalid_items")
    assert channel.refused("POST", "/ari/1", json={"things": []}) == (422, "invalid_things")


def test_a_later_item_wins_on_the_nights_it_shares_with_an_earlier_one(channel):
    answer = channel.ok("POST", "/ari/1", json={"items": [
        {"room_type": "Double", "valid_from": day(10), "valid_to": day(23),
         "price_per_night": "100.00", "min_stay_arrival": 2, "stop_sell": False},
        {"room_type": "Double", "valid_from": day(10), "valid_to": day(23),
         "days": ["fri", "sat"], "price_per_night": "150.00", "min_stay_arrival": 3},
    ]})

    assert answer["applied"] == 2
    rates = channel.ok("GET", "/rates/1", params={"room_type": "Double"})["rates"]
    priced = {}
    for rate in rates:
        night = date.fromisoformat(rate["valid_from"])
        while night <= date.fromisoformat(rate["valid_to"]):
            priced[night] = rate["price_per_night"]
            night += timedelta(days=1)
    nights = channel.ok("GET", "/restrictions/1", params={
        "arrival": day(10), "departure": day(24), "room_type": "Double"})["room_types"][0]
    for night in nights["nights"]:
        weekend = date.fromisoformat(night["date"]).weekday() in (4, 5)
        assert priced[date.fromisoformat(night["date"])] == ("150.00" if weekend else "100.00")
        assert night == {"date": night["date"], "min_stay_arrival": 3 if weekend else 2,
                         "stop_sell": False}
    assert len(nights["nights"]) == 14
