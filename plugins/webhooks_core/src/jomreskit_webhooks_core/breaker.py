"""The circuit breaker of each webhook, and the health that drives it, shared by every worker.

A webhook's circuit is *closed* while it answers. After ``failures`` failed attempts in a row
(errors, timeouts, non-2xx answers) counted within ``window`` of the first of them, it
*opens*: no worker attempts the webhook for a cool-off (``cooloff``, doubled after each failed
probe, an hour at most). When the cool-off is over and a delivery is due, one worker takes the
circuit to *probing* and sends that one delivery, the oldest due: success closes the circuit,
failure opens it again for longer. Deliveries due meanwhile stay queued, untouched (no attempt
counted), and are sent oldest first once it closes. A paused webhook (``paused_at``) is
neither attempted nor probed, so nothing counts against it while it is paused; resuming it
moves its failing streak on by the paused time (``services.resume_webhook``).

The state lives in the ``webhooks`` row (models.py), so every worker, on every machine, sees
the same circuit; it is read and changed under the row's lock (``FOR UPDATE`` on PostgreSQL,
SQLite's write lock), so two workers' outcomes add up. A change of state is an event in the
catalog (``webhook_circuit_opened``, ``webhook_circuit_closed``, and ``webhook_disabled`` when a
webhook is turned off for failing for days or for a 410), fired in the same transaction, so the
manager's other webhooks and the event feed learn of it.

The breaker is per webhook rather than per host: a host that serves many managers (a channel
manager) may fail one manager's endpoint (its path, its credentials) and serve the others; the
worker's per-host cap bounds what a host that is down for all costs meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case, exists, func, select, update

from jomreskit import EventType

from .models import CLOSED, OPEN, PENDING, PROBING, Delivery, Webhook

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.webhooks")

LONGEST_COOLOFF = timedelta(hours=1)

OPENED = "webhook_circuit_opened"
CLOSED_AGAIN = "webhook_circuit_closed"
DISABLED = "webhook_disabled"
# Notices to the webhook's manager (``for_manager``): the event feed shows them to that
# manager, though they carry no property.
EVENTS = [
    EventType(OPENED, ("manager_id", "webhook_id"),
              "A webhook failed again and again: no deliveries are attempted for a while, "
              "then one probe (they stay queued meanwhile).", for_manager=True),
    EventType(CLOSED_AGAIN, ("manager_id", "webhook_id"),
              "A webhook whose circuit was open answered again: its queued deliveries go out.",
              for_manager=True),
    EventType(DISABLED, ("manager_id", "webhook_id"),
              "A webhook was disabled: failing for days, or its endpoint answered 410 Gone.",
              for_manager=True),
]

WEBHOOKS = Webhook.__table__
DELIVERIES = Delivery.__table__
# Health changes leave updated_at alone: it says when the webhook's settings changed, and
# workers keep their decrypted copy of a webhook by it.
_KEEP_VERSION = {"updated_at": WEBHOOKS.c.updated_at}


@dataclass(frozen=True)
class Policy:
    """When a circuit opens, and for how long."""

    failures: int
    window: timedelta
    cooloff: timedelta

    def cooloff_after(self, opens: int) -> timedelta:
        """The cool-off after the circuit's ``opens``-th opening in a row."""
        return min(self.cooloff * (2 ** max(0, min(opens - 1, 20))), LONGEST_COOLOFF)


@dataclass
class Failures:
    """A batch's failed attempts to one webhook: how many, and the last error."""

    count: int
    reason: str


def recovered(kit: Kit, webhook_ids: Iterable[int]) -> set[int]:
    """Webhooks that had a success: end their failing streak, and close their circuit (firing
    ``webhook_circuit_closed``) where it was open or probing. In the caller's transaction;
    returns the webhooks whose circuit closed."""
    ids = sorted(set(webhook_ids))
    if not ids:
        return set()
    session = kit.session()
    session.execute(update(Webhook).where(Webhook.id.in_(ids))
                    .values(failing_since=None, circuit_failures=0, circuit_counted_from=None,
                            **_KEEP_VERSION))
    reopened = session.execute(
        select(WEBHOOKS.c.id, WEBHOOKS.c.manager_id)
        .where(WEBHOOKS.c.id.in_(ids), WEBHOOKS.c.circuit != CLOSED)
        .with_for_update()).all()
    for webhook_id, manager_id in reopened:
        session.execute(update(Webhook).where(Webhook.id == webhook_id)
                        .values(circuit=CLOSED, circuit_opens=0, circuit_opened_at=None,
                                circuit_until=None, circuit_reason=None, **_KEEP_VERSION))
        log.warning("webhook %s answers again: its circuit is closed", webhook_id)
        kit.fire(CLOSED_AGAIN, manager_id=manager_id, webhook_id=webhook_id)
    return {webhook_id for webhook_id, _ in reopened}


def failed(kit: Kit, policy: Policy, failures: Mapping[int, Failures], probes: Iterable[int],
           disable_after: timedelta, now: datetime) -> set[int]:
    """Count a batch's failed attempts against each webhook: its failing streak (and the
    automatic disable after ``disable_after``), and its circuit (opened after a run of
    failures; opened again, for longer, when its probe in ``probes`` failed). In the caller's
    transaction; returns the webhooks whose circuit is not closed now, for the worker to stop
    sending to (whoever opened it)."""
    if not failures:
        return set()
    session = kit.session()
    probes = set(probes)
    not_closed: set[int] = set()
    rows = session.execute(select(WEBHOOKS).where(WEBHOOKS.c.id.in_(sorted(failures)))
                           .order_by(WEBHOOKS.c.id).with_for_update()).all()
    for webhook in rows:
        failure = failures[webhook.id]
        changes: dict[str, Any] = {}
        if webhook.failing_since is None:
            changes["failing_since"] = now
        circuit = webhook.circuit
        if circuit == CLOSED:
            counted_from = webhook.circuit_counted_from
            if counted_from is None or now - counted_from > policy.window:
                counted_from, count = now, failure.count
            else:
                count = webhook.circuit_failures + failure.count
            changes.update(circuit_failures=count, circuit_counted_from=counted_from)
            if 0 < policy.failures <= count and webhook.enabled:
                circuit = OPEN
                _open(changes, policy, webhook.circuit_opens + 1, now,
                      f"{count} attempts failed in a row; last error: {failure.reason}")
                log.warning("webhook %s: %d attempts failed in a row, circuit open for %s (%s)",
                            webhook.id, count, policy.cooloff_after(webhook.circuit_opens + 1),
                            failure.reason)
        elif circuit == PROBING and webhook.id in probes:
            circuit = OPEN
            _open(changes, policy, webhook.circuit_opens + 1, now,
                  f"the probe failed: {failure.reason}", opened_at=webhook.circuit_opened_at)
        if circuit != CLOSED:
            not_closed.add(webhook.id)
        session.execute(update(Webhook).where(Webhook.id == webhook.id)
                        .values(**changes, **_KEEP_VERSION))
        if circuit == OPEN and webhook.circuit == CLOSED:
            kit.fire(OPENED, manager_id=webhook.manager_id, webhook_id=webhook.id)
        since = webhook.failing_since or now
        if webhook.enabled and since <= now - disable_after:
            days = (now - since).total_seconds() / 86400
            disable(kit, webhook.id,
                    f"every delivery failed for {days:.1f} days (since {since:%Y-%m-%d %H:%M} "
                    f"UTC); last error: {failure.reason}", now)
    return not_closed


def _open(changes: dict[str, Any], policy: Policy, opens: int, now: datetime, reason: str,
          opened_at: datetime | None = None) -> None:
    changes.update(circuit=OPEN, circuit_opens=opens, circuit_opened_at=opened_at or now,
                   circuit_until=now + policy.cooloff_after(opens), circuit_reason=reason,
                   circuit_failures=0, circuit_counted_from=None)


def disable(kit: Kit, webhook_id: int, reason: str, now: datetime) -> None:
    """Turn a webhook off (firing ``webhook_disabled``), saying why; enabling it again clears
    the reason."""
    manager_id = kit.session().scalar(
        update(Webhook).where(Webhook.id == webhook_id, Webhook.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=now)
        .returning(Webhook.manager_id))
    if manager_id is not None:
        log.warning("webhook %s disabled: %s", webhook_id, reason)
        kit.fire(DISABLED, manager_id=manager_id, webhook_id=webhook_id)


# -- probes --------------------------------------------------------------------------------

_DUE_ROW = exists().where(DELIVERIES.c.webhook_id == WEBHOOKS.c.id,
                          DELIVERIES.c.status == PENDING,
                          DELIVERIES.c.next_attempt_at <= bindparam("now"))
_TAKE_PROBES = (
    update(Webhook)
    .where(WEBHOOKS.c.circuit.in_((OPEN, PROBING)), WEBHOOKS.c.circuit_until <= bindparam("now"),
           WEBHOOKS.c.enabled.is_(True), WEBHOOKS.c.paused_at.is_(None), _DUE_ROW)
    .values(circuit=PROBING, circuit_until=bindparam("leased_until"), **_KEEP_VERSION)
    .returning(WEBHOOKS.c.id)
)


def take_probes(connection: Any, now: datetime, lease: timedelta) -> list[int]:
    """The webhooks whose cool-off is over and that have a delivery due, taken to "probing"
    for this worker (a probe whose worker died is taken over when its lease runs out)."""
    rows = connection.execute(_TAKE_PROBES, {"now": now, "leased_until": now + lease}).all()
    return [row.id for row in rows]


_FIRST_DUE = (select(func.min(DELIVERIES.c.next_attempt_at))
              .where(DELIVERIES.c.webhook_id == WEBHOOKS.c.id, DELIVERIES.c.status == PENDING)
              .scalar_subquery())
# A probe goes once the cool-off is over and a delivery is due, whichever comes later.
_PROBE_AT = case((WEBHOOKS.c.circuit_until > _FIRST_DUE, WEBHOOKS.c.circuit_until),
                 else_=_FIRST_DUE)
NEXT_PROBE = (
    select(_PROBE_AT)
    .where(WEBHOOKS.c.circuit.in_((OPEN, PROBING)), WEBHOOKS.c.enabled.is_(True),
           WEBHOOKS.c.paused_at.is_(None), _FIRST_DUE.is_not(None))
    .order_by(_PROBE_AT).limit(1)
)


def state_json(webhook: Any) -> dict[str, Any]:
    """A circuit as listings show it: its state, since when, until when, and why."""
    return {"state": webhook.circuit, "opened_at": webhook.circuit_opened_at,
            "until": webhook.circuit_until if webhook.circuit != CLOSED else None,
            "reason": webhook.circuit_reason, "opens": webhook.circuit_opens}
