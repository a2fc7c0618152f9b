"""Hostile input on every route of the route table, on SQLite and PostgreSQL: never a 5xx,
every answer JSON, every error answer with a request id.

Two parts, both driven by api_core's registry (what ``GET /api/openapi.json`` describes):

- Schemathesis generates requests from each operation's schema, valid ones and invalid ones
  (``HOSTILE_EXAMPLES`` of each kind per operation);
- the cases schema-driven generation does not reach: to every route, query parameters with
  a lone surrogate, a NUL, bytes that are not UTF-8 and very long values; to every route that
  takes a body: a lone surrogate and a NUL in a member's name and in each text member's value
  (``{"\\ud800": 1}``), a body nested 100,000 deep, a member given twice, an unknown member,
  UTF-16 and UTF-32 bodies, NaN. A route that declares a JSON body answers each with 422
  naming the member (``field``); any other route answers JSON below 500.

A route exempt from ``hostile`` says why in its registration (none is today).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from jomreskit_api_core.testing import auth, bearer_token
from schemathesis.generation import GenerationMode

from .conftest import (
    Served,
    covered,
    json_body_schema,
    label,
    openapi_path,
    routes_for,
    sample_body,
    sample_path,
    sample_query,
)

CHECK = "hostile"
HOSTILE_EXAMPLES = 15  # per operation and per mode (valid, invalid): 30 requests an operation
SURROGATE = "\ud800"


def header(response: Any, name: str) -> str:
    """A header of a requests or a schemathesis response (whose header values are lists)."""
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return ""


def problem(response: Any) -> str | None:
    """What is wrong with an answer, or None: a 5xx, not JSON, an error without request id."""
    where = f"{response.request.method} {response.request.url} -> {response.status_code}"
    if response.status_code >= 500:
        return f"{where}: {response.text[:300]}"
    if not header(response, "Content-Type").startswith("application/json"):
        return f"{where}: not JSON: {response.text[:200]}"
    try:
        body = response.json()
    except ValueError:
        return f"{where}: not JSON: {response.text[:200]}"
    if response.status_code >= 400:
        if not header(response, "X-Request-Id"):
            return f"{where}: an error without X-Request-Id"
        error = body.get("error") if isinstance(body, dict) else None
        # api_core's envelope, or RFC 6749's {"error": "invalid_client"} at the token endpoints
        if not (isinstance(error, str) or (isinstance(error, dict)
                                           and {"code", "message"} <= set(error))):
            return f"{where}: not an error envelope: {body}"
    return None


def _short_waits(query: dict[str, Any] | None) -> None:
    """The feed's long poll cut to no wait: the answer is the same empty page, sooner."""
    if query and "wait" in query:
        wait = query["wait"]
        if (isinstance(wait, int) and not isinstance(wait, bool) and wait > 0) or (
                isinstance(wait, str) and wait.strip().isdigit()):
            query["wait"] = 0


def test_generated_requests_on_every_route_answer_json_and_never_5xx(served: Served):
    site, api, base = served.site, served.api, served.base
    token = bearer_token(site, "super", sorted(site.kit.scopes))
    http = requests.Session()
    # Read by hand: from_url leaves out the operation at the document's own address.
    schema = schemathesis.openapi.from_dict(http.get(f"{base}/openapi.json").json())
    problems: list[str] = []
    calls: Counter[str] = Counter()
    wanted = {(r.method, openapi_path(r)): label(r) for r in routes_for(api, CHECK)}

    def call(case: Any, route: str) -> None:
        headers = {**auth(token), **(case.headers or {})}
        _short_waits(case.query)
        response = case.call(base_url=base, session=http, headers=headers)
        calls[route] += 1
        found = problem(response)
        if found:
            problems.append(found)

    for result in schema.get_all_operations():
        operation = result.ok()
        route = wanted.get((operation.method.upper(), operation.path))
        if route is None:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _generate(operation, mode, route, call)
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label
        if not calls[route]:  # nothing to vary (no parameters, no body): Hypothesis sends none
            call(operation.Case(), route)

    print(f"\nhostile generated ({site.kit.engine.dialect.name}): {dict(sorted(calls.items()))}")
    assert not problems, "\n".join(problems[:30])
    covered(api, CHECK, calls)


def _generate(operation: Any, mode: GenerationMode, route: str,
              call: Callable[[Any, str], None]) -> None:
    @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode))
    def generated(case: Any) -> None:
        call(case, route)

    generated()


def _surrogate_members(schema: dict[str, Any], example: Any, path: str = ""
                       ) -> list[tuple[str, Any]]:
    """(member path, body) for each text member of ``schema``: the example with that member's
    value replaced by text holding a lone surrogate."""
    found: list[tuple[str, Any]] = []
    example = dict(example) if isinstance(example, dict) else {}
    for name, member in (schema.get("properties") or {}).items():
        where = f"{path}.{name}" if path else name
        types = member.get("type")
        types = types if isinstance(types, list) else [types]
        if "string" in types:
            found.append((where, {**example, name: f"Fawlty{SURROGATE}"}))
        if "object" in types and member.get("properties"):
            for inner, body in _surrogate_members(member, example.get(name), where):
                found.append((inner, {**example, name: body}))
    return found


def _hostile_queries(route: Any) -> list[str]:
    """Query strings with a lone surrogate (as UTF-8 would write one, ``%ED%A0%80``), a NUL,
    bytes that are no UTF-8 at all and a very long value, in each declared query parameter and
    as a parameter's name; the route's required parameters keep their examples."""
    required = "&".join(f"{k}={v}" for k, v in sample_query(route).items())
    names = [p.name for p in route.params if p.in_ == "query"] + ["%ED%A0%80"]
    values = ["%ED%A0%80", "%00", "%FF%FE", "x" * 10_000, "%F0%9F%92%A9" * 100]
    return [f"{name}={value}" + (f"&{required}" if required else "")
            for name in names for value in values]


def _hostile_bodies(route: Any) -> list[tuple[str, bytes, str | None]]:
    """(case, raw body, the field a 422 must name or "" for none)."""
    example = sample_body(route) or {"x": 1}
    text = json.dumps(example)
    first = next(iter(example))
    cases: list[tuple[str, bytes, str | None]] = [
        ("a lone surrogate as a member name", b'{"\\ud800": 1}', "\\ud800"),
        ("a NUL member name", b'{"\\u0000": 1}', "\\x00"),
        ("a lone surrogate as the value of an unknown member", b'{"zz": "\\udfff"}', "zz"),
        ("nested 100,000 deep", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", None),
        ("a member given twice", ("{" + json.dumps(first) + ": null, " + text[1:]).encode(),
         first),
        ("an unknown member", json.dumps({**example, "zz_unknown": 1}).encode(),
         "zz_unknown" if sample_body(route) else None),
        ("UTF-16 with a byte order mark", text.encode("utf-16"), None),
        ("UTF-16 without", text.encode("utf-16-le"), None),
        ("UTF-32", text.encode("utf-32"), None),
        ("NaN", b'{"x": NaN}', None),
    ]
    schema = json_body_schema(route)
    if schema:
        for where, body in _surrogate_members(schema, example):
            # json.dumps writes a lone surrogate as its \ud800 escape: valid JSON text
            cases.append((f"a lone surrogate in {where}", json.dumps(body).encode(), where))
            cases.append((f"a NUL in {where}", json.dumps(body).replace(
                "\\ud800", "\\u0000").encode(), where))
    return cases


def test_hostile_parameters_and_bodies_on_every_route_answer_json_bodies_422_naming_the_member(
        served: Served):
    site, api, base = served.site, served.api, served.base
    token = bearer_token(site, "super", sorted(site.kit.scopes))
    http = requests.Session()
    problems: list[str] = []
    calls: Counter[str] = Counter()

    for route in routes_for(api, CHECK):
        for query in _hostile_queries(route):
            # Sent as written: requests would re-encode the percent escapes.
            prepared = requests.Request(route.method, base + sample_path(route),
                                        headers=auth(token)).prepare()
            prepared.url += "?" + query
            response = http.send(prepared)
            calls[label(route)] += 1
            found = problem(response)
            if found:
                problems.append(f"{label(route)} with ?{query[:60]}: {found}")
        if route.method == "GET":
            continue
        takes_json = json_body_schema(route) is not None
        for case, raw, field in _hostile_bodies(route):
            response = http.request(route.method, base + sample_path(route),
                                    params=sample_query(route), data=raw,
                                    headers={**auth(token), "Content-Type": "application/json"})
            calls[label(route)] += 1
            found = problem(response)
            if found:
                problems.append(f"{label(route)} with {case}: {found}")
                continue
            if not takes_json:
                continue  # a form (the OAuth endpoints): any JSON answer below 500
            error = response.json().get("error", {})
            if response.status_code != 422:
                problems.append(f"{label(route)} with {case}: {response.status_code} {error}")
            elif field is not None and error.get("field") != field:
                problems.append(f"{label(route)} with {case}: field {error.get('field')!r}, "
                                f"not {field!r} ({error})")
            elif "\x00" in error.get("code", "") or not error.get("code", "").isascii():
                problems.append(f"{label(route)} with {case}: code {error.get('code')!r}")

    print(f"\nhostile bodies ({site.kit.engine.dialect.name}): {dict(sorted(calls.items()))}")
    assert not problems, "\n".join(problems)
    covered(api, CHECK, [label(r) for r in api.routes if label(r) in calls])
