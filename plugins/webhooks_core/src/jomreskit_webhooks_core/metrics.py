"""webhooks_core's Prometheus metrics, in the site's registry (``kit.metrics``).

Counted by the process that made the attempts: ``jomreskit_webhook_attempts_total`` and the
attempt duration histogram. Read from the database when scraped, the same from every process:
the outbox's backlog, the age of the oldest delivery due and not sent, the webhooks by state,
and each circuit that is not closed. Labels are bounded: outcomes, status classes, states,
and the ids of webhooks whose circuit is open (never URLs).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, literal_column, select

from jomreskit.db import utcnow

from .models import CIRCUIT_STATES, CLOSED, PENDING, Delivery, Webhook

if TYPE_CHECKING:
    from jomreskit import Kit

    from .sender import Outcome

OUTCOMES = ("succeeded", "retrying", "failed", "skipped")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "none")
# Seconds: a loopback answer takes a few milliseconds, a slow receiver up to the timeout (15 s).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
_STATE = "jomreskit_webhooks_core_metrics"
_lock = threading.Lock()

WEBHOOKS = Webhook.__table__
DELIVERIES = Delivery.__table__


def status_class(code: int | None) -> str:
    """2xx ... 5xx, or "none" when no answer came (timeout, refused connection)."""
    return f"{code // 100}xx" if code is not None and 200 <= code < 600 else "none"


class DeliveryMetrics:
    """What this process's workers did, counted as they record it."""

    def __init__(self, kit: Kit) -> None:
        registry = kit.metrics
        self.attempts = Counter(
            "jomreskit_webhook_attempts", "Delivery attempts recorded, by what became of the "
            "delivery (succeeded, retrying, failed, skipped) and the answer's status class.",
            ["outcome", "status_class"], registry=registry)
        self.duration = Histogram(
            "jomreskit_webhook_attempt_duration_seconds", "How long delivery attempts took, "
            "from the request to the end of the answer, by status class.", ["status_class"],
            buckets=DURATION_BUCKETS, registry=registry)
        # Children made once: a label lookup per attempt would take a lock and build a key.
        self._counted = {(o, c): self.attempts.labels(o, c)
                         for o in OUTCOMES for c in STATUS_CLASSES}
        self._timed = {c: self.duration.labels(c) for c in STATUS_CLASSES}
        registry.register(Backlog(kit))

    def recorded(self, outcomes: Iterable[Outcome]) -> None:
        """Count attempts whose outcome was just written."""
        for outcome in outcomes:
            if outcome.succeeded:
                kind = "succeeded"
            elif outcome.skipped:
                kind = "skipped"
            elif outcome.retry_at is not None:
                kind = "retrying"
            else:
                kind = "failed"
            klass = status_class(outcome.status_code)
            self._counted[kind, klass].inc()
            self._timed[klass].observe(outcome.duration_ms / 1000)


def of(kit: Kit) -> DeliveryMetrics:
    """The site's delivery metrics in this process, made on first use."""
    found = kit.app.extensions.get(_STATE)
    if found is None:
        with _lock:
            found = kit.app.extensions.get(_STATE)
            if found is None:
                found = kit.app.extensions[_STATE] = DeliveryMetrics(kit)
    return found


def _text(value: str) -> Any:
    # Written into the SQL, not bound: PostgreSQL must see the GROUP BY's CASE as the SELECT's.
    return literal_column(f"'{value}'")


_HELD = case((WEBHOOKS.c.enabled.is_(False), _text("disabled")),
             (WEBHOOKS.c.paused_at.is_not(None), _text("paused")),
             (WEBHOOKS.c.circuit != CLOSED, _text("circuit")), else_=_text("no"))
_PENDING = (select(_HELD.label("held"), func.count(), func.min(DELIVERIES.c.next_attempt_at))
            .join_from(DELIVERIES, WEBHOOKS, WEBHOOKS.c.id == DELIVERIES.c.webhook_id)
            .where(DELIVERIES.c.status == PENDING).group_by(_HELD))
_WEBHOOK_STATE = case((WEBHOOKS.c.enabled.is_(False), _text("disabled")),
                      (WEBHOOKS.c.paused_at.is_not(None), _text("paused")),
                      else_=_text("active"))
_WEBHOOKS = select(_WEBHOOK_STATE.label("state"), WEBHOOKS.c.circuit, func.count()).group_by(
    _WEBHOOK_STATE, WEBHOOKS.c.circuit)
_NOT_CLOSED = select(WEBHOOKS.c.id, WEBHOOKS.c.circuit).where(WEBHOOKS.c.circuit != CLOSED)


class Backlog(Collector):
    """The outbox and the webhooks as the database has them when scraped."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit

    def describe(self) -> list[Any]:
        return []  # the metrics are only known by reading the database

    def collect(self) -> Iterator[Any]:
        pending = GaugeMetricFamily(
            "jomreskit_webhook_pending_deliveries", "Deliveries waiting to be sent or tried "
            "again, by what holds them: nothing (no), a paused or disabled webhook, an open "
            "circuit.", labels=["held"])
        oldest = GaugeMetricFamily(
            "jomreskit_webhook_oldest_due_delivery_age_seconds", "How long the oldest delivery "
            "that is due, and that nothing holds, has been waiting: 0 when the workers keep up.")
        webhooks = GaugeMetricFamily(
            "jomreskit_webhooks", "Webhooks by state (active, paused, disabled) and circuit "
            "(closed, open, probing).", labels=["state", "circuit"])
        circuits = GaugeMetricFamily(
            "jomreskit_webhook_circuit_state", "1 for each webhook whose circuit is not closed, "
            "by its state (open: resting; probing: one delivery being tried).",
            labels=["webhook_id", "state"])
        now = utcnow()
        with self.kit.engine.connect() as connection:
            counts = {held: 0 for held in ("no", "paused", "disabled", "circuit")}
            age = 0.0
            for held, count, first in connection.execute(_PENDING, {}):
                counts[held] = count
                if held == "no" and first is not None:
                    age = max(0.0, (now - first).total_seconds())
            seen = {(state, circuit): 0 for state in ("active", "paused", "disabled")
                    for circuit in CIRCUIT_STATES}
            for state, circuit, count in connection.execute(_WEBHOOKS):
                seen[state, circuit] = count
            not_closed = connection.execute(_NOT_CLOSED).all()
        for held, count in counts.items():
            pending.add_metric([held], count)
        oldest.add_metric([], age)
        for (state, circuit), count in seen.items():
            webhooks.add_metric([state, circuit], count)
        for webhook_id, state in not_closed:
            circuits.add_metric([str(webhook_id), state], 1)
        yield from (pending, oldest, webhooks, circuits)
