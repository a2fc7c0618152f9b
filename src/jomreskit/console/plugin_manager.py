"""The Plugin Manager: super managers see the registry, enable and disable plugins, and
rebuild it. A blueprint of its own, listed as a console page for super managers only, so the
console's guard holds every one of its views to that role."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ..core import registry
from ..core.errors import JomresKitError
from ..core.kit import Kit, get_kit
from . import state

bp = Blueprint("jomreskit_plugin_manager", __name__, url_prefix="/plugins")


@bp.get("", strict_slashes=False)  # /console/plugins/ too, as every console page
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


@bp.post("/<name>/enable")
def enable_plugin(name: str) -> Response:
    return _set_enabled(name, True)


@bp.post("/<name>/disable")
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
    elif name in state.console_of().started_with:
        flash(f"Enabled {name}.", "success")
    else:
        flash(f"Enabled {name}; its pages and API routes, if it has any, appear after a "
              "restart of the site.", "success")
    return redirect(url_for(".plugins"))


@bp.post("/rebuild")
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
