"""The console's own views: sign-in, sign-out and the home page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..core.kit import get_kit
from . import auth, csrf, devices
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
    who = username.lower()
    address = request.remote_addr or ""
    device = devices.known_device(who)
    throttle = console_of().throttle
    wait = throttle.wait(address, who, device)
    if wait:
        flash(f"Too many failed sign-ins. Try again in {int(wait // 60) + 1} minutes.", "error")
        return render_template(SIGN_IN, next=target, username=username), 429
    kit = get_kit()
    try:
        user = auth.check_password(kit, username, password)
    except auth.SignInFailed as exc:
        throttle.failed(address, who, device)
        flash(exc.message, "error")
        return render_template(SIGN_IN, next=target, username=username), 401
    throttle.succeeded(device)
    auth.start(kit, user)
    csrf.rotate()
    flash(f"Signed in as {user.username}.", "success")
    answer = redirect(target)
    devices.remember(answer, who)
    return answer


@bp.post("/sign-out")
def sign_out() -> Response:
    auth.end(get_kit())
    csrf.rotate()
    flash("Signed out.", "success")
    return redirect(url_for(".sign_in"))
