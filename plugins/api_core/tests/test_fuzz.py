"""Fuzzing: whatever a client sends under the API prefix, the answer is JSON and never a 5xx.

Schemathesis generates requests from the site's own /api/openapi.json (valid and invalid ones);
Hypothesis throws arbitrary paths, methods and headers at the prefix. Both stay bounded.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from jomreskit_api_core.testing import auth, bearer_token
from schemathesis.generation import GenerationMode

THINGS_PLUGIN = Path(__file__).with_name("things_plugin.py")
FUZZ = settings(max_examples=6, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def content_type(response) -> str:
    """The Content-Type of a requests or a schemathesis response (whose headers are lists)."""
    for name, value in response.headers.items():
        if name.lower() == "content-type":
            return value[0] if isinstance(value, list) else value
    return ""


def assert_json_answer(response) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url,
                                        response.text)
    assert content_type(response).startswith("application/json"), (response.request.url,
                                                                   response.text)
    body = response.json()
    if response.status_code >= 400 and isinstance(body.get("error"), dict):
        # "field" names the member of a request body to fix, when there is one.
        assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "field"}


def _short_waits(query) -> None:
    """A long poll's valid ``wait`` (up to 30 s, the event feed's) cut to one second: the
    answer is the same empty page, and the client's read timeout stays out of the way."""
    wait = (query or {}).get("wait")
    if isinstance(wait, int) and not isinstance(wait, bool) and wait > 1:
        query["wait"] = 1
    elif isinstance(wait, str) and wait.strip().isdigit() and int(wait) > 1:
        query["wait"] = "1"


def test_no_request_the_openapi_document_allows_or_forbids_gets_a_5xx(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN])
    base = serve_app(site.app)
    token = bearer_token(site, "super", sorted(site.kit.scopes))
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    http = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @FUZZ
            @given(case=operation.as_strategy(mode))
            def call(case) -> None:
                headers = dict(case.headers or {})
                headers.setdefault(*next(iter(auth(token).items())))
                _short_waits(case.query)
                assert_json_answer(case.call(base_url=f"{base}/api", session=http,
                                             headers=headers))

            try:
                call()
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label


METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"])
SEGMENT = st.one_of(
    st.sampled_from(["things", "1", "oauth", "token", "openapi.json", "webhooks", "search",
                     "properties", "booking_modified", "41", "99999999999", "-1", "%00", ""]),
    st.text(min_size=1, max_size=12),
)
AUTHORIZATION = st.one_of(st.none(), st.just("Bearer"), st.text(max_size=40).map(
    lambda t: "Bearer " + t), st.text(max_size=40))


def test_arbitrary_requests_under_the_prefix_answer_json(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN])
    base = serve_app(site.app) + "/api/"
    token = bearer_token(site, "manager", ["things_get"])
    http = requests.Session()

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(method=METHODS, segments=st.lists(SEGMENT, max_size=5), authorization=AUTHORIZATION,
           use_token=st.booleans(), query=st.dictionaries(st.text(max_size=8),
                                                          st.text(max_size=8), max_size=3),
           body=st.one_of(st.none(), st.binary(max_size=64)))
    def fuzz(method, segments, authorization, use_token, query, body):
        headers = {}
        if use_token:
            headers.update(auth(token))
        elif authorization is not None:
            try:
                authorization.encode("latin-1")
            except UnicodeEncodeError:
                authorization = quote(authorization)
            # requests itself refuses a value that starts with white space
            headers["Authorization"] = (
                authorization.replace("\r", "").replace("\n", "").lstrip())
        path = "/".join(quote(s, safe="%") for s in segments)
        response = http.request(method, base + path, params=query, data=body, headers=headers)
        if not urlsplit(response.request.url).path.startswith("/api"):
            return  # dot segments took the request out of the API ("/api/x/../..")
        if method == "HEAD":
            assert response.status_code < 500
            assert content_type(response).startswith("application/json"), response.request.url
        else:
            assert_json_answer(response)

    fuzz()
