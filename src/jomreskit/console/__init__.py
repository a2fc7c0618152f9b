"""The web console: server-rendered pages where managers and super managers sign in and manage
what the installed plugins offer (API keys, webhooks, deliveries) and, for super managers, the
plugins themselves.

The core serves sign-in, the layout with its Account menu, and the Plugin Manager. Every other
page comes from a plugin's ``register_console_pages`` hook; the console mounts the page's
blueprint under ``JOMRESKIT_CONSOLE_PREFIX`` and guards each of its views (signed in, role
allowed, CSRF token on every form). A plugin view reads ``current_user()`` and renders a
template that extends ``jomreskit_console/layout.html``.
"""

from __future__ import annotations

from .auth import current_user
from .pages import ConsolePage

__all__ = ["ConsolePage", "current_user"]
