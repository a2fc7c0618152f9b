"""The oauth method on its own: a token from a real token endpoint, kept, renewed, refused."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from jomreskit_authmethod_oauth import OAuthClientCredentials
from werkzeug.wrappers import Request, Response

from jomreskit import AuthMethodError, ValidationError


class TokenEndpoint:
    """A remote service's token endpoint: issues token-1, token-2... to the right client."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.refuse = False

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append({**request.form, "auth": request.headers.get("Authorization", "")})
        if self.refuse:
            body, status = {"error": "invalid_client"}, 401
        else:
            body, status = {"access_token": f"token-{len(self.requests)}",
                            "token_type": "Bearer", "expires_in": 3600}, 200
        return Response(json.dumps(body), status=status,
                        content_type="application/json")(environ, start_response)


@pytest.fixture
def endpoint(serve_app):
    found = TokenEndpoint()
    found.url = serve_app(found) + "/token"
    return found


def settings(endpoint, **more):
    method = OAuthClientCredentials()
    return method, method.clean_settings({"client_id": "remote", "client_secret": "s3cret",
                                          "token_url": endpoint.url, **more})


def signed_request():
    return requests.Request("POST", "https://remote.example/hook", data=b"{}").prepare()


def test_the_token_is_fetched_once_and_sent_as_bearer(endpoint):
    method, values = settings(endpoint, scope="events")
    http = requests.Session()
    first, second = signed_request(), signed_request()
    method.authenticate(first, values, http)
    method.authenticate(second, values, http)

    assert first.headers["Authorization"] == second.headers["Authorization"] == "Bearer token-1"
    [asked] = endpoint.requests
    assert asked["grant_type"] == "client_credentials" and asked["scope"] == "events"
    assert base64.b64decode(asked["auth"].split()[1]) == b"remote:s3cret"


def test_a_401_drops_the_token_and_asks_for_one_retry(endpoint):
    method, values = settings(endpoint)
    http = requests.Session()
    method.authenticate(signed_request(), values, http)
    assert method.unauthorized(values) is True
    again = signed_request()
    method.authenticate(again, values, http)
    assert again.headers["Authorization"] == "Bearer token-2"


def test_a_refusal_names_the_status_and_error_but_never_the_secret(endpoint):
    endpoint.refuse = True
    method, values = settings(endpoint)
    with pytest.raises(AuthMethodError) as refused:
        method.authenticate(signed_request(), values, requests.Session())
    assert "HTTP 401 (invalid_client)" in refused.value.message
    assert "s3cret" not in refused.value.message


def test_settings_are_checked(endpoint):
    method = OAuthClientCredentials()
    with pytest.raises(ValidationError, match="client_secret"):
        method.clean_settings({"client_id": "x", "token_url": endpoint.url})
    with pytest.raises(ValidationError, match="token_url"):
        method.clean_settings({"client_id": "x", "client_secret": "y", "token_url": "ftp://x"})
    with pytest.raises(ValidationError, match="client_auth"):
        method.clean_settings({"client_id": "x", "client_secret": "y", "token_url": endpoint.url,
                               "client_auth": "private_key_jwt"})
    assert [f.key for f in method.fields if f.secret] == ["client_secret"]


def test_client_secret_post_sends_the_credentials_in_the_form(endpoint):
    method, values = settings(endpoint, client_auth="client_secret_post")
    request = signed_request()
    method.authenticate(request, values, requests.Session())

    [asked] = endpoint.requests
    assert (asked["client_id"], asked["client_secret"], asked["auth"]) == ("remote", "s3cret", "")
    assert request.headers["Authorization"] == "Bearer token-1"


def test_a_redirecting_token_url_is_not_followed(serve_app):
    moved = Response(status=302, headers={"Location": "http://127.0.0.1:9/token"})
    url = serve_app(moved) + "/token"
    method = OAuthClientCredentials()
    values = method.clean_settings({"client_id": "remote", "client_secret": "s3cret",
                                    "token_url": url})
    with pytest.raises(AuthMethodError, match="answered HTTP 302"):
        method.authenticate(signed_request(), values, requests.Session())


def test_an_answer_without_a_token_fails_the_attempt(serve_app):
    empty = Response(json.dumps({"token_type": "Bearer"}), content_type="application/json")
    url = serve_app(empty) + "/token"
    method = OAuthClientCredentials()
    values = method.clean_settings({"client_id": "remote", "client_secret": "s3cret",
                                    "token_url": url})
    with pytest.raises(AuthMethodError, match="gave no access_token"):
        method.authenticate(signed_request(), values, requests.Session())
