"""The JOMRESKIT_* settings, read alike by create_app, embedding apps and the CLI.

Precedence: what the app's config already says, then the environment, then the defaults.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

PREFIX = "JOMRESKIT_"
STANDALONE_APP_NAME = "jomreskit"  # the name create_app gives its app; an embedding app has its own

@dataclass(frozen=True)
class SiteSetting:
    """A JOMRESKIT_* key a site (or the app that embeds jomreskit) may set: its default and
    what it does. The core declares its own here; each plugin declares its in
    ``register_settings``, and `jomreskit settings` and docs/settings.md list them all."""

    key: str
    default: Any
    description: str


CORE_SETTINGS: tuple[SiteSetting, ...] = (
    SiteSetting("JOMRESKIT_INSTANCE_PATH", "instance",
                "The instance folder: the SQLite database, the secret key file, plugin files."),
    SiteSetting("JOMRESKIT_DATABASE_URL", None,
                "Any SQLAlchemy URL (`postgresql+psycopg://...`); unset: the SQLite file "
                "`<instance>/jomreskit.db`."),
    SiteSetting("JOMRESKIT_DATABASE_PREPARED_STATEMENTS", True,
                "PostgreSQL: let psycopg prepare a statement a connection runs often "
                "(`prepare_threshold`); `false` behind a pooler that cannot keep them (pgbouncer "
                "in transaction mode before 1.21). A host app's own engine keeps its own setting."),
    SiteSetting("JOMRESKIT_PLUGINS_DIR", None,
                "The folder of single-file plugins; unset: `<instance>/plugins`."),
    SiteSetting("JOMRESKIT_LOAD_PLUGINS", None,
                "A comma list: load only these plugins (empty: none); unset: every enabled one."),
    SiteSetting("JOMRESKIT_TRACE_PLUGINS", False, "Log every hook call, with its arguments."),
    SiteSetting("JOMRESKIT_API_PREFIX", "/api", "Where the REST API is mounted."),
    SiteSetting("JOMRESKIT_BASE_URL", None,
                "The site's public address, which callback URLs start with; unset: the address "
                "of the request being served, or the one `jomreskit serve` listens on."),
    SiteSetting("JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS", "",
                "A comma list of CIDRs deliveries may go to although private or loopback "
                "(the local demo opens 127.0.0.0/8)."),
    SiteSetting("JOMRESKIT_SECRET_KEY", None,
                "Encrypts webhook secrets at rest and signs the console's cookies where the app "
                "has no SECRET_KEY of its own; unset: a random key made once and kept in "
                "`<instance>/secret_key` (give every machine of one site the same key)."),
    SiteSetting("JOMRESKIT_CONSOLE_PREFIX", "/console",
                "The web console's address; empty: no console."),
    SiteSetting("JOMRESKIT_CONSOLE_SESSION_LIFETIME", 8 * 3600,
                "Seconds a console sign-in lasts."),
    SiteSetting("JOMRESKIT_CONSOLE_SECURE_COOKIE", None,
                "Send the session cookie over https only; unset: when JOMRESKIT_BASE_URL is "
                "https."),
    SiteSetting("JOMRESKIT_METRICS_TOKEN", None,
                "Serve Prometheus metrics at `/metrics` to requests that carry this as a "
                "bearer token (`Authorization: Bearer ...`); unset: no `/metrics`. "
                "docs/operating.md lists the metrics."),
    SiteSetting("JOMRESKIT_TRUSTED_PROXIES", 0,
                "How many reverse proxies in front of the site to believe about the client's "
                "address and scheme (X-Forwarded-For, X-Forwarded-Proto, through Werkzeug's "
                "ProxyFix), for the sign-in throttle and rate limits; an app that applies "
                "ProxyFix itself leaves it at 0."),
)

DEFAULTS: dict[str, Any] = {s.key: s.default for s in CORE_SETTINGS}


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
