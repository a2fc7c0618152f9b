"""The search API over HTTP: each filter alone and combined, availability, sort and pages,
the distinct places, a clear 422 for every bad filter, and 405 for anything but GET.

The world searched: the demo's Fawlty Towers (Torquay, Devon, GB; 2 stars; 65; three rooms
sleeping 8; room 1 taken by contract 41) and Best West Hotel (London, Greater London, GB;
4 stars; 120; wifi, parking, gym; two rooms sleeping 4, room 4 taken by contract 42), and:

- Gleneagles Hotel: Torquay, Devon, GB; 3 stars; 90; "Pool"; one double with a balcony.
- Hôtel du Port: Brest, Bretagne, FR; 3 stars; 70; wifi; two doubles.
- Closed Inn: Exeter, Devon, GB; 1 star; 40; not published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from jomreskit_api_core.testing import bearer_token, create_key
from sqlalchemy import update

from jomreskit.domain import Contract, Property, services
from jomreskit.testing import Site

FAWLTY, BEST, GLEN, PORT, CLOSED = (
    "Fawlty Towers", "Best West Hotel", "Gleneagles Hotel", "Hôtel du Port", "Closed Inn",
)
PUBLISHED = {FAWLTY, BEST, GLEN, PORT}


def add_world(site: Site) -> None:
    """Add the three properties above, through the services (so their events fire)."""
    with site.app.app_context(), site.kit.transaction():
        kit = site.kit
        glen = services.create_property(
            kit, GLEN, town="Torquay", region="Devon", country="GB", stars=3,
            price_from=Decimal("90"), features=["Pool"], published=True,
            description="A quiet seaside hotel with a heated pool.")
        services.add_room(kit, glen.property_uid, name="Balcony double", max_people=2,
                          features=["balcony"])
        port = services.create_property(
            kit, PORT, town="Brest", region="Bretagne", country="FR", stars=3,
            price_from=Decimal("70"), features=["wifi"], published=True,
            description="Sur le port: family rooms facing the boats.")
        for number in ("1", "2"):
            services.add_room(kit, port.property_uid, room_number=number, max_people=2)
        closed = services.create_property(
            kit, CLOSED, town="Exeter", region="Devon", country="GB", stars=1,
            price_from=Decimal("40"), published=False, description="Closed for the winter.")
        services.add_room(kit, closed.property_uid, max_people=2)


@dataclass
class Searcher:
    """The site, its API's address, and a super manager's token with scope search_get."""

    site: Site
    base: str
    token: str

    def get(self, path: str = "/search/properties", **params: Any) -> requests.Response:
        return requests.get(self.base + path, params=params,
                            headers={"Authorization": f"Bearer {self.token}"}, timeout=10)

    def found(self, **params: Any) -> list[dict[str, Any]]:
        response = self.get(**params)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def names(self, **params: Any) -> set[str]:
        return {result["name"] for result in self.found(per_page=100, **params)}


@pytest.fixture
def searcher(make_api_site, serve_app) -> Searcher:
    site = make_api_site()
    add_world(site)
    token = bearer_token(site, "super", ["search_get"])
    return Searcher(site, serve_app(site.app) + "/api", token)


def contract_dates(searcher, contract_uid: int) -> tuple[date, date]:
    with searcher.site.app.app_context():
        contract = searcher.site.kit.session().get(Contract, contract_uid)
        return contract.arrival, contract.departure


FILTERS_ALONE = [
    ({}, PUBLISHED),
    ({"country": "GB"}, {FAWLTY, BEST, GLEN}),
    ({"country": "fr"}, {PORT}),
    ({"region": "Devon"}, {FAWLTY, GLEN}),
    ({"town": "Torquay"}, {FAWLTY, GLEN}),
    ({"town": "Nowhere"}, set()),
    ({"stars": "3"}, {GLEN, PORT}),
    ({"stars": "2,4"}, {FAWLTY, BEST}),
    ({"stars": ["2", "4"]}, {FAWLTY, BEST}),
    ({"min_stars": "3"}, {BEST, GLEN, PORT}),
    ({"min_price": "70"}, {BEST, GLEN, PORT}),
    ({"max_price": "70"}, {FAWLTY, PORT}),
    ({"min_price": "66", "max_price": "100.50"}, {GLEN, PORT}),
    ({"features": "wifi"}, {BEST, PORT}),
    ({"features": "WiFi"}, {BEST, PORT}),
    ({"features": "pool"}, {GLEN}),  # listed as "Pool"
    ({"features": "balcony"}, {GLEN}),  # a room's feature only
    ({"features": "desk"}, {BEST}),  # a room's feature only
    ({"features": "wifi,parking"}, {BEST}),  # every feature
    ({"features": ["wifi", "gym"]}, {BEST}),
    ({"q": "gourmet"}, {FAWLTY}),  # in the description
    ({"q": "west"}, {BEST}),  # in the name
    ({"q": "family"}, {FAWLTY, PORT}),
    ({"q": "hotel quiet"}, {GLEN}),  # every word
    ({"q": "100%"}, set()),  # % is a character, not a wildcard
    ({"q": "_"}, set()),
    ({"published": "false"}, {CLOSED}),
    ({"published": "any"}, PUBLISHED | {CLOSED}),
    ({"guests": "5"}, {FAWLTY}),  # only Fawlty Towers sleeps 5
    ({"rooms": "2"}, {FAWLTY, BEST, PORT}),
]


def mismatches(searcher, table):
    """The rows of (filters, expected names) the search answers otherwise, as readable lines."""
    wrong = []
    for filters, expected in table:
        found = searcher.names(**filters)
        if found != expected:
            wrong.append(f"{filters}: expected {sorted(expected)}, found {sorted(found)}")
    return wrong


def test_each_filter_alone(searcher):
    assert mismatches(searcher, FILTERS_ALONE) == []


FILTERS_COMBINED = [
    ({"country": "GB", "stars": "3"}, {GLEN}),
    ({"region": "Devon", "features": "sea view"}, {FAWLTY}),
    ({"town": "Torquay", "max_price": "80", "q": "hotel"}, {FAWLTY}),
    ({"country": "GB", "min_stars": "2", "features": "wifi", "guests": "2"}, {BEST}),
    ({"features": "wifi", "min_price": "100"}, {BEST}),
    ({"published": "any", "region": "Devon", "max_price": "50"}, {CLOSED}),
    ({"country": "FR", "features": "wifi", "rooms": "2", "guests": "4"}, {PORT}),
    ({"country": "FR", "rooms": "3"}, set()),
]


def test_filters_combined(searcher):
    assert mismatches(searcher, FILTERS_COMBINED) == []


def test_a_property_is_available_when_enough_rooms_are_free_every_night(searcher):
    arrival, departure = contract_dates(searcher, 41)  # room 1 of Fawlty Towers is taken

    def with_three_rooms(first: date, last: date) -> set[str]:
        return searcher.names(arrival=first.isoformat(), departure=last.isoformat(), rooms=3)

    assert with_three_rooms(arrival, departure) == set()
    # One shared night is enough to take the room.
    assert with_three_rooms(departure - timedelta(1), departure + timedelta(3)) == set()
    assert with_three_rooms(arrival - timedelta(3), arrival + timedelta(1)) == set()
    # Arriving on the day the booking leaves, or leaving as it arrives, is fine.
    assert with_three_rooms(departure, departure + timedelta(3)) == {FAWLTY}
    assert with_three_rooms(arrival - timedelta(2), arrival) == {FAWLTY}


def test_the_free_rooms_must_sleep_every_guest(searcher):
    arrival, departure = contract_dates(searcher, 41)
    dates = {"arrival": arrival.isoformat(), "departure": departure.isoformat()}

    fawlty = next(r for r in searcher.found(town="Torquay", **dates) if r["name"] == FAWLTY)
    assert (fawlty["free_rooms"], fawlty["places"]) == (2, 6)  # rooms 2 and 3; room 1 is taken
    assert FAWLTY in searcher.names(guests=6, **dates)
    assert FAWLTY not in searcher.names(guests=7, **dates)
    later = {"arrival": (departure + timedelta(7)).isoformat(),
             "departure": (departure + timedelta(9)).isoformat()}
    assert searcher.names(guests=7, **later) == {FAWLTY}  # all three rooms, 8 places


def test_rooms_taken_out_of_sale_are_not_free(searcher):
    night = date.today() + timedelta(days=60)
    with searcher.site.app.app_context(), searcher.site.kit.transaction():
        services.create_blackbooking(searcher.site.kit, 2, night, night + timedelta(1), [4, 5])
    dates = {"arrival": night.isoformat(), "departure": (night + timedelta(1)).isoformat()}

    assert BEST not in searcher.names(**dates)
    assert BEST in searcher.names(arrival=(night + timedelta(1)).isoformat(),
                                  departure=(night + timedelta(2)).isoformat())


def test_a_cancelled_booking_frees_its_rooms_for_search(searcher):
    arrival, departure = contract_dates(searcher, 41)
    dates = {"arrival": arrival.isoformat(), "departure": departure.isoformat(), "rooms": 3}
    assert FAWLTY not in searcher.names(**dates)

    with searcher.site.app.app_context(), searcher.site.kit.transaction():
        services.cancel_booking(searcher.site.kit, 41)

    assert FAWLTY in searcher.names(**dates)


def test_results_carry_what_a_search_form_shows(searcher):
    [fawlty] = searcher.found(q="fawlty")
    assert fawlty == {
        "property_uid": 1, "name": FAWLTY, "town": "Torquay", "region": "Devon", "country": "GB",
        "stars": 2, "price_from": "65.00", "currency": "GBP", "published": True,
        "features": ["sea view", "restaurant", "bar"],
        "description": fawlty["description"],
    }
    assert "Gourmet nights" in fawlty["description"]


def test_results_are_sorted_and_paged(searcher):
    response = searcher.get(sort="-stars", per_page=2)
    body = response.json()
    assert [r["name"] for r in body["data"]] == [BEST, GLEN]  # 4 stars, then 3 (lower uid first)
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 4, "pages": 2, "sort": "-stars"}

    second = searcher.get(sort="-stars", per_page=2, page=2).json()
    assert [r["name"] for r in second["data"]] == [PORT, FAWLTY]
    past_the_end = searcher.get(sort="-stars", per_page=2, page=3).json()
    assert past_the_end["data"] == []
    assert past_the_end["meta"]["total"] == 4

    assert [r["name"] for r in searcher.found(sort="price")] == [FAWLTY, PORT, GLEN, BEST]
    assert [r["name"] for r in searcher.found(sort="name")] == [BEST, FAWLTY, GLEN, PORT]
    assert [r["property_uid"] for r in searcher.found()] == sorted(
        r["property_uid"] for r in searcher.found())


def test_features_follow_changes_to_properties_and_rooms(searcher):
    kit = searcher.site.kit
    assert searcher.names(features="parking") == {BEST}

    with searcher.site.app.app_context(), kit.transaction():
        services.update_property(kit, 1, features=["Parking"])
        room = services.add_room(kit, 2, name="Garden suite", features=["terrace"])
    assert searcher.names(features="parking") == {FAWLTY, BEST}
    assert searcher.names(features="sea view") == {FAWLTY}  # still on room 1
    assert searcher.names(features="terrace") == {BEST}

    with searcher.site.app.app_context(), kit.transaction():
        services.delete_room(kit, room.room_uid)
        services.update_room(kit, 1, features=[])
    assert searcher.names(features="terrace") == set()
    assert searcher.names(features="sea view") == set()


def test_reindex_rebuilds_features_changed_behind_the_services_back(searcher):
    with searcher.site.app.app_context(), searcher.site.kit.transaction() as session:
        session.execute(update(Property).where(Property.property_uid == 2)
                        .values(features=["Sauna"]))
    assert searcher.names(features="sauna") == set()

    result = searcher.site.cli("search", "reindex")

    assert result.exit_code == 0, result.output
    assert "property features indexed" in result.output
    assert searcher.names(features="sauna") == {BEST}


BAD_FILTERS = [
    ({"twon": "Torquay"}, "unknown_filter", "unknown filter twon"),
    ({"stars": "9"}, "invalid_stars", "0 to 5"),
    ({"stars": "three"}, "invalid_stars", "whole number"),
    ({"min_stars": "6"}, "invalid_min_stars", "5"),
    ({"min_price": "-1"}, "invalid_min_price", "min_price"),
    ({"max_price": "cheap"}, "invalid_max_price", "number"),
    ({"min_price": "100", "max_price": "50"}, "invalid_price_range", "above max_price"),
    ({"arrival": "2030-01-01"}, "invalid_dates", "arrival and departure go together"),
    ({"arrival": "2030-01-05", "departure": "2030-01-05"}, "invalid_dates", "after arrival"),
    ({"arrival": "2030-01-01", "departure": "2031-06-01"}, "invalid_dates", "365 nights"),
    ({"arrival": "1 May", "departure": "2030-01-05"}, "invalid_arrival", "date"),
    ({"guests": "0"}, "invalid_guests", "at least 1"),
    ({"rooms": "many"}, "invalid_rooms", "whole number"),
    ({"per_page": "500"}, "invalid_per_page", "at most 100"),
    ({"page": "0"}, "invalid_page", "at least 1"),
    ({"sort": "rating"}, "invalid_sort", "sort must be one of"),
    ({"country": "GBR"}, "invalid_country", "two-letter"),
    ({"published": "maybe"}, "invalid_published", "true, false or any"),
    ({"town": "  "}, "invalid_town", "empty"),
    ({"q": "x" * 101}, "invalid_q", "100 characters"),
    ({"features": ",".join(f"f{n}" for n in range(11))}, "invalid_features", "at most 10"),
]


def test_a_bad_filter_answers_422_naming_it(searcher):
    wrong = []
    for filters, code, words in BAD_FILTERS:
        response = searcher.get(**filters)
        error = response.json().get("error", {})
        if (response.status_code, error.get("code")) != (422, code) or words not in error.get(
                "message", ""):
            wrong.append(f"{filters}: {response.status_code} {error}")
    assert wrong == []


def test_search_is_read_only(searcher):
    for path in ("/search/properties", "/search/countries", "/search/regions", "/search/towns"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = requests.request(method, searcher.base + path, json={"name": "x"},
                                        headers={"Authorization": f"Bearer {searcher.token}"})

            assert response.status_code == 405, (method, path)
            assert response.json()["error"]["code"] == "method_not_allowed"
            assert response.headers["Allow"] == "GET, HEAD"


def test_the_distinct_places_come_with_their_number_of_properties(searcher):
    def listed(path: str, **params: Any) -> list[dict[str, Any]]:
        response = searcher.get(path, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"] == {"total": len(body["data"])}
        return body["data"]

    assert listed("/search/countries") == [{"country": "FR", "count": 1},
                                           {"country": "GB", "count": 3}]
    assert listed("/search/regions", country="GB") == [
        {"country": "GB", "region": "Devon", "count": 2},
        {"country": "GB", "region": "Greater London", "count": 1},
    ]
    assert listed("/search/towns", region="Devon") == [
        {"country": "GB", "region": "Devon", "town": "Torquay", "count": 2},
    ]
    assert listed("/search/towns", region="Devon", published="any") == [
        {"country": "GB", "region": "Devon", "town": "Exeter", "count": 1},
        {"country": "GB", "region": "Devon", "town": "Torquay", "count": 2},
    ]
    assert [t["town"] for t in listed("/search/towns")] == ["Brest", "London", "Torquay"]


def test_the_distinct_places_refuse_filters_they_do_not_take(searcher):
    refused = searcher.get("/search/countries", country="GB")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unknown_filter"
    assert searcher.get("/search/regions", town="Torquay").status_code == 422
    bad = searcher.get("/search/towns", country="Great Britain")
    assert bad.json()["error"]["code"] == "invalid_country"


def test_search_is_for_super_managers_only(searcher):
    assert searcher.site.kit.scopes["search_get"].granted_by == "super"
    refused = searcher.site.cli("keys", "create", "--manager", "manager", "--scope", "search_get")
    assert refused.exit_code == 1
    assert "search_get" in refused.output
    client_id, _secret = create_key(searcher.site, "super", ["search_get"])
    assert client_id


def test_the_openapi_document_describes_every_search_route_and_filter(searcher):
    document = requests.get(searcher.base + "/openapi.json", timeout=10).json()

    search = document["paths"]["/search/properties"]["get"]
    names = [p["name"] for p in search["parameters"]]
    assert names == ["country", "region", "town", "stars", "min_stars", "min_price", "max_price",
                     "features", "q", "arrival", "departure", "guests", "rooms", "published",
                     "sort", "page", "per_page"]
    by_name = {p["name"]: p for p in search["parameters"]}
    assert by_name["arrival"]["schema"] == {"type": "string", "format": "date"}
    assert by_name["per_page"]["schema"]["maximum"] == 100
    assert by_name["stars"]["schema"]["type"] == "array"
    assert search["security"] == [{"oauth2": ["search_get"]}]
    assert [p["name"] for p in document["paths"]["/search/towns"]["get"]["parameters"]] == [
        "country", "region", "published"]
    assert "/search/regions" in document["paths"]
    assert "/search/countries" in document["paths"]
