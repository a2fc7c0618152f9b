"""The OpenAPI document describes the availability and rates routes."""

from __future__ import annotations

import requests


def test_openapi_describes_the_availability_and_rates_routes(remote):
    document = requests.get(f"{remote.base}/openapi.json", timeout=10).json()
    paths = document["paths"]

    calendar = paths["/availability/{property_uid}"]["get"]
    assert calendar["x-required-scope"] == "availability_get"
    assert {p["name"] for p in calendar["parameters"] if p["required"]} == {
        "property_uid", "arrival", "departure"}
    for action in ("close", "open"):
        operation = paths[f"/availability/{{property_uid}}/{action}"]["post"]
        assert operation["x-required-scope"] == "availability_write"
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert set(schema["required"]) == {"room_uids", "arrival", "departure"}
    assert paths["/rates/{property_uid}"]["get"]["x-required-scope"] == "rates_get"
    assert paths["/rates/{property_uid}"]["put"]["x-required-scope"] == "rates_write"
