"""The OpenAPI 3.1 document of the API, built from the route registrations (so it cannot drift)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import CONVERTER_SCHEMAS, MAX_ID

if TYPE_CHECKING:
    from .api import Api, Route

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "A short machine-readable code."},
                "message": {"type": "string", "description": "What went wrong, for people."},
                "field": {"type": "string",
                          "description": "The input field at fault, when the error is about "
                                         "one (absent otherwise)."},
            },
        }
    },
}

# Statuses every protected operation may answer, with what they mean here.
ERROR_RESPONSES: dict[str, str] = {
    "401": "No access token, or one that is malformed, unknown, expired or revoked "
           "(code missing_token or invalid_token; see WWW-Authenticate).",
    "403": "The token lacks the route's scope (insufficient_scope), or its manager may not see "
           "this property (forbidden_property).",
    "404": "Nothing here: an unknown path or id.",
    "405": "The method is not allowed on this path (see Allow).",
    "422": "A parameter is invalid (code invalid_<name>), or the request's body (invalid_json, "
           "or a code of the route's with `field` naming the field at fault).",
    "429": "The API key is over its rate limit (see Retry-After).",
    "500": "An unexpected error; the message carries a request id found in the site's log.",
}

PUBLIC_ERRORS = ("404", "405", "422", "500")

# What a write (a token route's POST, PUT, PATCH or DELETE) may answer besides.
WRITE_ERROR_RESPONSES: dict[str, str] = {
    "409": "The change conflicts with the data as it is now (conflict, or a code of the "
           "route's), or a request with the same Idempotency-Key is still being answered "
           "(idempotency_key_in_use).",
    "503": "The database was busy with other changes for too long (busy); retry after "
           "Retry-After seconds.",
}
IF_MATCH_ERROR_RESPONSES: dict[str, str] = {
    "412": "If-Match names none of the record's current ETag (precondition_failed): read it "
           "again; the answer's ETag is the current one.",
}
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "description": "Makes a retry safe: the same key with the same request within "
                   "JOMRESKIT_API_IDEMPOTENCY_TTL seconds answers the first answer again "
                   "(marked Idempotent-Replayed: true) without doing the write twice; with "
                   "another request it answers 422 idempotency_key_reused.",
}
IF_MATCH: dict[str, Any] = {
    "name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "The ETag the record had when read: the change is refused (412) if it has "
                   "changed since.",
}
ETAG_HEADER: dict[str, Any] = {
    "description": "The strong ETag of the answer's data, for If-Match.",
    "schema": {"type": "string"},
}


def document(api: Api, title: str = "jomreskit REST API", version: str = "") -> dict[str, Any]:
    """The OpenAPI document of every route registered on ``api``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in api.routes:
        paths.setdefault(_openapi_path(route.rule), {})[route.method.lower()] = _operation(route)
    scopes = {name: scope.description for name, scope in sorted(api.kit.scopes.items())}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "A booking portal's REST API. Take a token with an API key's client id and "
                f"secret (client credentials) at {api.path('/oauth/token')}, then send it as "
                "`Authorization: Bearer <token>`. Success answers "
                '`{"data": ..., "meta": {...}}`; errors `{"error": {"code", "message"}}`.'
            ),
        },
        "servers": [{"url": api.prefix or "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "description": "API keys are OAuth2 clients (client credentials).",
                    "flows": {"clientCredentials": {"tokenUrl": api.path("/oauth/token"),
                                                    "scopes": scopes}},
                },
                "clientBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "An API key's client id and secret (client_secret_basic).",
                },
            },
            "schemas": {"Error": ERROR_SCHEMA},
            "responses": {
                status: {"description": text,
                         "content": {"application/json": {"schema": {
                             "$ref": "#/components/schemas/Error"}}}}
                for status, text in {**ERROR_RESPONSES, **WRITE_ERROR_RESPONSES,
                                     **IF_MATCH_ERROR_RESPONSES}.items()
            },
        },
    }


def _openapi_path(rule: str) -> str:
    from .api import RULE_PARAMETER

    return RULE_PARAMETER.sub(lambda m: "{" + m["name"] + "}", rule)


def _operation(route: Route) -> dict[str, Any]:
    declared = {p.name: p for p in route.params if p.in_ == "path"}
    parameters: list[dict[str, Any]] = []
    for name, converter in route.path_params():
        schema = dict(CONVERTER_SCHEMAS.get(converter, {"type": "string"}))
        if schema.get("type") == "integer":
            schema["maximum"] = MAX_ID
        if converter in ("default", "string"):
            schema["pattern"] = "^[^/]+$"
            schema["minLength"] = 1
        param = declared.get(name)
        if param is not None:
            schema.update({k: v for k, v in param.schema().items() if k != "type"})
        entry: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema,
                                 "description": param.description if param else ""}
        if param is not None and param.example is not None:
            entry["example"] = param.example
        parameters.append(entry)
    for param in route.params:
        if param.in_ == "path":
            continue
        entry = {"name": param.name, "in": param.in_, "required": param.required,
                 "schema": param.schema(), "description": param.description}
        if param.example is not None:
            entry["example"] = param.example
        if param.type == "array":
            entry.update(style="form", explode=True)
        parameters.append(entry)
    if route.writes:
        parameters.append(dict(IDEMPOTENCY_KEY))
        if route.etag:
            parameters.append(dict(IF_MATCH))

    data_schema = dict(route.response) if route.response else {}
    responses: dict[str, Any] = {
        "200": {
            "description": "Success.",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["data", "meta"],
                "properties": {"data": data_schema, "meta": {"type": "object"}},
            }}},
        }
    }
    if route.etag:
        responses["200"]["headers"] = {"ETag": ETAG_HEADER}
    statuses = PUBLIC_ERRORS if route.public else tuple(ERROR_RESPONSES)
    if route.writes:
        statuses += tuple(WRITE_ERROR_RESPONSES) + (
            tuple(IF_MATCH_ERROR_RESPONSES) if route.etag else ())
    for status in statuses:
        responses[status] = {"$ref": f"#/components/responses/{status}"}
    for status, response in route.responses.items():
        responses[str(status)] = dict(response)

    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": route.description.strip(),
        "tags": list(route.tags or (route.plugin.removeprefix("jomreskit_"),)),
        "parameters": parameters,
        "responses": responses,
        "security": route.security if route.security is not None else (
            [] if route.public else [{"oauth2": [route.scope]}]),
    }
    if route.scope:
        operation["x-required-scope"] = route.scope
    if route.request_body:
        operation["requestBody"] = dict(route.request_body)
    if route.exempt:
        operation["x-conformance-exempt"] = dict(route.exempt)
    return operation
