"""Every route of the route table refuses, on SQLite and PostgreSQL, a key without its scope
(403 ``insufficient_scope``) and another manager's key (403 ``forbidden_property`` or 404, a
status the route's OpenAPI operation documents), and such a refused write changes nothing.

"Another manager" is ``manager2``, linked to no property, asking for Fawlty Towers (property
1, ``manager``'s): through the path's ``property_uid``, or the ``property_uid`` query filter.
A route whose scope only super managers may grant is proved by no manager key being able to
hold that scope. Public routes need no key (``public=True`` in their registration); any other
route with nothing of a manager's to name says why in its registration,
``exempt={"access": "..."}``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests
from jomreskit_api_core.api import Route
from jomreskit_api_core.testing import auth, create_key, issue_token
from sqlalchemy import func, select

from jomreskit import JomresKitError
from jomreskit.domain import EventRecord

from .conftest import Served, covered, label, routes_for, sample_body, sample_path, sample_query

CHECK = "access"


def _call(served: Served, route: Route, token: str, **query: Any) -> requests.Response:
    body = sample_body(route)
    return requests.request(route.method, served.base + sample_path(route),
                            params={**sample_query(route), **query}, headers=auth(token),
                            json=body if route.method != "GET" else None, timeout=30)


def _events(served: Served) -> int:
    with served.site.app.app_context():
        try:
            return served.site.kit.session().scalar(select(func.count()).select_from(EventRecord))
        finally:
            served.site.kit.session.remove()


def test_every_route_refuses_a_key_without_its_scope_and_another_managers_key(served: Served):
    site, api = served.site, served.api
    scopes = site.kit.scopes
    tokens: dict[tuple[str, str], str] = {}

    def token(manager: str, scope: str) -> str:
        if (manager, scope) not in tokens:
            tokens[manager, scope] = issue_token(site, *create_key(site, manager, [scope]))
        return tokens[manager, scope]

    problems: list[str] = []
    proved: Counter[str] = Counter()
    events_before = _events(served)

    def expect(route: Route, case: str, response: requests.Response,
               allowed: dict[int, str]) -> None:
        proved[label(route)] += 1
        body = response.json()  # every answer is JSON, or this fails
        got = (response.status_code, body.get("error", {}).get("code"))
        if allowed.get(got[0]) != got[1]:
            problems.append(f"{label(route)} {case}: expected one of {allowed}, got {got}")
            return
        documented = _documented(served, route)
        if str(got[0]) not in documented:
            problems.append(f"{label(route)} {case}: {got[0]} is not in its OpenAPI responses "
                            f"({sorted(documented)})")

    for route in routes_for(api, CHECK):
        if route.public:
            proved[label(route)] += 0  # anyone may call it: nothing to refuse
            continue
        scope = route.scope
        assert scope is not None
        for_managers = scopes[scope].granted_by == "manager"
        rightful = "manager" if for_managers else "super"
        other = next(s for s in scopes
                     if s != scope and scopes[s].grantable_by(rightful))

        expect(route, "with a key lacking the scope", _call(served, route, token(rightful, other)),
               {403: "insufficient_scope"})

        if not for_managers:
            # Only super managers (who see every property) may hold the scope.
            with pytest.raises(JomresKitError) as refused:
                create_key(site, "manager2", [scope])  # in a transaction of its own
            assert refused.value.code == "scope_not_grantable"
            proved[label(route)] += 1
            continue
        outsider = token("manager2", scope)  # linked to no property
        names_a_property = any(name == "property_uid" for name, _ in route.path_params())
        filters_a_property = any(p.name == "property_uid" and p.in_ == "query"
                                 for p in route.params)
        if names_a_property:
            expect(route, "with another manager's key", _call(served, route, outsider),
                   {403: "forbidden_property", 404: "not_found"})
        elif filters_a_property:
            expect(route, "with another manager's key, filtered to the property",
                   _call(served, route, outsider, property_uid=1),
                   {403: "forbidden_property"})
        else:
            problems.append(f"{label(route)}: names no property; say why in its registration: "
                            'exempt={"access": "..."}')

    print(f"\naccess ({site.kit.engine.dialect.name}): {dict(sorted(proved.items()))}")
    assert not problems, "\n".join(problems)
    assert _events(served) == events_before  # no refused write fired anything
    covered(api, CHECK, proved)


def _documented(served: Served, route: Route) -> set[str]:
    document = served.__dict__.setdefault(
        "openapi", requests.get(served.base + "/openapi.json", timeout=30).json())
    from .conftest import openapi_path

    return set(document["paths"][openapi_path(route)][route.method.lower()]["responses"])


NEW_ROUTES = '''
from jomreskit import hookimpl


@hookimpl
def register_api_routes(api):
    @api.route("/unproved", scope="events_get")
    def unproved():
        return {}

    @api.route("/excused", scope="events_get", exempt={"access": "a route of this test"})
    def excused():
        return {}
'''


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_new_route_neither_proved_nor_exempt_fails_the_suite(make_api_site):
    site = make_api_site(plugins=[NEW_ROUTES])
    from jomreskit_api_core import get_api

    api = get_api(site.app)
    proved = [label(r) for r in api.routes if r.rule not in ("/unproved", "/excused")]

    with pytest.raises(AssertionError) as failed:
        covered(api, CHECK, proved)

    assert "GET /unproved" in str(failed.value) and "/excused" not in str(failed.value)
    document = site.client().get("/api/openapi.json").get_json()
    assert document["paths"]["/excused"]["get"]["x-conformance-exempt"] == {
        "access": "a route of this test"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_exemption_without_a_reason_is_refused_at_registration(make_site):
    from jomreskit_api_core import Api

    api = Api(make_site().kit, "/api")  # as register_api_routes(api) receives it

    with pytest.raises(ValueError, match="without a reason"):
        api.add_route("/x", lambda: {}, scope="events_get", exempt={"access": " "})
