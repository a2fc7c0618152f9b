"""The JOMRESKIT_* settings, read alike by create_app, embedding apps and the CLI.

Precedence: what the app's config already says, then the environment, then the defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flask import Flask

PREFIX = "JOMRESKIT_"
STANDALONE_APP_NAME = "jomreskit"  # the name create_app gives its app; an embedding app has its own

DEFAULTS: dict[str, Any] = {
    "JOMRESKIT_INSTANCE_PATH": "instance",
    "JOMRESKIT_DATABASE_URL": None,  # the SQLite file in the instance folder
    "JOMRESKIT_PLUGINS_DIR": None,  # <instance>/plugins
    "JOMRESKIT_LOAD_PLUGINS": None,  # None: all enabled plugins; a comma list: only those
    "JOMRESKIT_TRACE_PLUGINS": False,
    "JOMRESKIT_API_PREFIX": "/api",
    "JOMRESKIT_BASE_URL": None,  # the site's public address, used in callback URLs
    "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS": "",
    "JOMRESKIT_SECRET_KEY": None,  # signs sessions and encrypts secrets at rest
    "JOMRESKIT_CONSOLE_PREFIX": "/console",  # the web console's address; empty: no console
    "JOMRESKIT_CONSOLE_SESSION_LIFETIME": 8 * 3600,  # seconds a console sign-in lasts
    "JOMRESKIT_CONSOLE_SECURE_COOKIE": None,  # None: Secure when JOMRESKIT_BASE_URL is https
    # How many reverse proxies in front of the site to believe about the client's address
    # and scheme (X-Forwarded-For, X-Forwarded-Proto, through Werkzeug's ProxyFix); 0: none.
    # An app that applies ProxyFix itself leaves this at 0.
    "JOMRESKIT_TRUSTED_PROXIES": 0,
}


def _parse(value: str) -> Any:
    # As Flask's from_prefixed_env: numbers and booleans come through typed, the rest as text.
    try:
        return json.loads(value)
    except ValueError:
        return value


def load(app: Flask) -> None:
    """Fill ``app.config`` with every JOMRESKIT_* key, resolved once here."""
    for key, value in os.environ.items():
        if key.startswith(PREFIX) and key not in app.config:
            app.config[key] = value if key == "JOMRESKIT_LOAD_PLUGINS" else _parse(value)
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    instance = Path(app.config["JOMRESKIT_INSTANCE_PATH"]).resolve()
    app.config["JOMRESKIT_INSTANCE_PATH"] = str(instance)
    if not app.config["JOMRESKIT_DATABASE_URL"]:
        app.config["JOMRESKIT_DATABASE_URL"] = f"sqlite:///{instance / 'jomreskit.db'}"
    if not app.config["JOMRESKIT_PLUGINS_DIR"]:
        app.config["JOMRESKIT_PLUGINS_DIR"] = str(instance / "plugins")
    if app.config["JOMRESKIT_API_PREFIX"] != "/":
        app.config["JOMRESKIT_API_PREFIX"] = "/" + app.config["JOMRESKIT_API_PREFIX"].strip("/")


def plugin_filter(app: Flask) -> set[str] | None:
    """JOMRESKIT_LOAD_PLUGINS as a set of names (empty set: none), or None for all."""
    value = app.config.get("JOMRESKIT_LOAD_PLUGINS")
    if value is None:
        return None
    if isinstance(value, list | tuple | set):
        return {str(v).strip() for v in value if str(v).strip()}
    return {part.strip() for part in str(value).split(",") if part.strip()}
