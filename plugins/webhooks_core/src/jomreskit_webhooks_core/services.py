"""Managing webhooks and deliveries: the functions the CLI (and a web console) call.

Each works in the caller's transaction and does not commit (wrap calls in
``kit.transaction()``), except ``send_test``, which sends over the network and so commits on
its own. Functions that take ``manager_id`` act for that manager: a webhook or delivery that
is not theirs is reported as not found. Without it they act for the site's operator.
Secrets never leave these functions in clear, except the signing secret returned by
``create_webhook`` and ``rotate_secret``, shown to the user that one time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from jomreskit import MAX_ID, Conflict, NotFound, PermissionDenied, ValidationError, check_http_url
from jomreskit.db import timestamp_text, utcnow
from jomreskit.domain import ManagerProperty, User
from jomreskit.domain import services as domain_services

from . import auth_settings, breaker, config, message, wakeup
from .models import (
    CLOSED,
    DELIVERY_STATUSES,
    FAILED,
    PENDING,
    PROBING,
    Delivery,
    DeliveryAttempt,
    Webhook,
)

if TYPE_CHECKING:
    from jomreskit import Kit

PING = "ping"


# -- webhooks ----------------------------------------------------------------------------


def webhook_json(kit: Kit, webhook: Webhook) -> dict[str, Any]:
    """A webhook as listings show it: secret settings masked, no signing secret."""
    return {
        "id": webhook.id, "manager_id": webhook.manager_id, "url": webhook.url,
        "authmethod": webhook.authmethod, "settings": auth_settings.shown(kit, webhook),
        "events": list(webhook.events or []), "property_uids": list(webhook.property_uids or []),
        "enabled": webhook.enabled, "disabled_reason": webhook.disabled_reason,
        "failing_since": webhook.failing_since, "circuit": breaker.state_json(webhook),
        "paused_at": webhook.paused_at,
        "created_at": webhook.created_at, "updated_at": webhook.updated_at,
    }


def circuit_text(circuit: Mapping[str, Any]) -> str:
    """A circuit in a few words, for tables: closed, open since ... (until ...), probing."""
    if circuit["state"] == CLOSED:
        return "closed"
    since = timestamp_text(circuit["opened_at"]) if circuit["opened_at"] else "?"
    if circuit["state"] == PROBING:
        return f"probing (open since {since})"
    until = timestamp_text(circuit["until"]) if circuit["until"] else "?"
    return f"open since {since}, probe after {until}"


def paused_text(paused_at: datetime | None) -> str:
    """A pause in a few words, for tables: "" when not paused."""
    return f"since {timestamp_text(paused_at)}" if paused_at else ""


def pending_count(kit: Kit, webhook_id: int) -> int:
    """How many of a webhook's deliveries wait to be sent (or to be tried again)."""
    return int(kit.session().scalar(select(func.count()).select_from(Delivery).where(
        Delivery.webhook_id == webhook_id, Delivery.status == PENDING)) or 0)


def read_webhook(kit: Kit, _property_uid: int, webhook_id: int | None) -> dict[str, Any] | None:
    """The record of a webhook event's callback: the webhook as its listings show it (secret
    settings masked, never its signing secret), with its circuit; None when it is gone. The
    callback answers it to the webhook's own manager only (its ``manager_id``)."""
    webhook = (kit.session().get(Webhook, webhook_id, populate_existing=True)
               if webhook_id is not None and 0 < webhook_id <= MAX_ID else None)
    if webhook is None:
        return None
    found = webhook_json(kit, webhook)
    found["webhook_id"] = found["id"]
    return _json_ready(found)


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


def get_webhook(kit: Kit, webhook_id: int, manager_id: int | None = None) -> Webhook:
    """The webhook ``webhook_id`` (of ``manager_id``, when given), or NotFound."""
    webhook = (kit.session().get(Webhook, webhook_id, populate_existing=True)
               if 0 < webhook_id <= MAX_ID else None)
    if webhook is None or (manager_id is not None and webhook.manager_id != manager_id):
        raise NotFound(f"no webhook {webhook_id}", code="invalid_webhook_id")
    return webhook


def list_webhooks(kit: Kit, manager_id: int | None = None) -> list[Webhook]:
    """Every webhook, or one manager's, oldest first."""
    query = select(Webhook).order_by(Webhook.id)
    if manager_id is not None:
        query = query.where(Webhook.manager_id == manager_id)
    return list(kit.session().scalars(query.execution_options(populate_existing=True)))


def create_webhook(
    kit: Kit,
    manager: int | str,
    url: str,
    authmethod: str = "none",
    settings_values: Mapping[str, Any] | None = None,
    events: Iterable[str] = (),
    property_uids: Iterable[int] = (),
    enabled: bool = True,
) -> tuple[Webhook, str]:
    """Create a webhook for ``manager`` (id or username); returns it and its signing secret.

    Super managers cannot have webhooks. ``events`` and ``property_uids`` filter what is sent
    (empty: everything); the properties must be the manager's own.
    """
    owner = _manager(kit, manager)
    if owner.is_super:
        raise PermissionDenied(
            f"{owner.username} is a super manager, and super managers cannot have webhooks: "
            "create the webhook for a manager of the properties", code="super_manager_webhook")
    method = auth_settings.authmethod(kit, authmethod)
    secret = message.new_signing_secret()
    webhook = Webhook(manager_id=owner.manager_id, url=_url(url), authmethod=method.name,
                      events=_events(kit, events),
                      property_uids=_properties(kit, owner.manager_id, property_uids),
                      enabled=enabled, signing_secret=kit.secret_box.encrypt(secret))
    auth_settings.store(kit, webhook, method, settings_values or {})
    session = kit.session()
    session.add(webhook)
    session.flush()
    return webhook, secret


def refused_address(kit: Kit, url: str) -> str | None:
    """Why deliveries to ``url`` will be refused as the site is set up, naming the setting that
    opens the address; None when they may go. Said when a webhook is made, rather than first
    at its failed delivery. Only an address written in the URL (or ``localhost``) is judged
    here: a name is resolved when each delivery connects, and checked then."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    reason = config.site_guard(kit).refusal(address)
    if reason is None:
        return None
    opening = "127.0.0.0/8" if address.is_loopback and address.version == 4 else (
        f"{address}/{address.max_prefixlen}")
    return (f"deliveries to {url} will be refused: {reason}. To send there, open it in "
            f"JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS (e.g. {opening}) for every process of the site "
            "(serve, worker)")


def update_webhook(
    kit: Kit,
    webhook_id: int,
    manager_id: int | None = None,
    *,
    url: str | None = None,
    authmethod: str | None = None,
    settings_values: Mapping[str, Any] | None = None,
    events: Iterable[str] | None = None,
    property_uids: Iterable[int] | None = None,
    enabled: bool | None = None,
) -> Webhook:
    """Change what is given. Settings merge with the stored ones (a secret left out, or sent
    back as ``********``, is kept); changing the auth method starts its settings afresh.
    Enabling a webhook clears why it was disabled."""
    webhook = get_webhook(kit, webhook_id, manager_id)
    if url is not None:
        webhook.url = _url(url)
    if authmethod is not None or settings_values is not None:
        method = auth_settings.authmethod(kit, authmethod or webhook.authmethod)
        values = auth_settings.merged(kit, webhook, method, settings_values or {})
        auth_settings.store(kit, webhook, method, values)
        webhook.authmethod = method.name
    if events is not None:
        webhook.events = _events(kit, events)
    if property_uids is not None:
        webhook.property_uids = _properties(kit, webhook.manager_id, property_uids)
    if enabled is not None:
        webhook.enabled = enabled
        if enabled:  # and tried again at once: a fresh start
            webhook.disabled_reason = None
            webhook.failing_since = None
            webhook.circuit, webhook.circuit_failures, webhook.circuit_opens = CLOSED, 0, 0
            webhook.circuit_counted_from = webhook.circuit_opened_at = None
            webhook.circuit_until = webhook.circuit_reason = None
        elif not webhook.disabled_reason:
            webhook.disabled_reason = "disabled by hand"
    webhook.updated_at = utcnow()
    kit.session().flush()
    return webhook


def pause_webhook(kit: Kit, webhook_id: int, manager_id: int | None = None) -> Webhook:
    """Pause a webhook: its deliveries keep being queued, and no worker sends any until it is
    resumed. Attempts already under way finish. Pausing a paused webhook changes nothing."""
    webhook = get_webhook(kit, webhook_id, manager_id)
    if webhook.paused_at is None:
        webhook.paused_at = utcnow()
        kit.session().flush()
    return webhook


def resume_webhook(kit: Kit, webhook_id: int, manager_id: int | None = None) -> Webhook:
    """Resume a paused webhook: what was queued meanwhile goes out, oldest first.

    The paused time does not count against the webhook: a failing streak or a run of failures
    the breaker was counting when it was paused goes on from where it stood, so a webhook
    paused for a week is not disabled by its first failure after (see breaker.py).
    """
    webhook = get_webhook(kit, webhook_id, manager_id)
    if webhook.paused_at is None:
        return webhook
    paused_for = utcnow() - webhook.paused_at
    if webhook.failing_since is not None:
        webhook.failing_since += paused_for
    if webhook.circuit_counted_from is not None:
        webhook.circuit_counted_from += paused_for
    webhook.paused_at = None
    session = kit.session()
    session.flush()
    wakeup.queued(kit, session)  # its queue is due now: wake the workers at commit
    return webhook


def delete_webhook(kit: Kit, webhook_id: int, manager_id: int | None = None) -> None:
    """Delete a webhook with its deliveries and their attempt logs."""
    webhook = get_webhook(kit, webhook_id, manager_id)
    session = kit.session()
    session.delete(webhook)
    session.flush()


def rotate_secret(kit: Kit, webhook_id: int, manager_id: int | None = None) -> str:
    """Give the webhook a new signing secret and return it (shown this once)."""
    webhook = get_webhook(kit, webhook_id, manager_id)
    secret = message.new_signing_secret()
    webhook.signing_secret = kit.secret_box.encrypt(secret)
    webhook.updated_at = utcnow()
    kit.session().flush()
    return secret


def send_test(kit: Kit, webhook_id: int, manager_id: int | None = None) -> dict[str, Any]:
    """Send a ``ping`` to the webhook now and return the delivery with its one attempt.

    The ping is signed and authenticated like any delivery; it is not retried. Commits.
    """
    from .sender import Job
    from .worker import WebhookVersion, Worker, _Done

    with kit.transaction() as session:
        webhook = get_webhook(kit, webhook_id, manager_id)
        payload = message.body(PING, utcnow(), {}, webhook.manager_id, None)
        worker = Worker(kit, concurrency=1)
        delivery = Delivery(webhook_id=webhook.id, event_type=PING, msg_id=message.new_msg_id(),
                            payload=payload, status=PENDING, attempts=0, claim="test",
                            next_attempt_at=utcnow() + worker.lease)  # workers leave it alone
        session.add(delivery)
        session.flush()
        job = Job(id=delivery.id, claim="test", webhook_id=webhook.id, msg_id=delivery.msg_id,
                  event_type=PING, payload=payload, attempts=0)
        version = WebhookVersion(webhook.id, webhook.updated_at, webhook.enabled,
                                 webhook.failing_since)
        target = worker.targets(session, [version]).get(webhook.id)
    outcome = worker.sender.attempt(job, target)
    outcome.retry_at = None
    worker.record([_Done(job, outcome)])
    worker.close()
    with kit.transaction():
        return delivery_json(get_delivery(kit, delivery.id), with_attempts=True)


def _manager(kit: Kit, manager: int | str) -> User:
    return domain_services.find_manager(kit, manager)


def _url(url: str) -> str:
    return check_http_url(url, "the webhook URL")


def _events(kit: Kit, events: Iterable[str]) -> list[str]:
    names = sorted({str(e).strip() for e in events if str(e).strip()})
    for name in names:
        kit.catalog.get(name)  # a clear error for an unknown event
    return names


def _properties(kit: Kit, manager_id: int, property_uids: Iterable[int]) -> list[int]:
    uids = sorted({int(p) for p in property_uids})
    if uids:
        linked = set(kit.session().scalars(select(ManagerProperty.property_uid).where(
            ManagerProperty.manager_id == manager_id)))
        foreign = [uid for uid in uids if uid not in linked]
        if foreign:
            raise PermissionDenied(
                f"manager {manager_id} does not run propert{'y' if len(foreign) == 1 else 'ies'} "
                f"{', '.join(map(str, foreign))}", code="invalid_property_uid")
    return uids


# -- deliveries ----------------------------------------------------------------------------


def delivery_json(delivery: Delivery, with_attempts: bool = False,
                  attempts: Iterable[DeliveryAttempt] = ()) -> dict[str, Any]:
    """A delivery as shown: status, attempts made, last answer; with its attempt log if asked."""
    result: dict[str, Any] = {
        "id": delivery.id, "webhook_id": delivery.webhook_id, "event_id": delivery.event_id,
        "event_type": delivery.event_type, "msg_id": delivery.msg_id, "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at if delivery.status == PENDING else None,
        "last_status_code": delivery.last_status_code, "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at, "created_at": delivery.created_at,
    }
    if with_attempts:
        result["payload"] = delivery.payload
        result["attempt_log"] = [
            {"attempted_at": a.attempted_at, "duration_ms": a.duration_ms,
             "status_code": a.status_code, "response_excerpt": a.response_excerpt,
             "error": a.error}
            for a in (attempts or _attempts(delivery))
        ]
    return result


def _attempts(delivery: Delivery) -> list[DeliveryAttempt]:
    from sqlalchemy.orm import object_session

    session = object_session(delivery)
    assert session is not None
    return list(session.scalars(select(DeliveryAttempt).where(
        DeliveryAttempt.delivery_id == delivery.id).order_by(DeliveryAttempt.id)))


def get_delivery(kit: Kit, delivery_id: int, manager_id: int | None = None) -> Delivery:
    """The delivery ``delivery_id`` (to one of ``manager_id``'s webhooks, when given)."""
    delivery = (kit.session().get(Delivery, delivery_id, populate_existing=True)
                if 0 < delivery_id <= MAX_ID else None)
    if delivery is None or (manager_id is not None
                            and get_webhook(kit, delivery.webhook_id).manager_id != manager_id):
        raise NotFound(f"no delivery {delivery_id}", code="invalid_delivery_id")
    return delivery


def list_deliveries(kit: Kit, webhook_id: int | None = None, status: str | None = None,
                    manager_id: int | None = None, limit: int = 50,
                    before_id: int | None = None) -> list[Delivery]:
    """Deliveries, newest first; ``before_id`` pages back through older ones."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationError(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
    query = select(Delivery).order_by(Delivery.id.desc()).limit(max(1, min(limit, 1000)))
    if webhook_id is not None:
        get_webhook(kit, webhook_id, manager_id)
        query = query.where(Delivery.webhook_id == webhook_id)
    elif manager_id is not None:
        query = query.join(Webhook, Webhook.id == Delivery.webhook_id).where(
            Webhook.manager_id == manager_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    if before_id is not None:
        query = query.where(Delivery.id < before_id)
    return list(kit.session().scalars(query.execution_options(populate_existing=True)))


def redeliver(kit: Kit, delivery_id: int, manager_id: int | None = None) -> Delivery:
    """Queue a delivery again now, with a fresh set of retries and the same ``webhook-id``."""
    delivery = get_delivery(kit, delivery_id, manager_id)
    webhook = get_webhook(kit, delivery.webhook_id)
    if not webhook.enabled:
        raise Conflict(f"webhook {webhook.id} is disabled; enable it first",
                       code="webhook_disabled")
    if delivery.status == PENDING and delivery.claim is not None:
        raise Conflict(f"delivery {delivery_id} is being sent right now", code="delivery_in_flight")
    _requeue(delivery)
    kit.session().flush()
    wakeup.queued(kit, kit.session())
    return delivery


def recover(kit: Kit, since: datetime, webhook_id: int | None = None,
            manager_id: int | None = None,
            progress: Callable[[int], Any] | None = None) -> int:
    """Queue again every failed delivery created since ``since`` (of one webhook, if given) to
    enabled webhooks; returns how many. ``progress(n)`` is called as rows are queued."""
    query = (select(Delivery).join(Webhook, Webhook.id == Delivery.webhook_id)
             .where(Delivery.status == FAILED, Delivery.created_at >= since,
                    Webhook.enabled.is_(True)).order_by(Delivery.id))
    if webhook_id is not None:
        get_webhook(kit, webhook_id, manager_id)
        query = query.where(Delivery.webhook_id == webhook_id)
    elif manager_id is not None:
        query = query.where(Webhook.manager_id == manager_id)
    session = kit.session()
    count = 0
    for delivery in session.scalars(query.execution_options(yield_per=500, populate_existing=True)):
        _requeue(delivery)
        count += 1
        if progress is not None:
            progress(1)
    session.flush()
    if count:
        wakeup.queued(kit, session)
    return count


def recover_count(kit: Kit, since: datetime, webhook_id: int | None = None,
                  manager_id: int | None = None) -> int:
    """How many deliveries ``recover`` would queue (for a progress bar)."""
    query = (select(func.count()).select_from(Delivery)
             .join(Webhook, Webhook.id == Delivery.webhook_id)
             .where(Delivery.status == FAILED, Delivery.created_at >= since,
                    Webhook.enabled.is_(True)))
    if webhook_id is not None:
        query = query.where(Delivery.webhook_id == webhook_id)
    elif manager_id is not None:
        query = query.where(Webhook.manager_id == manager_id)
    return int(kit.session().scalar(query) or 0)


def _requeue(delivery: Delivery) -> None:
    delivery.status = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.claim = None

