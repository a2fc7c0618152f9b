"""Every protected API route, of this test's plugin and of the installed feature plugins, answers
each kind of caller as it should: no token, a malformed, expired or revoked token, a key without
the route's scope, a manager not linked to the property, a super manager, and the rightful key."""

from __future__ import annotations

from pathlib import Path

import requests
from jomreskit_api_core import get_api
from jomreskit_api_core.api import RULE_PARAMETER, Route
from jomreskit_api_core.testing import auth, bearer_token, create_key, expire_token, issue_token

THINGS_PLUGIN = Path(__file__).with_name("things_plugin.py")


def sample_path(route: Route) -> str:
    """The route's rule with working values: declared examples, else property 1 and id 1."""
    examples = {p.name: p.example for p in route.params if p.example is not None}

    def value(match) -> str:
        name, converter = match["name"], match["converter"] or "default"
        if name in examples:
            return str(examples[name])
        if name == "property_uid":
            return "1"  # Fawlty Towers: linked to "manager", not to "manager2"
        return "1" if converter in ("int", "float") else "x"

    return RULE_PARAMETER.sub(value, route.rule)


def sample_query(route: Route) -> dict[str, str]:
    """The route's required query parameters, with their declared examples."""
    return {p.name: str(p.example) for p in route.params
            if p.in_ == "query" and p.required and p.example is not None}


def sample_body(route: Route) -> object:
    """The example of the route's JSON request body, when it declares one (writes do)."""
    content = (route.request_body or {}).get("content", {}).get("application/json", {})
    return content.get("example")


# The walks take a token per route and caller, more than the token endpoint's limit per
# address allows in a minute; that limit has tests of its own (test_ratelimit.py).
UNLIMITED_TOKENS = {"JOMRESKIT_API_TOKEN_RATE_LIMIT": "off"}


def test_every_protected_route_answers_every_kind_of_caller(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN], **UNLIMITED_TOKENS)
    api = get_api(site.app)
    base = serve_app(site.app) + api.prefix
    http = requests.Session()
    scopes = site.kit.scopes
    protected = [r for r in api.routes if not r.public]
    assert any(r.rule == "/things/<int:property_uid>" for r in protected)

    keys: dict[tuple[str, str], tuple[str, str]] = {}

    def token(manager: str, scope: str) -> str:
        if (manager, scope) not in keys:
            keys[manager, scope] = create_key(site, manager, [scope])
        return issue_token(site, *keys[manager, scope])

    def call(route: Route, token: str | None = None, header: str | None = None,
             query: str = ""):
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if header is not None:
            headers["Authorization"] = header
        return http.request(route.method, base + sample_path(route) + query, headers=headers,
                            params=sample_query(route), json=sample_body(route))

    problems: list[str] = []

    def expect(route: Route, case: str, response, status: int, code: str) -> None:
        body = response.json()  # every answer is JSON, or this fails
        got = (response.status_code, body.get("error", {}).get("code"))
        if got != (status, code):
            problems.append(f"{route.method} {route.rule} {case}: expected {status} {code}, "
                            f"got {got[0]} {got[1]}")
        if status == 401 and not response.headers.get("WWW-Authenticate", "").startswith("Bearer"):
            problems.append(f"{route.method} {route.rule} {case}: no WWW-Authenticate: Bearer")

    def expect_served(route: Route, case: str, response, first: bool = True) -> None:
        body = response.json()
        if response.status_code in (401, 403) or response.status_code >= 500:
            problems.append(f"{route.method} {route.rule} {case}: refused or failed: "
                            f"{response.status_code} {body}")
        if not first and route.method != "GET":
            return  # a write's example done twice may conflict with itself (the same nights)
        examples = {p.name for p in route.params if p.example is not None}
        if set(n for n, _ in route.path_params()) <= examples | {"property_uid"} and (
                route.rule == "/things/<int:property_uid>" or examples):
            if response.status_code not in (200, 201) or set(body) != {"data", "meta"}:
                problems.append(f"{route.method} {route.rule} {case}: expected 200 with data, "
                                f"got {response.status_code} {body}")

    for route in protected:
        scope = route.scope
        assert scope is not None
        for_managers = scopes[scope].granted_by == "manager"
        rightful = "manager" if for_managers else "super"
        other_scope = next(s for s in scopes if s != scope and scopes[s].grantable_by(
            "manager" if for_managers else "super"))
        about_a_property = any(name == "property_uid" for name, _ in route.path_params())

        expect(route, "without a token", call(route), 401, "missing_token")
        for header in ("Bearer", "Basic bWFuYWdlcjpzZWNyZXQ=", "Bearer not-a-token",
                       "Bearer " + "x" * 2000):
            expect(route, f"with Authorization {header[:20]!r}", call(route, header=header),
                   401, "invalid_token")

        expired = token(rightful, scope)
        expire_token(site, expired)
        expect(route, "with an expired token", call(route, expired), 401, "invalid_token")

        revoked = token(rightful, scope)
        client_id, secret = keys[rightful, scope]
        assert http.post(f"{base}/oauth/revoke", data={"token": revoked},
                         auth=(client_id, secret)).status_code == 200
        expect(route, "with a revoked token", call(route, revoked), 401, "invalid_token")

        expect(route, "with a key lacking the scope", call(route, token(rightful, other_scope)),
               403, "insufficient_scope")
        if about_a_property and for_managers:
            expect(route, "with the key of a manager not linked to the property",
                   call(route, token("manager2", scope)), 403, "forbidden_property")
        if for_managers and any(p.name == "property_uid" and p.in_ == "query"
                                for p in route.params):  # a filter, as on /events
            expect(route, "filtered to a property its manager does not run",
                   call(route, token("manager2", scope), query="?property_uid=1"),
                   403, "forbidden_property")

        expect_served(route, "with a super manager's key", call(route, token("super", scope)))
        expect_served(route, "with the rightful key", call(route, token(rightful, scope)),
                      first=False)

    walked = sorted({f"{r.method} {r.rule}" for r in protected})
    assert not problems, "\n".join(problems + ["", "routes walked:", *walked])


def test_a_revoked_key_kills_its_tokens_on_every_route(make_api_site, serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN], **UNLIMITED_TOKENS)
    base = serve_app(site.app) + "/api"
    client_id, secret = create_key(site, "manager", ["things_get"])
    tokens = [issue_token(site, client_id, secret) for _ in range(2)]
    assert requests.get(f"{base}/things/1", headers={"Authorization": f"Bearer {tokens[0]}"}
                        ).status_code == 200

    assert site.cli("keys", "revoke", client_id).exit_code == 0

    for token in tokens:
        response = requests.get(f"{base}/things/1", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
    refused = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(client_id, secret))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_property_access_is_checked_for_the_path_property_and_any_other(make_api_site,
                                                                       serve_app):
    site = make_api_site(plugins=[THINGS_PLUGIN])
    base = serve_app(site.app) + get_api(site.app).prefix
    manager = auth(bearer_token(site, "manager", ["things_get"]))  # runs properties 1 and 2
    super_manager = auth(bearer_token(site, "super", ["things_get"]))

    def status(path, headers):
        response = requests.get(base + path, headers=headers)
        return response.status_code, response.json().get("error", {}).get("code")

    assert status("/things/1/beside/2", manager) == (200, None)
    assert status("/things/3/beside/1", manager) == (403, "forbidden_property")
    assert status("/things/1/beside/3", manager) == (403, "forbidden_property")
    assert status("/things/3/beside/4", super_manager) == (200, None)
