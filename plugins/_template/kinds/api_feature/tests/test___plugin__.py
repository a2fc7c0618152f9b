"""The __plugin__ API feature on a real site with the API mounted (api_core's fixtures:
`api_site` is seeded; manager runs Fawlty Towers, property 1; manager2 runs nothing)."""

from jomreskit_api_core.testing import auth, bearer_token


def test_a_key_with_the_scope_reads_the_rooms_of_its_managers_property(api_site):
    token = bearer_token(api_site, "manager", ["__plugin___get"])

    answer = api_site.client().get("/api/__plugin__/1/rooms", headers=auth(token))

    assert answer.status_code == 200, answer.text
    rooms = answer.json["data"]
    assert rooms and all(set(room) == {"room_uid", "name"} for room in rooms)


def test_another_managers_property_is_refused(api_site):
    token = bearer_token(api_site, "manager2", ["__plugin___get"])

    answer = api_site.client().get("/api/__plugin__/1/rooms", headers=auth(token))

    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "forbidden_property"


def test_a_call_without_a_token_is_refused(api_site):
    answer = api_site.client().get("/api/__plugin__/1/rooms")

    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "missing_token"


def test_the_route_is_in_the_openapi_document(api_site):
    document = api_site.client().get("/api/openapi.json").json

    assert "/__plugin__/{property_uid}/rooms" in document["paths"]
