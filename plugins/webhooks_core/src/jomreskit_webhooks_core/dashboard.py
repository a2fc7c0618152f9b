"""How each webhook's deliveries are going, read at a glance: what the console's dashboard shows.

Everything comes from the tables every worker writes (the attempt log, the outbox, the
webhook's circuit), so every process shows the same thing. Over the last ``HOURS`` clock hours
(the current one included), per webhook:

- each hour's attempts by outcome: *succeeded* (a 2xx answer), *retrying* (failed, and the
  delivery is tried again, or is queued to be) and *failed* (failed, and the delivery was
  given up there: its last attempt);
- p50 and p95 of the attempts' durations (nearest rank: the smallest duration that at least
  50 % or 95 % of the attempts took no longer than);
- the last success in that time;

and now: the backlog (pending deliveries, and the due one that has waited longest), the
circuit's state and since when the webhook has been failing.

The attempt log is the big table, so each query reads only the window's attempts, by the
index on ``attempted_at``, and lets the database count them: hours are bucketed and
durations grouped in SQL, and what comes back is a few rows per webhook and hour. One
manager's dashboard reads every attempt of the window all the same: an attempt names its
delivery, not its webhook, and the outbox has no index on ``webhook_id`` (migration 0003), so
the cost follows the site's attempts in the last day, not the manager's (docs/scaling.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, and_, case, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from jomreskit.db import utcnow

from .models import CLOSED, FAILED, PENDING, Delivery, DeliveryAttempt, Webhook

if TYPE_CHECKING:
    from jomreskit import Kit

HOURS = 24
SUCCEEDED = "succeeded"
RETRYING = "retrying"
OUTCOMES = (SUCCEEDED, RETRYING, FAILED)  # as the chart stacks them, bottom up

ATTEMPTS = DeliveryAttempt.__table__
DELIVERIES = Delivery.__table__
WEBHOOKS = Webhook.__table__


class hour_of(FunctionElement[int]):  # noqa: N801 (a SQL function, named as SQL's are)
    """The clock hour a UTC timestamp falls in, as whole hours since the epoch."""

    type = Integer()
    inherit_cache = True


@compiles(hour_of)
def _hour_of(element: hour_of, compiler: Any, **kw: Any) -> str:
    return f"CAST(floor(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) / 3600)" \
        " AS INTEGER)"


@compiles(hour_of, "sqlite")
def _hour_of_sqlite(element: hour_of, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as text, "YYYY-MM-DD HH:MM:SS.ffffff"; its date functions
    # round the fraction to milliseconds (12:59:59.9999 would be 13:00), so whole seconds only.
    value = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('%s', substr({value}, 1, 19)) AS INTEGER) / 3600"


@dataclass
class Hour:
    """One clock hour's attempts, by outcome."""

    start: datetime
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.retrying + self.failed


@dataclass
class Health:
    """How one webhook's deliveries are going (or all of them, ``webhook`` None)."""

    webhook: Webhook | None
    hours: list[Hour]
    durations: Counter[int] = field(default_factory=Counter)  # duration_ms -> attempts
    last_success: datetime | None = None  # within the hours shown
    pending: int = 0
    oldest_due: datetime | None = None  # when the longest-waiting due delivery fell due

    @property
    def attempts(self) -> int:
        return sum(hour.total for hour in self.hours)

    def outcome_total(self, outcome: str) -> int:
        return sum(getattr(hour, outcome) for hour in self.hours)

    @property
    def p50_ms(self) -> int | None:
        return percentile(self.durations, 50)

    @property
    def p95_ms(self) -> int | None:
        return percentile(self.durations, 95)


@dataclass
class Overview:
    """The dashboard: every webhook shown, and all of them together."""

    since: datetime
    now: datetime
    total: Health
    webhooks: list[Health]


def percentile(durations: Mapping[int, int], p: int) -> int | None:
    """The nearest-rank ``p``-th percentile of attempts counted by duration: the smallest
    duration at least ``p`` % of them took no longer than (None when there are none)."""
    count = sum(durations.values())
    if not count:
        return None
    rank = -(-count * p // 100)  # ceil(count * p / 100), the rank in ascending order
    seen = 0
    for duration in sorted(durations):
        seen += durations[duration]
        if seen >= rank:
            return duration
    return None  # unreachable: seen reaches count >= rank


def first_hour(now: datetime) -> datetime:
    """The start of the first of the ``HOURS`` clock hours shown at ``now``."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) \
        - timedelta(hours=HOURS - 1)


def read(kit: Kit, manager_id: int | None = None, now: datetime | None = None) -> Overview:
    """The dashboard of ``manager_id``'s webhooks, or of every webhook on the site (None)."""
    now = now or utcnow()
    since = first_hour(now)
    session = kit.session()
    query = select(Webhook).order_by(Webhook.id)
    if manager_id is not None:
        query = query.where(Webhook.manager_id == manager_id)
    webhooks = list(session.scalars(query.execution_options(populate_existing=True)))
    found = {w.id: Health(w, _hours(since)) for w in webhooks}
    total = Health(None, _hours(since))
    if not webhooks:  # nothing to count; the queries below would read the whole window
        return Overview(since=since, now=now, total=total, webhooks=[])
    first = _epoch_hour(since)

    mine = ([WEBHOOKS.c.manager_id == manager_id] if manager_id is not None else [])
    attempts = (ATTEMPTS.join(DELIVERIES, DELIVERIES.c.id == ATTEMPTS.c.delivery_id)
                .join(WEBHOOKS, WEBHOOKS.c.id == DELIVERIES.c.webhook_id))
    # The window's attempts are of recent deliveries: from the first of them on, by the id
    # the database can seek to. Without it PostgreSQL's planner would rather read the whole
    # outbox for a hash join than look up the few deliveries the window's attempts are of.
    # (+ 0: the minimum of the window's attempts, read by their attempted_at index; a bare
    # min(delivery_id) would walk the delivery_id index from the oldest attempt kept.)
    first_delivery = session.scalar(select(func.min(ATTEMPTS.c.delivery_id + 0))
                                    .where(ATTEMPTS.c.attempted_at >= since))
    in_window = [ATTEMPTS.c.attempted_at >= since, DELIVERIES.c.id >= (first_delivery or 0),
                 *mine]

    # A failed attempt gave its delivery up when the delivery is failed and this was its last
    # attempt: the worker writes a failed delivery's next_attempt_at as its last attempt's time.
    # Grouped by the labels: PostgreSQL would not see a CASE with bound values in the select
    # list and the same CASE in GROUP BY (other bound values) as one expression.
    outcome = case(
        (ATTEMPTS.c.status_code.between(200, 299), _text(SUCCEEDED)),
        (and_(DELIVERIES.c.status == FAILED,
              DELIVERIES.c.next_attempt_at == ATTEMPTS.c.attempted_at), _text(FAILED)),
        else_=_text(RETRYING)).label("outcome")
    hour = hour_of(ATTEMPTS.c.attempted_at).label("hour")
    by_hour = (select(DELIVERIES.c.webhook_id, hour, outcome, func.count().label("attempts"),
                      func.max(ATTEMPTS.c.attempted_at).label("last"))
               .select_from(attempts).where(*in_window)
               .group_by(DELIVERIES.c.webhook_id, hour, outcome))
    for row in session.execute(by_hour):
        health = found.get(row.webhook_id)
        index = row.hour - first
        if not 0 <= index < HOURS:
            continue  # stamped ahead of this server's clock
        for shown in (health, total):
            if shown is None:
                continue
            bucket = shown.hours[index]
            setattr(bucket, row.outcome, getattr(bucket, row.outcome) + row.attempts)
            if row.outcome == SUCCEEDED and (shown.last_success is None
                                             or row.last > shown.last_success):
                shown.last_success = row.last

    by_duration = (select(DELIVERIES.c.webhook_id, ATTEMPTS.c.duration_ms,
                          func.count().label("attempts"))
                   .select_from(attempts).where(*in_window)
                   .group_by(DELIVERIES.c.webhook_id, ATTEMPTS.c.duration_ms))
    for row in session.execute(by_duration):
        if row.webhook_id in found:
            found[row.webhook_id].durations[row.duration_ms] += row.attempts
        total.durations[row.duration_ms] += row.attempts

    due = case((DELIVERIES.c.next_attempt_at <= now, DELIVERIES.c.next_attempt_at))
    backlog = (select(DELIVERIES.c.webhook_id, func.count().label("pending"),
                      func.min(due).label("oldest_due"))
               .select_from(DELIVERIES.join(WEBHOOKS, WEBHOOKS.c.id == DELIVERIES.c.webhook_id))
               .where(DELIVERIES.c.status == PENDING, *mine)
               .group_by(DELIVERIES.c.webhook_id))
    for row in session.execute(backlog):
        for shown in (found.get(row.webhook_id), total):
            if shown is None:
                continue
            shown.pending += row.pending
            if row.oldest_due is not None and (shown.oldest_due is None
                                               or row.oldest_due < shown.oldest_due):
                shown.oldest_due = row.oldest_due
    return Overview(since=since, now=now, total=total, webhooks=list(found.values()))


def _text(value: str) -> Any:
    return literal_column(f"'{value}'")  # one of OUTCOMES: constants, never input


def _hours(since: datetime) -> list[Hour]:
    return [Hour(since + timedelta(hours=i)) for i in range(HOURS)]


def _epoch_hour(moment: datetime) -> int:
    return int(moment.timestamp()) // 3600


def needing_attention(webhooks: Iterable[Health]) -> list[Health]:
    """Webhooks, those an operator should look at first: circuit not closed or disabled,
    then the most failed or retried attempts, then the longest backlog."""
    def weight(health: Health) -> tuple[Any, ...]:
        webhook = health.webhook
        assert webhook is not None
        troubled = webhook.circuit != CLOSED or not webhook.enabled
        return (not troubled, -(health.outcome_total(FAILED) + health.outcome_total(RETRYING)),
                -health.pending, webhook.id)
    return sorted(webhooks, key=weight)
