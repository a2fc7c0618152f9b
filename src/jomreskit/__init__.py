"""jomreskit: a REST API with OAuth2 API keys and signed webhooks for booking portals.

This module, with ``jomreskit.db``, ``jomreskit.tracing``, ``jomreskit.domain``, ``jomreskit.cli``,
``jomreskit.console`` and ``jomreskit.testing``, is the public surface: what embedding sites
and plugins import (docs/plugin_hooks.md lists it). Everything else may change freely.
"""

from . import tracing
from .core import __version__
from .core.authmethods import (
    AuthMethod,
    AuthMethodError,
    SettingField,
    client_credentials_token,
)
from .core.config import SiteSetting
from .core.errors import (
    Conflict,
    EventError,
    JomresKitError,
    NotFound,
    PermissionDenied,
    PluginError,
    ValidationError,
)
from .core.events import MAX_ID, Event, EventType
from .core.kit import Kit, get_kit
from .core.markers import hookimpl, hookspec
from .core.periodic import Periodic
from .core.scopes import Scope
from .core.urls import check_http_url
from .site import JomresKit, create_app

__all__ = [
    "AuthMethod",
    "AuthMethodError",
    "Conflict",
    "Event",
    "EventError",
    "EventType",
    "JomresKit",
    "JomresKitError",
    "MAX_ID",
    "Kit",
    "NotFound",
    "Periodic",
    "PermissionDenied",
    "PluginError",
    "Scope",
    "SettingField",
    "SiteSetting",
    "ValidationError",
    "__version__",
    "check_http_url",
    "client_credentials_token",
    "create_app",
    "get_kit",
    "hookimpl",
    "hookspec",
    "tracing",
]
