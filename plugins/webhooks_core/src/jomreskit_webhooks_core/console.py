"""The Webhooks and Webhook deliveries pages of the web console, for managers (super managers
cannot have webhooks). Every change goes through ``services``; this module only shows it and
reads the forms."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from jomreskit import AuthMethod, JomresKitError, Kit, get_kit
from jomreskit.console import ConsolePage, current_user
from jomreskit.domain import User

from . import schedule, services
from .auth_settings import MASK
from .models import DELIVERY_STATUSES, PENDING, Webhook

bp = Blueprint("webhooks_console", __name__, template_folder="templates",
               url_prefix="/webhooks")


def pages() -> list[ConsolePage]:
    return [
        ConsolePage("Webhooks", "webhooks_console.webhooks", bp, roles=("manager",),
                    description="Where your properties' events are sent, and how to sign in "
                                "there."),
        ConsolePage("Webhook deliveries", "webhooks_console.deliveries", bp, roles=("manager",),
                    description="Every notification sent, each attempt, retries and "
                                "redelivery."),
    ]


def _manager() -> User:
    user = current_user()
    assert user is not None  # the console lets no one in unsigned
    return user


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "—"


def duration(seconds: float) -> str:
    """5 s, 5 min, 2 h: the retry schedule as people read it."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


# -- webhooks ------------------------------------------------------------------------------


def _list_page(status: int = 200, **shown: Any) -> tuple[str, int]:
    kit = get_kit()
    user = _manager()
    webhooks = [services.webhook_json(kit, w) for w in services.list_webhooks(kit, user.manager_id)]
    return render_template("webhooks_core/webhooks.html", webhooks=webhooks,
                           authmethods=kit.authmethods, properties=_property_names(user),
                           when=when, **shown), status


@bp.get("/", endpoint="webhooks")
def webhooks_page() -> tuple[str, int]:
    return _list_page()


@bp.route("/new", methods=["GET", "POST"])
def new() -> tuple[str, int]:
    kit = get_kit()
    user = _manager()
    if request.method == "GET":
        return _form_page(kit, user, None, {"url": "", "authmethod": _default_method(kit),
                                            "settings": {}, "events": [], "property_uids": []})
    sent = _sent_form(kit)
    try:
        with kit.transaction():
            webhook, secret = services.create_webhook(
                kit, user.manager_id, sent["url"], sent["authmethod"], sent["settings"],
                sent["events"], sent["property_uids"])
            webhook_id = webhook.id
    except JomresKitError as exc:
        flash(exc.message, "error")
        return _form_page(kit, user, None, _without_secrets(kit, sent), 422)
    flash(f"Webhook {webhook_id} created. Copy its signing secret now: it cannot be shown "
          "again.", "success")
    refused = services.refused_address(kit, sent["url"])
    if refused:
        flash(refused[0].upper() + refused[1:] + ".", "warning")
    # Shown in this answer only, never stored in the session or a redirect.
    return _list_page(201, new_secret=secret, secret_webhook_id=webhook_id)


@bp.route("/<int:webhook_id>/edit", methods=["GET", "POST"])
def edit(webhook_id: int) -> tuple[str, int] | Response:
    kit = get_kit()
    user = _manager()
    try:
        webhook = services.get_webhook(kit, webhook_id, user.manager_id)
    except JomresKitError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".webhooks"))
    if request.method == "GET":
        return _form_page(kit, user, webhook, services.webhook_json(kit, webhook))
    sent = _sent_form(kit)
    try:
        with kit.transaction():
            services.update_webhook(
                kit, webhook_id, user.manager_id, url=sent["url"],
                authmethod=sent["authmethod"], settings_values=sent["settings"],
                events=sent["events"], property_uids=sent["property_uids"])
    except JomresKitError as exc:
        flash(exc.message, "error")
        webhook = services.get_webhook(kit, webhook_id, user.manager_id)
        return _form_page(kit, user, webhook, _without_secrets(kit, sent, webhook), 422)
    flash(f"Webhook {webhook_id} saved.", "success")
    return redirect(url_for(".webhooks"))


def _default_method(kit: Kit) -> str:
    return "none" if "none" in kit.authmethods else next(iter(sorted(kit.authmethods)), "")


def _form_page(kit: Kit, user: User, webhook: Webhook | None, values: Mapping[str, Any],
               status: int = 200) -> tuple[str, int]:
    return render_template(
        "webhooks_core/form.html", webhook=webhook, values=values,
        authmethods=sorted(kit.authmethods.values(), key=lambda m: m.label.lower()),
        events=sorted(kit.catalog, key=lambda e: e.name), properties=user.properties,
        mask=MASK,
    ), status


def _field_name(method: AuthMethod, key: str) -> str:
    return f"setting-{method.name}-{key}"


def _sent_form(kit: Kit) -> dict[str, Any]:
    """The webhook form as sent: only the chosen auth method's settings are read."""
    form = request.form
    name = form.get("authmethod", "")
    method = kit.authmethods.get(name)
    values: dict[str, Any] = {}
    if method is not None:
        for spec in method.fields:
            field = _field_name(method, spec.key)
            if spec.format == "boolean":
                values[spec.key] = "true" if form.get(field) else "false"
            else:
                values[spec.key] = form.get(field, "")
    property_uids = [int(uid) for uid in form.getlist("property") if uid.isdigit()]
    return {"url": form.get("url", ""), "authmethod": name, "settings": values,
            "events": form.getlist("event"), "property_uids": property_uids}


def _without_secrets(kit: Kit, sent: Mapping[str, Any],
                     webhook: Webhook | None = None) -> dict[str, Any]:
    """The form as sent, to show again after a refusal, minus what was typed into secret
    fields (a stored secret still shows as the mask)."""
    method = kit.authmethods.get(sent["authmethod"])
    stored = services.webhook_json(kit, webhook)["settings"] if webhook is not None else {}
    shown = dict(sent["settings"])
    for spec in method.fields if method else ():
        if spec.secret:
            shown[spec.key] = stored.get(spec.key, "") if (
                webhook is not None and webhook.authmethod == sent["authmethod"]) else ""
    return {**sent, "settings": shown}


def _property_names(user: User) -> dict[int, str]:
    return {p.property_uid: p.name for p in user.properties}


def _change(webhook_id: int, done: str, **change: Any) -> Response:
    return _act(webhook_id, done, services.update_webhook, **change)


def _act(webhook_id: int, done: str, action: Any, **change: Any) -> Response:
    """Do ``action`` (a ``services`` function) to one of the manager's webhooks, then go back
    to the page the form was on."""
    kit = get_kit()
    try:
        with kit.transaction():
            action(kit, webhook_id, _manager().manager_id, **change)
    except JomresKitError as exc:
        flash(exc.message, "error")
    else:
        flash(done, "success")
    if request.form.get("back") == "deliveries":
        return redirect(url_for(".deliveries", webhook=webhook_id))
    return redirect(url_for(".webhooks"))


@bp.post("/<int:webhook_id>/enable")
def enable(webhook_id: int) -> Response:
    return _change(webhook_id, f"Webhook {webhook_id} enabled.", enabled=True)


@bp.post("/<int:webhook_id>/disable")
def disable(webhook_id: int) -> Response:
    return _change(webhook_id, f"Webhook {webhook_id} disabled; events are not sent to it "
                               "until you enable it.", enabled=False)


@bp.post("/<int:webhook_id>/pause")
def pause(webhook_id: int) -> Response:
    return _act(webhook_id, f"Webhook {webhook_id} paused: events are queued for it, and "
                            "sent in order when you resume it.", services.pause_webhook)


@bp.post("/<int:webhook_id>/resume")
def resume(webhook_id: int) -> Response:
    return _act(webhook_id, f"Webhook {webhook_id} resumed: what was queued goes out now, "
                            "oldest first.", services.resume_webhook)


@bp.post("/<int:webhook_id>/delete")
def delete(webhook_id: int) -> Response:
    kit = get_kit()
    try:
        with kit.transaction():
            services.delete_webhook(kit, webhook_id, _manager().manager_id)
    except JomresKitError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Webhook {webhook_id} deleted, with its deliveries.", "success")
    return redirect(url_for(".webhooks"))


@bp.post("/<int:webhook_id>/rotate-secret")
def rotate_secret(webhook_id: int) -> tuple[str, int] | Response:
    kit = get_kit()
    try:
        with kit.transaction():
            secret = services.rotate_secret(kit, webhook_id, _manager().manager_id)
    except JomresKitError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".webhooks"))
    flash(f"Webhook {webhook_id} has a new signing secret; requests are signed with it from "
          "now on. Copy it now: it cannot be shown again.", "success")
    return _list_page(new_secret=secret, secret_webhook_id=webhook_id)


@bp.post("/<int:webhook_id>/test")
def send_test(webhook_id: int) -> Response:
    kit = get_kit()
    try:
        sent = services.send_test(kit, webhook_id, _manager().manager_id)
    except JomresKitError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".webhooks"))
    attempt = sent["attempt_log"][-1] if sent["attempt_log"] else {}
    if sent["status"] == "succeeded":
        flash(f"Test event delivered: HTTP {attempt.get('status_code')} in "
              f"{attempt.get('duration_ms')} ms.", "success")
    else:
        reason = attempt.get("error") or f"HTTP {attempt.get('status_code')}"
        flash(f"Test event failed: {str(reason).rstrip('.')}.", "error")
    return redirect(url_for(".deliveries", webhook=webhook_id))


# -- deliveries ----------------------------------------------------------------------------


@bp.get("/deliveries", endpoint="deliveries", strict_slashes=False)
def deliveries_page() -> tuple[str, int] | Response:
    kit = get_kit()
    user = _manager()
    webhook_id = request.args.get("webhook", type=int)
    status = request.args.get("status") or None
    try:
        webhook = (services.webhook_json(kit, services.get_webhook(kit, webhook_id,
                                                                    user.manager_id))
                   if webhook_id is not None else None)
        found = services.list_deliveries(kit, webhook_id=webhook_id, status=status,
                                         manager_id=user.manager_id, limit=50)
    except JomresKitError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".deliveries"))
    shown = [services.delivery_json(d, with_attempts=True) for d in found]
    for delivery in shown:
        delivery["retries_after"] = _later_retries(delivery)
    return render_template(
        "webhooks_core/deliveries.html", deliveries=shown, webhook=webhook, status=status,
        statuses=DELIVERY_STATUSES, webhooks=services.list_webhooks(kit, user.manager_id),
        attempts_allowed=schedule.ATTEMPTS, when=when,
    ), 200


def _later_retries(delivery: Mapping[str, Any]) -> list[str]:
    """The waits after the next attempt, should it fail too (the schedule's rest)."""
    if delivery["status"] != PENDING or not delivery["attempts"]:
        return []
    return [duration(s) for s in schedule.SCHEDULE[delivery["attempts"]:]]


@bp.post("/deliveries/<int:delivery_id>/redeliver")
def redeliver(delivery_id: int) -> Response:
    kit = get_kit()
    try:
        with kit.transaction():
            services.redeliver(kit, delivery_id, _manager().manager_id)
    except JomresKitError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Delivery {delivery_id} queued again; it is sent within moments.", "success")
    webhook_id = request.form.get("webhook", type=int)
    return redirect(url_for(".deliveries", webhook=webhook_id) if webhook_id
                    else url_for(".deliveries"))
