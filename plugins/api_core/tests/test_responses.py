"""Every path under the API prefix answers JSON in one of two shapes, whatever goes wrong."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests
from jomreskit_api_core.testing import auth, bearer_token

THINGS_PLUGIN = Path(__file__).with_name("things_plugin.py")
TROUBLE_PLUGIN = '''
from flask import request
from jomreskit import ValidationError, hookimpl
from jomreskit_api_core import ApiError

requires = ["api_core"]


@hookimpl
def register_api_routes(api):
    @api.route("/broken", public=True, summary="Fails")
    def broken():
        raise RuntimeError("the flux capacitor is empty")

    @api.route("/echo", methods=("POST",), public=True, summary="Echoes a JSON body")
    def echo():
        return request.get_json()

    @api.route("/unspeakable", public=True, summary="An error quoting a lone surrogate")
    def unspeakable():
        raise ApiError(422, "invalid_name", "name: 'Fawlty\\ud800' cannot be stored",
                       field="name\\ud800")

    @api.route("/misbehaving", public=True, summary="An error that fails to render")
    def misbehaving():
        raise Misbehaving("a plugin's own error")


class Misbehaving(ValidationError):
    """A plugin's error whose code cannot be read: rendering the answer fails in turn."""

    @property
    def code(self):
        raise RuntimeError("the code went missing")
'''


@pytest.fixture
def base(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN, TROUBLE_PLUGIN])
    return serve_app(site.app) + "/api", bearer_token(site, "manager", ["things_get"])


def is_error(response, status: int, code: str) -> bool:
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert set(body["error"]) <= {"code", "message", "field"}, body
    return (response.status_code, body["error"]["code"]) == (status, code)


def test_success_is_data_and_meta(base):
    url, token = base

    response = requests.get(f"{url}/things/1?limit=5&since=2026-01-31", headers=auth(token))

    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "data": {"property_uid": 1, "name": "Fawlty Towers", "manager": "manager", "limit": 5,
                 "since": "2026-01-31"},
        "meta": {"limit": 5},
    }


def test_unknown_paths_under_the_prefix_are_json_404s(base):
    url, token = base

    for path in ("/nothing", "/things", "/things/one", "/things/1/more", "/things/-1",
                 "//things/1", "/things/99999999999999999999", "/%ff%fe"):
        for method in ("GET", "POST", "DELETE"):
            response = requests.request(method, url + path, headers=auth(token))
            assert is_error(response, 404, "not_found"), (method, path, response.json())


def test_wrong_methods_are_json_405s_naming_the_allowed_ones(base):
    url, token = base

    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"):
        response = requests.request(method, f"{url}/things/1", headers=auth(token))
        assert is_error(response, 405, "method_not_allowed"), method
        assert response.headers["Allow"] == "GET, HEAD"
    assert requests.head(f"{url}/things/1", headers=auth(token)).status_code == 200


def test_invalid_parameters_are_422s_naming_the_parameter(base):
    url, token = base

    for query, code in (("limit=many", "invalid_limit"), ("limit=0", "invalid_limit"),
                        ("limit=51", "invalid_limit"), ("limit=1e400", "invalid_limit"),
                        ("since=yesterday", "invalid_since"), ("since=%00", "invalid_since")):
        response = requests.get(f"{url}/things/1?{query}", headers=auth(token))
        assert is_error(response, 422, code), query
        assert response.json()["error"]["field"] == query.split("=")[0], query


def test_a_malformed_body_is_a_json_400(base):
    url, _ = base

    response = requests.post(f"{url}/echo", data="{not json",
                             headers={"Content-Type": "application/json"})

    assert is_error(response, 400, "bad_request")


def test_an_unexpected_error_is_a_500_with_a_request_id_and_no_trace(base, caplog):
    url, _ = base

    with caplog.at_level(logging.ERROR, logger="jomreskit.api"):
        response = requests.get(f"{url}/broken")

    assert is_error(response, 500, "internal_error")
    request_id = response.headers["X-Request-Id"]
    assert request_id in response.json()["error"]["message"]
    assert "flux capacitor" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and "flux capacitor" in str(logged[0].exc_info[1])


def test_an_error_quoting_text_utf8_cannot_carry_is_still_json(base):
    url, _ = base

    response = requests.get(f"{url}/unspeakable")

    assert (response.status_code, response.headers["Content-Type"]) == (422, "application/json")
    assert response.json()["error"] == {"code": "invalid_name", "field": "name\\ud800",
                                        "message": "name: 'Fawlty\\ud800' cannot be stored"}
    assert response.headers["X-Request-Id"]


def test_an_error_whose_answer_fails_to_render_is_still_a_json_500_with_a_request_id(base):
    url, _ = base

    response = requests.get(f"{url}/misbehaving")

    assert is_error(response, 500, "internal_error")
    request_id = response.headers["X-Request-Id"]
    assert request_id in response.json()["error"]["message"]
    assert "went missing" not in response.text


def test_paths_outside_the_prefix_are_left_to_the_site(base):
    url, _ = base

    response = requests.get(url.removesuffix("/api") + "/not-the-api")

    assert response.status_code == 404
    assert "application/json" not in response.headers["Content-Type"]


def test_the_api_can_live_under_another_prefix(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN], JOMRESKIT_API_PREFIX="/rest/v1/")
    base = serve_app(site.app)
    token = bearer_token(site, "manager", ["things_get"])

    assert requests.get(f"{base}/rest/v1/things/2", headers=auth(token)).status_code == 200
    assert requests.get(f"{base}/rest/v1/openapi.json").json()["servers"] == [{"url": "/rest/v1"}]
    assert requests.get(f"{base}/api/things/2", headers=auth(token)).status_code == 404
