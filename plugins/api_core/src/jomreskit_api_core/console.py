"""App Key Management: the web console page where a manager creates, revokes and rotates their
own API keys. The work is done by ``keys``; this module only shows it, with the columns other
plugins add (``columns``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from jomreskit import JomresKitError, get_kit
from jomreskit.console import ConsolePage, current_user
from jomreskit.domain import User

from . import columns, keys

bp = Blueprint("api_core_console", __name__, template_folder="templates", url_prefix="/keys")


def pages() -> list[ConsolePage]:
    return [ConsolePage(
        "App Key Management", "api_core_console.keys", bp, roles=("manager", "super"),
        description="API keys (client id and secret) that let remote services use the API "
                    "for you.",
    )]


def _manager() -> User:
    user = current_user()
    assert user is not None  # the console lets no one in unsigned
    return user


def _page(status: int = 200, **shown: Any) -> tuple[str, int]:
    """The key list, with what the action just did (a new secret, the form as sent)."""
    kit = get_kit()
    user = _manager()
    token_url = request.host_url.rstrip("/") + kit.settings["JOMRESKIT_API_PREFIX"].rstrip("/") \
        + "/oauth/token"
    shown.setdefault("chosen", [])
    shown.setdefault("name", "")
    listed = keys.list_keys(kit, user)
    return render_template(
        "api_core/keys.html",
        keys=listed,
        columns=columns.fill(kit, listed),
        scopes=keys.grantable_scopes(kit, user.role),
        token_url=token_url,
        **shown,
    ), status


@bp.get("/", endpoint="keys")
def keys_page() -> tuple[str, int]:
    return _page()


@bp.post("/")
def create() -> tuple[str, int]:
    kit = get_kit()
    chosen = request.form.getlist("scope")
    name = request.form.get("name", "")
    try:
        with kit.transaction():
            key, secret = keys.create_key(kit, _manager(), chosen, name=name)
            client_id = key.client_id
    except JomresKitError as exc:
        flash(exc.message, "error")
        return _page(422, chosen=chosen, name=name)
    flash(f"Key {client_id} created. Copy its secret now: it cannot be shown again.", "success")
    # Shown in this answer, never stored or redirected with: the secret exists only here.
    return _page(201, new_secret=secret, new_client_id=client_id)


def _remembered_seconds(kit: Any) -> str:
    """How long another server process may still accept a token it checked (its remembered
    grants, JOMRESKIT_API_TOKEN_CACHE_TTL)."""
    seconds = float(kit.settings.get("JOMRESKIT_API_TOKEN_CACHE_TTL") or 0)
    return f"{seconds:g} s"


@bp.post("/<client_id>/rotate")
def rotate(client_id: str) -> tuple[str, int] | Response:
    kit = get_kit()
    try:
        with kit.transaction():
            _key, secret = keys.rotate_key(kit, client_id, _manager())
    except JomresKitError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".keys"))
    flash(f"Key {client_id} has a new secret; the old one gets no token from now on, and its "
          f"tokens stop working now here and within {_remembered_seconds(kit)} on the site's "
          "other server processes. Copy the new secret now: it cannot be shown again.",
          "success")
    return _page(new_secret=secret, new_client_id=client_id)


@bp.post("/<client_id>/revoke")
def revoke(client_id: str) -> Response:
    kit = get_kit()
    try:
        with kit.transaction():
            keys.revoke_key(kit, client_id, _manager())
    except JomresKitError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Key {client_id} revoked: it gets no token from now on, and its tokens stop "
              f"working now here and within {_remembered_seconds(kit)} on the site's other "
              "server processes.", "success")
    return redirect(url_for(".keys"))
