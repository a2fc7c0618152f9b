"""Mounting the console on a Flask app, and the guard in front of every console view."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..core.domain.models import ROLES
from ..core.kit import Kit, get_kit
from . import csrf, views
from .auth import current_user
from .state import EXTENSION, Console, console_of

PUBLIC_ENDPOINTS = frozenset({"jomreskit_console.sign_in"})

# Pages may show a secret once; nothing of the console is cached, framed or sent elsewhere.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'"
    ),
}


def init_console(kit: Kit, app: Flask) -> None:
    """Mount the console and the pages of the loaded plugins (none when the prefix is empty)."""
    prefix = app.config.get("JOMRESKIT_CONSOLE_PREFIX")
    if not prefix:
        return
    prefix = "/" + str(prefix).strip("/")
    prefix = "" if prefix == "/" else prefix
    secure = app.config.get("JOMRESKIT_CONSOLE_SECURE_COOKIE")
    if secure is None:
        secure = str(app.config.get("JOMRESKIT_BASE_URL") or "").startswith("https://")
    if secure:
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"

    console = Console(prefix, started_with=frozenset(kit.loaded.names))
    app.register_blueprint(views.bp, url_prefix=prefix or "/")
    console.blueprints.add(views.bp.name)
    for page in console.pages(kit):
        blueprint = page.blueprint
        if blueprint is not None and blueprint.name not in console.blueprints:
            app.register_blueprint(blueprint, url_prefix=prefix + (blueprint.url_prefix or ""))
            console.blueprints.add(blueprint.name)
    app.extensions[EXTENSION] = console
    # On the console's blueprints only: other requests (the REST API's, a host app's pages)
    # pay nothing for them. Pages of plugins loaded later are mounted at the next start.
    for name in console.blueprints:
        app.before_request_funcs.setdefault(name, []).append(_guard)
        app.after_request_funcs.setdefault(name, []).append(_secure_headers)
    app.context_processor(_template_context)
    # A global, not a context variable, so that imported macros can use it too.
    app.add_template_global(csrf.field, "console_csrf_field")


def _in_console() -> bool:
    extension = current_app.extensions.get(EXTENSION)
    return extension is not None and request.blueprint in extension.blueprints


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("jomreskit_console/error.html", title=title, message=message), status


def _guard() -> Any:
    """Before every console view: the CSRF token, then sign-in, then the page's roles."""
    if not _in_console():
        return None
    endpoint = request.endpoint or ""
    if endpoint.endswith(".static"):
        return None
    kit = get_kit()
    if kit.not_ready:  # an embedding app serves before `db upgrade`: say so, not a 500
        return error_page(503, "Not set up yet", f"The site cannot serve this page: "
                          f"{kit.not_ready}.")
    if not csrf.request_is_valid():
        return error_page(
            400, "Form refused",
            "This form has expired or did not come from this site. Go back, reload the page "
            "and try again.",
        )
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    console = console_of()
    allowed = _roles_for(console, kit)
    if allowed is None:
        return error_page(404, "Not found", "This page is not available on this site.")
    user = current_user()
    if user is None:
        flash("Please sign in to continue.", "info")
        return redirect(url_for("jomreskit_console.sign_in", next=_here()))
    if user.role not in allowed:
        return error_page(403, "Not allowed", "Your account cannot use this page.")
    return None


def _roles_for(console: Console, kit: Kit) -> set[str] | None:
    """Who may use the requested view: every role for the console's own (home, sign-out), the
    union of its pages' roles for a page's blueprint, None when no loaded plugin offers it."""
    blueprint = request.blueprint
    if blueprint == views.bp.name:
        return set(ROLES)
    pages = console.pages(kit)
    roles = {
        role for p in pages
        if p.blueprint is not None and p.blueprint.name == blueprint for role in p.roles
    }
    return roles or None


def _here() -> str:
    if request.method == "GET":
        return request.full_path.rstrip("?")
    return url_for("jomreskit_console.home")


def _secure_headers(response: Response) -> BaseResponse:
    if _in_console():
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and (request.endpoint or "").endswith(".static"):
                continue
            response.headers.setdefault(name, value)
        response.vary.add("Cookie")
    return response


def _template_context() -> dict[str, Any]:
    kit = get_kit()
    if not _in_console() or kit.not_ready:
        return {}
    user = current_user()
    return {
        "console_user": user,
        "console_menu": console_of().menu(kit, user.role) if user is not None else [],
    }
