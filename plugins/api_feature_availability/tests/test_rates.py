"""Setting and reading nightly rates through the API."""

from __future__ import annotations

from datetime import date, timedelta

from jomreskit_api_core.testing import day
from sqlalchemy import select

from jomreskit.domain import EventRecord


def rates_of(remote, room_type: str) -> list[tuple[str, str, str]]:
    data = remote.ok("GET", "/rates/1", params={"room_type": room_type})
    return [(r["valid_from"], r["valid_to"], r["price_per_night"]) for r in data["rates"]]


def test_a_rate_set_for_a_range_cuts_back_the_rates_around_it(remote):
    remote.ok("PUT", "/rates/1", json={"room_type": "Double", "valid_from": day(10),
                                       "valid_to": day(40), "price_per_night": "75.00"})
    with remote.site.app.app_context():
        before = remote.site.kit.session().scalar(
            select(EventRecord.id).order_by(EventRecord.id.desc()).limit(1))
        remote.site.kit.session.remove()

    answer = remote.ok("PUT", "/rates/1", json={"room_uid": 1, "valid_from": day(20),
                                                "valid_to": day(24), "price_per_night": 99.5})

    expected = [(day(10), day(19), "75.00"), (day(20), day(24), "99.50"),
                (day(25), day(40), "75.00")]
    assert [(r["valid_from"], r["valid_to"], r["price_per_night"])
            for r in answer["rates"]] == expected
    assert rates_of(remote, "Double") == expected
    assert rates_of(remote, "Twin") == []
    with remote.site.app.app_context():
        fired = remote.site.kit.session().scalars(
            select(EventRecord).where(EventRecord.id > before)).all()
        assert [(e.name, e.ids) for e in fired] == [("tariffs_updated", {
            "property_uid": 1, "valid_from": day(20), "valid_to": day(24)})]
        remote.site.kit.session.remove()
    in_range = remote.ok("GET", "/rates/1", params={"valid_from": day(21), "valid_to": day(22)})
    assert [r["price_per_night"] for r in in_range["rates"]] == ["99.50"]


def test_a_weekday_mask_prices_those_nights_alone(remote):
    remote.ok("PUT", "/rates/1", json={"room_type": "Twin", "valid_from": day(10),
                                       "valid_to": day(23), "price_per_night": "80.00"})

    remote.ok("PUT", "/rates/1", json={"room_type": "Twin", "valid_from": day(10),
                                       "valid_to": day(23), "days": ["sat"],
                                       "price_per_night": "120.00"})

    saturdays = [n for n in range(10, 24) if date.fromisoformat(day(n)).weekday() == 5]
    priced = {}
    for first, last, price in rates_of(remote, "Twin"):
        night = date.fromisoformat(first)
        while night <= date.fromisoformat(last):
            priced[night.isoformat()] = price
            night += timedelta(days=1)
    assert priced == {day(n): "120.00" if n in saturdays else "80.00" for n in range(10, 24)}
    assert remote.refused("PUT", "/rates/1", json={
        "room_type": "Twin", "valid_from": day(10), "valid_to": day(23), "days": ["caturday"],
        "price_per_night": "1.00"}) == (422, "invalid_days")


def test_rates_refuse_other_managers_and_bad_input(remote):
    body = {"room_type": "Double", "valid_from": day(10), "valid_to": day(12),
            "price_per_night": "80.00"}
    assert remote.refused("PUT", "/rates/1", manager="manager2", json=body) == (
        403, "forbidden_property")
    assert remote.refused("GET", "/rates/1", manager="manager2") == (403, "forbidden_property")
    assert remote.refused("PUT", "/rates/77", manager="super", json=body) == (
        404, "invalid_property_uid")
    for change, member in [({"valid_to": day(9)}, "valid_to"),
                           ({"valid_from": day(-2)}, "valid_from"),
                           ({"valid_to": "9999-12-31"}, "valid_to"),
                           ({"valid_from": "9999-12-31", "valid_to": "9999-12-31"}, None),
                           ({"price_per_night": "80.001"}, "price_per_night"),
                           ({"price_per_night": -1}, "price_per_night"),
                           ({"price_per_night": None}, "price_per_night"),
                           ({"room_uid": 4, "room_type": None}, "room_uid"),
                           ({"room_uid": 1}, "room_type"),
                           ({"room_type": " "}, "room_type"),
                           ({"colour": "red"}, "colour")]:
        sent = {k: v for k, v in {**body, **change}.items() if v is not None}
        if member is None:  # the last night there is: priced, no overflow
            assert remote.call("PUT", "/rates/1", json=sent).status_code == 200
            continue
        assert remote.refused("PUT", "/rates/1", json=sent) == (422, f"invalid_{member}"), change
