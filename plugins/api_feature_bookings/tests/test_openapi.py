"""The OpenAPI document describes the booking routes: scopes, request bodies and answers."""

from __future__ import annotations

import requests


def test_openapi_describes_the_booking_routes(remote):
    document = requests.get(f"{remote.base}/openapi.json", timeout=10).json()
    paths = document["paths"]

    create = paths["/bookings/{property_uid}"]["post"]
    assert create["x-required-scope"] == "bookings_write"
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"arrival", "departure", "room_uids"}
    assert "guest" in body["properties"] and body["additionalProperties"] is False
    assert "409" in create["responses"]
    assert paths["/bookings/{property_uid}/{contract_uid}"]["get"]["x-required-scope"] == (
        "bookings_get")
    assert set(paths["/bookings/{property_uid}/{contract_uid}"]) == {"get", "patch"}
    assert "post" in paths["/bookings/{property_uid}/{contract_uid}/cancel"]
    scopes = document["components"]["securitySchemes"]["oauth2"]["flows"][
        "clientCredentials"]["scopes"]
    assert {"bookings_get", "bookings_write"} <= set(scopes)
