"""The console's own views: sign-in, sign-out, the home page and the Plugin Manager."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ..core import registry
from ..core.errors import JomresKitError
from ..core.kit import Kit, get_kit
from . import auth, csrf
from .state import console_of

SIGN_IN = "jomreskit_console/sign_in.html"

bp = Blueprint(
    "jomreskit_console", __name__, template_folder="templates", static_folder="static",
    static_url_path="/static",
)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path inside the console, never another site."""
    home = url_for(".home")
    if target:
        parts = urlsplit(target)
        root = home.rstrip("/")
        if (not parts.scheme and not parts.netloc and "\\" not in target
                and not target.startswith("//")
                and (parts.path == root or parts.path.startswith(root + "/"))):
            return target
    return home


@bp.get("/")
def home() -> str:
    return render_template("jomreskit_console/home.html")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> str | Response | tuple[str, int]:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if auth.current_user() is not None:
            return redirect(target)
        csrf.token()
        return render_template(SIGN_IN, next=target, username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    key = (username.lower(), request.remote_addr or "")
    throttle = console_of().throttle
    wait = throttle.wait(key)
    if wait:
        flash(f"Too many failed sign-ins. Try again in {int(wait // 60) + 1} minutes.", "error")
        return render_template(SIGN_IN, next=target, username=username), 429
    kit = get_kit()
    try:
        user = auth.check_password(kit, username, password)
    except auth.SignInFailed as exc:
        throttle.failed(key)
        flash(exc.message, "error")
        return render_template(SIGN_IN, next=target, username=username), 401
    throttle.succeeded(key)
    auth.start(kit, user)
    csrf.rotate()
    flash(f"Signed in as {user.username}.", "success")
    return redirect(target)


@bp.post("/sign-out")
def sign_out() -> Response:
    auth.end()
    csrf.rotate()
    flash("Signed out.", "success")
    return redirect(url_for(".sign_in"))


# -- Plugin Manager (super managers; the guard checks the role) ---------------------------


@bp.get("/plugins")
def plugins() -> str:
    kit = get_kit()
    records = registry.read(kit.session())
    for record in records:
        record["state"] = _state(kit, record)
    return render_template("jomreskit_console/plugins.html", plugins=records, warnings=kit.warnings)


def _state(kit: Kit, record: dict[str, object]) -> str:
    """active, disabled, broken, or why an enabled plugin is not loaded."""
    name = str(record["name"])
    loaded = kit.loaded
    if record["error"]:
        return "broken"
    if not record["enabled"]:
        return "disabled"
    if name in loaded.names:
        return "active"
    return loaded.problems.get(name) or "not loaded (left out by JOMRESKIT_LOAD_PLUGINS)"


def _end_request_transaction(kit: Kit) -> None:
    # Registry changes and migrations open connections of their own; on SQLite the request's
    # open transaction (it read the signed-in user) would hold the write lock they wait for.
    kit.session.remove()


@bp.post("/plugins/<name>/enable")
def enable_plugin(name: str) -> Response:
    return _set_enabled(name, True)


@bp.post("/plugins/<name>/disable")
def disable_plugin(name: str) -> Response:
    return _set_enabled(name, False)


def _set_enabled(name: str, enabled: bool) -> Response:
    kit = get_kit()
    _end_request_transaction(kit)
    try:
        kit.set_plugin_enabled(name, enabled)
        if enabled:
            kit.upgrade_database(report=lambda _line: None)  # its tables, if it has new ones
    except (JomresKitError, SQLAlchemyError) as exc:
        kit.session.remove()
        flash(getattr(exc, "message", None) or f"Database error: {exc}", "error")
        return redirect(url_for(".plugins"))
    if not enabled:
        flash(f"Disabled {name}.", "success")
    elif name in console_of().started_with:
        flash(f"Enabled {name}.", "success")
    else:
        flash(f"Enabled {name}; restart the site to add its pages and API routes.", "success")
    return redirect(url_for(".plugins"))


@bp.post("/plugins/rebuild")
def rebuild_registry() -> Response:
    kit = get_kit()
    report: list[str] = []
    _end_request_transaction(kit)
    try:
        kit.upgrade_database(report=report.append, rebuild=True)
    except (JomresKitError, SQLAlchemyError) as exc:
        kit.session.remove()
        flash(f"Rebuilding the registry failed: {getattr(exc, 'message', None) or exc}", "error")
        return redirect(url_for(".plugins"))
    records = registry.read(kit.session())
    broken = [str(r["name"]) for r in records if r["error"]]
    flash(
        f"Registry rebuilt: {len(records)} plugins"
        + (f", with errors in {', '.join(broken)}." if broken else ", none with errors."),
        "error" if broken else "success",
    )
    for line in report:
        if "upgraded" in line:
            flash(f"Database {line}.", "info")
    return redirect(url_for(".plugins"))
