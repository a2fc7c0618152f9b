"""api_core's own routes: the OAuth endpoints, the API root (Jomres' token endpoint) and the
OpenAPI document. They are registered like any plugin's, so the document lists them too."""

from __future__ import annotations

from typing import Any

from flask import Response

from . import openapi, responses
from .api import Api

TOKEN_REQUEST: dict[str, Any] = {
    "required": True,
    "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object",
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "scope": {"type": "string", "description": "Space-separated; default: all the key's."},
            "client_id": {"type": "string", "description": "With client_secret_post."},
            "client_secret": {"type": "string", "description": "With client_secret_post."},
        },
    }}},
}
TOKEN_REQUEST_JOMRES: dict[str, Any] = {
    "required": True,
    "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object",
        "required": ["client_id", "client_secret"],
        "properties": {
            **TOKEN_REQUEST["content"]["application/x-www-form-urlencoded"]["schema"][
                "properties"],
            "grant_type": {"type": "string", "enum": ["client_credentials"],
                           "description": "Optional here: client_credentials."},
        },
    }}},
}
TOKEN_PARAMETERS: dict[str, Any] = {
    "required": True,
    "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string"},
            "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
            "client_id": {"type": "string", "description": "With client_secret_post."},
            "client_secret": {"type": "string", "description": "With client_secret_post."},
        },
    }}},
}
OAUTH_ERROR: dict[str, Any] = {
    "description": "An OAuth2 error, as RFC 6749 section 5.2 writes it.",
    "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    }}},
}
RATE_LIMITED: dict[str, Any] = {
    "description": "Too many requests with this client id or from this address "
                   "(JOMRESKIT_API_TOKEN_RATE_LIMIT; see Retry-After).",
    "content": {"application/json": {"schema": {"type": "object", "required": ["error"]}}},
}
TOKEN_RESPONSES: dict[int, dict[str, Any]] = {
    200: {
        "description": "An access token.",
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["Bearer"]},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
            },
        }}},
    },
    400: OAUTH_ERROR,
    401: OAUTH_ERROR,
    429: RATE_LIMITED,
}
CLIENT_AUTH = [{"clientBasic": []}, {}]


def register(api: Api, version: str) -> None:
    """Add api_core's routes to ``api``."""
    oauth = api.oauth

    @api.route("/", methods=("GET",), public=True, tags=("api",),
               summary="What this API is and where to start",
               response={"type": "object"})
    def api_index() -> dict[str, Any]:
        return {"name": "jomreskit", "version": version,
                "openapi": api.path("/openapi.json"), "token_url": api.path("/oauth/token")}

    @api.route("/", methods=("POST",), public=True, tags=("oauth",),
               summary="Take an access token (as Jomres' token endpoint)",
               description="Jomres' token endpoint: a form with client_id and client_secret "
                           "(grant_type client_credentials may be left out). Answers as "
                           "POST /oauth/token does.",
               request_body=TOKEN_REQUEST_JOMRES, responses=TOKEN_RESPONSES, security=CLIENT_AUTH)
    def jomres_token() -> Response:
        api.limiter.token_request()
        return oauth.token_response(jomres_root=True)

    @api.route("/oauth/token", methods=("POST",), public=True, tags=("oauth",),
               summary="Take an access token (OAuth2 client credentials)",
               description="Authenticate with client_secret_basic (HTTP Basic) or "
                           "client_secret_post (client_id and client_secret in the form).",
               request_body=TOKEN_REQUEST, responses=TOKEN_RESPONSES, security=CLIENT_AUTH)
    def oauth_token() -> Response:
        api.limiter.token_request()
        return oauth.token_response()

    @api.route("/oauth/revoke", methods=("POST",), public=True, tags=("oauth",),
               summary="Revoke an access token (RFC 7009)",
               request_body=TOKEN_PARAMETERS, security=CLIENT_AUTH,
               responses={200: {"description": "Revoked (or not a token of this key).",
                                "content": {"application/json": {"schema": {"type": "object"}}}},
                          400: OAUTH_ERROR, 401: OAUTH_ERROR, 429: RATE_LIMITED})
    def oauth_revoke() -> Response:
        api.limiter.token_request()
        return oauth.endpoint_response("revocation")

    @api.route("/oauth/introspect", methods=("POST",), public=True, tags=("oauth",),
               summary="Describe an access token (RFC 7662)",
               request_body=TOKEN_PARAMETERS, security=CLIENT_AUTH,
               responses={200: {"description": "Whether the token is active, and its details.",
                                "content": {"application/json": {"schema": {
                                    "type": "object", "required": ["active"],
                                    "properties": {"active": {"type": "boolean"}}}}}},
                          400: OAUTH_ERROR, 401: OAUTH_ERROR, 429: RATE_LIMITED})
    def oauth_introspect() -> Response:
        api.limiter.token_request()
        return oauth.endpoint_response("introspection")

    cached: dict[str, Any] = {}

    @api.route("/openapi.json", methods=("GET",), public=True, tags=("api",),
               summary="This API's OpenAPI 3.1 document",
               responses={200: {"description": "The OpenAPI document.",
                                "content": {"application/json": {"schema": {"type": "object"}}}}})
    def openapi_document() -> Response:
        if "document" not in cached:
            cached["document"] = responses.dumps(openapi.document(api, version=version))
        return Response(cached["document"], mimetype=responses.JSON_MIMETYPE)
