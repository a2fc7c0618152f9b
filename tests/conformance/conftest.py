"""The conformance suite's site and route table.

Every check in tests/conformance walks the routes api_core's registry holds (what
``GET /api/openapi.json`` describes), so a route a plugin adds tomorrow gets the same proof
without anyone writing a test for it. A route a check does not apply to says so, with the
reason, in its registration: ``@api.route(..., exempt={"access": "why"})``; ``covered`` fails
a check that left a route neither proved nor exempt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from jomreskit_api_core import get_api
from jomreskit_api_core.api import RULE_PARAMETER, Api, Route

from jomreskit.testing import Site

# Every check takes many tokens and calls: the rate limits have tests of their own.
UNLIMITED = {"JOMRESKIT_API_RATE_LIMIT": "off", "JOMRESKIT_API_TOKEN_RATE_LIMIT": "off"}


# Checks that run standalone only: the generated requests (Schemathesis, the suite's longest
# check) try the routes' input handling, which is the same code embedded; the hand-written
# hostile cases, the access, race and precondition checks run embedded as well.
STANDALONE_ONLY = {"test_generated_requests_on_every_route_answer_json_and_never_5xx"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    leave_out = [item for item in items if getattr(item, "originalname", "") in STANDALONE_ONLY
                 and item.callspec.params.get("site_mode") == "embedded"]
    if leave_out:
        config.hook.pytest_deselected(items=leave_out)
        items[:] = [item for item in items if item not in leave_out]


@dataclass
class Served:
    """A demo-seeded site with every installed API plugin, served over real HTTP."""

    site: Site
    api: Api
    base: str  # the API's address: http://127.0.0.1:PORT/api


@pytest.fixture
def served(make_api_site: Callable[..., Site], serve_app: Callable[[Any], str],
           site_mode: str) -> Served:
    """Served standalone, and again embedded in a host app that shares its session."""
    site = make_api_site(**UNLIMITED, mode=site_mode)
    api = get_api(site.app)
    return Served(site, api, serve_app(site.app) + api.prefix)


def label(route: Route) -> str:
    return f"{route.method} {route.rule}"


def openapi_path(route: Route) -> str:
    """The route's path as the OpenAPI document writes it: /bookings/{property_uid}."""
    return RULE_PARAMETER.sub(lambda m: "{" + m["name"] + "}", route.rule)


def sample_path(route: Route, property_uid: int = 1) -> str:
    """The route's rule with working values: declared examples, else the property and id 1
    (Fawlty Towers is property 1: linked to ``manager``, not to ``manager2``)."""
    examples = {p.name: p.example for p in route.params if p.example is not None}

    def value(match: Any) -> str:
        name, converter = match["name"], match["converter"] or "default"
        if name == "property_uid":
            return str(property_uid)
        if name in examples:
            return str(examples[name])
        return "1" if converter in ("int", "float") else "x"

    return RULE_PARAMETER.sub(value, route.rule)


def sample_query(route: Route) -> dict[str, str]:
    """The route's required query parameters, with their declared examples."""
    return {p.name: str(p.example) for p in route.params
            if p.in_ == "query" and p.required and p.example is not None}


def json_body_schema(route: Route) -> dict[str, Any] | None:
    """The JSON Schema of the route's JSON request body, if it takes one."""
    content = (route.request_body or {}).get("content", {}).get("application/json")
    return None if content is None else content.get("schema", {})


def sample_body(route: Route) -> Any:
    """The example of the route's JSON request body, when it declares one."""
    content = (route.request_body or {}).get("content", {}).get("application/json", {})
    return content.get("example")


def routes_for(api: Api, check: str) -> list[Route]:
    """The routes ``check`` runs on: all but those exempt from it."""
    return [r for r in api.routes if check not in r.exempt]


def covered(api: Api, check: str, proved: Iterable[str]) -> None:
    """Fail unless every route was proved by ``check`` or is exempt from it with a reason."""
    proved = set(proved)
    missing = [label(r) for r in api.routes if label(r) not in proved and check not in r.exempt]
    assert not missing, f"routes without the {check!r} check and no exemption: {missing}"
