"""Reading a write's body member by member: amounts, and text no database can store."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from jomreskit_api_core import ApiError, Body
from jomreskit_api_core.testing import auth, bearer_token


@pytest.mark.parametrize("given, amount", [
    ("75.00", Decimal("75.00")), ("75", Decimal("75.00")), (75, Decimal("75.00")),
    (75.5, Decimal("75.50")), ("0", Decimal("0.00")), (" 12.5 ", Decimal("12.50")),
])
def test_an_amount_is_read_to_the_cent(given, amount):
    assert Body({"price": given}).money("price") == amount


@pytest.mark.parametrize("given", [
    "-0.00", -0.0, "-0", "-5", "+5", "1_000", "1,000", "1e3", "١٠٠", "٧٥.٠٠", "७५", "75.",
    ".5", "NaN", "Infinity", "0x10", "75.001", True, [75], {"amount": 75},
])
def test_an_amount_that_is_not_plain_digits_is_refused_naming_the_member(given):
    with pytest.raises(ApiError) as refused:
        Body({"price": given}).money("price")

    assert (refused.value.status, refused.value.code, refused.value.field) == (
        422, "invalid_price", "price")


@pytest.mark.parametrize("member, code, field", [
    ("\x00", "invalid_member", "\\x00"),
    ("\ud800", "invalid_member", "\\ud800"),
    ('price"; drop', "invalid_member", 'price"; drop'),
    ("guest.surname", "invalid_guest.surname", "guest.surname"),
])
def test_an_odd_member_name_never_becomes_part_of_an_error_code(member, code, field):
    error = Body.invalid(member, "unknown member")

    assert (error.code, error.field) == (code, field)


@pytest.mark.parametrize("raw, field", [
    (b'{"\\ud800": 1}', "\\ud800"),
    (b'{"\\u0000": 1}', "\\x00"),
    (b'{"room_type": "Double\\ud800", "valid_from": "2099-01-10"}', "room_type"),
    (b'{"room_type": "Dou\\u0000ble"}', "room_type"),
    (b'{"guest": {"surname": "Fawlty\\udbff"}}', "guest.surname"),
    (b'{"room_uids": ["\\udfff"]}', "room_uids"),
])
def test_text_no_database_can_store_is_a_422_naming_the_member_on_a_real_route(
        make_api_site, serve_app, raw, field):
    site = make_api_site()
    base = serve_app(site.app) + "/api"
    token = bearer_token(site, "manager", ["rates_write"])

    response = requests.put(f"{base}/rates/1", data=raw,
                            headers={**auth(token), "Content-Type": "application/json"})

    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-Id"]
    assert response.json()["error"]["field"] == field
