"""The OpenAPI document describes the feed's routes, their parameters, scope and answers."""

from __future__ import annotations

import requests


def test_the_openapi_document_describes_the_feed(feed):
    document = requests.get(feed.base + "/openapi.json", timeout=10).json()

    read = document["paths"]["/events"]["get"]
    by_name = {p["name"]: p for p in read["parameters"]}
    assert list(by_name) == ["after", "limit", "types", "property_uid", "wait"]
    assert by_name["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000,
                                          "default": 100}
    assert by_name["wait"]["schema"]["maximum"] == 30
    assert by_name["types"]["schema"]["type"] == "array"
    assert read["security"] == [{"oauth2": ["events_get"]}]
    assert read["responses"]["410"]["headers"]["X-Oldest-Cursor"]

    acknowledge = document["paths"]["/events/cursor"]["put"]
    assert acknowledge["security"] == [{"oauth2": ["events_get"]}]
    body = acknowledge["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["cursor"]
    assert "410" in acknowledge["responses"]
    assert "events_get" in str(document["components"]["securitySchemes"])
