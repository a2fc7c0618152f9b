"""OAuth2 API keys per manager and the REST API framework.

It offers other plugins two hooks (``hookspecs``): ``api_key_columns()``, returning
``KeyColumn`` objects for the console's App Key Management page, and
``register_api_routes(api)``, through which feature plugins register routes::

    from jomreskit import hookimpl
    from jomreskit_api_core import Api, ApiError, Param, current_manager, require_property

    @hookimpl
    def register_api_routes(api: Api):
        @api.route("/things/<int:property_uid>", scope="things_get", summary="A property's things")
        def things(property_uid: int):
            require_property(property_uid)
            return {"property_uid": property_uid}
"""

from __future__ import annotations

from . import hookspecs as hookspecs  # the hooks api_core offers other plugins
from .api import (
    Api,
    ApiError,
    Param,
    Route,
    current_api_key,
    current_manager,
    current_params,
    current_token,
    get_api,
    request_connection,
    require_property,
)
from .bodies import Body, current_json
from .columns import KeyColumn
from .conditional import check_if_match, etag_of
from .models import ApiKey
from .responses import JSONText

__all__ = [
    "Api",
    "ApiError",
    "ApiKey",
    "Body",
    "JSONText",
    "KeyColumn",
    "Param",
    "Route",
    "check_if_match",
    "current_api_key",
    "current_json",
    "current_manager",
    "current_params",
    "current_token",
    "request_connection",
    "etag_of",
    "get_api",
    "require_property",
]


# -- hook implementations ------------------------------------------------------------------

from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from jomreskit import SiteSetting, hookimpl  # noqa: E402

if TYPE_CHECKING:
    import click
    from flask import Flask

    from jomreskit import Kit

__version__ = "0.1.0"


@hookimpl
def register_settings() -> list[SiteSetting]:
    from .grants import DEFAULT_TTL as DEFAULT_GRANT_TTL
    from .idempotency import DEFAULT_TTL
    from .ratelimit import DEFAULT_LIMIT, DEFAULT_TOKEN_LIMIT

    return [
        SiteSetting("JOMRESKIT_API_TOKEN_LIFETIME", 3600, "Seconds an access token lives."),
        SiteSetting("JOMRESKIT_API_TOKEN_CACHE_TTL", DEFAULT_GRANT_TTL,
                    "Seconds a server process remembers a checked token's grant, and a key "
                    "read by token issue, so a busy key skips their queries. Revoking or "
                    "rotating in the same process takes effect at once; in another process "
                    "(the CLI, a second server), within this. 0: read the database each time."),
        SiteSetting("JOMRESKIT_API_REQUIRE_HTTPS", True,
                    "Token endpoints refuse plain http except on loopback (Authlib's rule); "
                    "false when TLS ends in front of the site and JOMRESKIT_TRUSTED_PROXIES is "
                    "not set."),
        SiteSetting("JOMRESKIT_API_RATE_LIMIT", DEFAULT_LIMIT,
                    "Requests per API key: N/second, N/minute, N/hour, N/day, N/30s, or off."),
        SiteSetting("JOMRESKIT_API_TOKEN_RATE_LIMIT", DEFAULT_TOKEN_LIMIT,
                    "Requests with client credentials (token, the Jomres-style POST to the API "
                    "root, revoke, introspect), per client id and per client address."),
        SiteSetting("JOMRESKIT_API_RATE_LIMIT_STORAGE", "memory",
                    "Where rate limit counters live: memory (per process), database (shared "
                    "through the site's database) or a redis:// URL."),
        SiteSetting("JOMRESKIT_API_IDEMPOTENCY_TTL", DEFAULT_TTL,
                    "Seconds a write's Idempotency-Key and its answer are kept: a retry within "
                    "them gets the first answer; after them the key may be used again."),
    ]


@hookimpl
def init_app(kit: Kit, app: Flask) -> None:
    """Mount the REST API at JOMRESKIT_API_PREFIX with every plugin's routes."""
    from . import routes
    from .idempotency import Idempotency
    from .oauth import OAuth
    from .ratelimit import RateLimiter

    api = Api(kit, app.config["JOMRESKIT_API_PREFIX"])
    api.oauth = OAuth(kit, app)
    api.limiter = RateLimiter(kit)
    api.idempotency = Idempotency(kit)
    routes.register(api, __version__)
    kit.hooks.call_at_start("register_api_routes", api=api)
    api.install(app)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import keys_group

    cli.add_command(keys_group)


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def register_console_pages() -> list[Any]:
    from .console import pages

    return pages()
