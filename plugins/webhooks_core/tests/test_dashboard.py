"""The Webhook dashboard's figures: attempts seeded at known times come out in the right hour
and outcome, the percentiles and the backlog are right, and each person sees only what is
theirs (the site owner sees every webhook)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from jomreskit_webhooks_core import chart, dashboard, services
from jomreskit_webhooks_core.models import FAILED, PENDING, SUCCEEDED, Delivery, DeliveryAttempt
from sqlalchemy import select

from jomreskit.console.testing import menu, sign_in
from jomreskit.db import utcnow
from jomreskit.domain import User

NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
FIRST = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # the first of the 24 hours shown at NOW


def at(hour: int, minute: int = 0, second: int = 0, microsecond: int = 0,
       day: int = 4) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, microsecond, tzinfo=UTC)


def add_delivery(session, webhook_id, status, attempts, next_attempt_at=None, created_at=None):
    """A delivery with its attempts, each (attempted_at, status_code, duration_ms); a failed
    delivery's next_attempt_at is its last attempt's time, as the worker writes it."""
    last = attempts[-1][0] if attempts else None
    delivery = Delivery(
        webhook_id=webhook_id, event_type="booking_modified", msg_id=f"msg_{utcnow():%f}",
        payload="{}", status=status, attempts=len(attempts),
        next_attempt_at=next_attempt_at or last, created_at=created_at or last or NOW,
        delivered_at=last if status == SUCCEEDED else None)
    session.add(delivery)
    session.flush()
    for attempted_at, code, duration_ms in attempts:
        session.add(DeliveryAttempt(
            delivery_id=delivery.id, attempted_at=attempted_at, duration_ms=duration_ms,
            status_code=code, error=None if code and 200 <= code < 300 else f"HTTP {code}"))
    return delivery


def seed(site):
    """Webhooks A and B of the demo manager, C of manager2, with attempts at known times."""
    with site.app.app_context(), site.kit.transaction() as session:
        a, _ = services.create_webhook(site.kit, "manager", "http://127.0.0.1:9/a")
        b, _ = services.create_webhook(site.kit, "manager", "http://127.0.0.1:9/b")
        c, _ = services.create_webhook(site.kit, "manager2", "http://127.0.0.1:9/c")
        session.flush()
        # A: failed at 14:05, then succeeded at 15:10.
        add_delivery(session, a.id, SUCCEEDED, [(at(14, 5), 500, 300), (at(15, 10), 200, 100)])
        # A: failed at 10:00, retried, and given up at the last microsecond of 12:00-13:00.
        add_delivery(session, a.id, FAILED, [(at(10), 500, 40),
                                             (at(12, 59, 59, 999999), None, 15000)])
        # A: failed at 13:00 sharp; due again ten minutes ago, not sent yet.
        add_delivery(session, a.id, PENDING, [(at(13), 503, 20)],
                     next_attempt_at=NOW - timedelta(minutes=10))
        # A: queued two minutes ago, never tried; and one due in an hour.
        add_delivery(session, a.id, PENDING, [], next_attempt_at=NOW - timedelta(minutes=2))
        add_delivery(session, a.id, PENDING, [], next_attempt_at=NOW + timedelta(hours=1))
        # A: the first moment of the window counts; the moment before does not.
        add_delivery(session, a.id, SUCCEEDED, [(FIRST, 204, 50)])
        add_delivery(session, a.id, SUCCEEDED, [(FIRST - timedelta(microseconds=1), 200, 7)])
        # B: three successes in the 09:00 hour.
        for minute, duration_ms in ((1, 10), (20, 20), (59, 30)):
            add_delivery(session, b.id, SUCCEEDED, [(at(9, minute), 200, duration_ms)])
        # C, another manager's: one success at 15:00.
        add_delivery(session, c.id, SUCCEEDED, [(at(15), 200, 5)])
        return a.id, b.id, c.id


def counts(health):
    """{hour index: (succeeded, retrying, failed)} for the hours with attempts."""
    return {i: (h.succeeded, h.retrying, h.failed) for i, h in enumerate(health.hours) if h.total}


def test_attempts_fall_in_their_hour_and_outcome_with_percentiles_and_backlog(site):
    a, b, c = seed(site)

    with site.app.app_context():
        overview = dashboard.read(site.kit, manager_id=site_manager(site, "manager"), now=NOW)

    assert overview.since == FIRST
    assert [h.start for h in overview.total.hours] == [FIRST + timedelta(hours=i)
                                                       for i in range(24)]
    by_id = {health.webhook.id: health for health in overview.webhooks}
    assert sorted(by_id) == [a, b]  # not manager2's webhook
    first_a = by_id[a]
    # 16:00 yesterday is hour 0, 09:00 today hour 17, ... 15:00 today hour 23.
    assert counts(first_a) == {0: (1, 0, 0), 18: (0, 1, 0), 20: (0, 0, 1), 21: (0, 1, 0),
                               22: (0, 1, 0), 23: (1, 0, 0)}
    assert first_a.attempts == 6
    # Durations 20, 40, 50, 100, 300, 15000: the 3rd and the 6th of six.
    assert (first_a.p50_ms, first_a.p95_ms) == (50, 15000)
    assert first_a.last_success == at(15, 10)
    assert first_a.pending == 3
    assert first_a.oldest_due == NOW - timedelta(minutes=10)

    second = by_id[b]
    assert counts(second) == {17: (3, 0, 0)}
    assert (second.p50_ms, second.p95_ms) == (20, 30)
    assert second.last_success == at(9, 59)
    assert (second.pending, second.oldest_due) == (0, None)

    # The manager's total: both webhooks, percentiles over all nine attempts.
    total = overview.total
    assert counts(total) == {0: (1, 0, 0), 17: (3, 0, 0), 18: (0, 1, 0), 20: (0, 0, 1),
                             21: (0, 1, 0), 22: (0, 1, 0), 23: (1, 0, 0)}
    assert (total.p50_ms, total.p95_ms) == (40, 15000)  # 5th and 9th of 9
    assert (total.pending, total.oldest_due) == (3, NOW - timedelta(minutes=10))

    with site.app.app_context():
        everyone = dashboard.read(site.kit, now=NOW)
    assert {health.webhook.id for health in everyone.webhooks} >= {a, b, c}
    assert counts(everyone.total)[23] == (2, 0, 0)  # A's 15:10 and C's 15:00
    assert everyone.total.last_success == at(15, 10)


def site_manager(site, username):
    with site.app.app_context(), site.kit.transaction() as session:
        return session.scalar(select(User.manager_id).where(User.username == username))


def test_nearest_rank_percentiles():
    assert dashboard.percentile({}, 50) is None
    assert dashboard.percentile({7: 1}, 95) == 7
    durations = {ms: 1 for ms in range(1, 101)}  # 1..100 ms
    assert [dashboard.percentile(durations, p) for p in (50, 95, 100)] == [50, 95, 100]
    assert dashboard.percentile({10: 19, 900: 1}, 95) == 10  # 19 of 20 took 10 ms
    assert dashboard.percentile({10: 18, 900: 2}, 95) == 900


def test_the_chart_stacks_each_hour_on_a_round_scale():
    hours = [dashboard.Hour(FIRST + timedelta(hours=i)) for i in range(24)]
    hours[5].succeeded, hours[5].retrying, hours[5].failed = 6, 2, 4  # 12 -> scale 20
    drawn = chart.hourly(hours)

    assert drawn.scale_top == 20
    bars = drawn.columns[5].bars
    assert [b.outcome for b in bars] == ["succeeded", "retrying", "failed"]
    assert [b.height for b in bars] == [round(chart.PLOT_HEIGHT * n / 20, 2) for n in (6, 2, 4)]
    assert bars[0].y + bars[0].height == drawn.baseline  # succeeded at the bottom
    assert bars[2].y == round(drawn.baseline - chart.PLOT_HEIGHT * 12 / 20, 2)
    assert all(not column.bars for i, column in enumerate(drawn.columns) if i != 5)
    assert [text for _, text in drawn.ticks] == ["18:00", "00:00", "06:00", "12:00"]
    assert [chart.scale_top(n) for n in (0, 1, 3, 7, 10, 11, 499, 501)] == [
        1, 1, 5, 10, 10, 20, 500, 1000]


def _text(page) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)))


def test_managers_see_their_own_webhooks_and_the_site_owner_every_one(site):
    a, b, c = seed(site)
    manager, other, owner = site.client(), site.client(), site.client()
    sign_in(manager, "manager")
    sign_in(other, "manager2")
    sign_in(owner, "super")

    assert "Webhook dashboard" in menu(manager.get("/console/"))
    assert "Webhook dashboard" in menu(owner.get("/console/"))
    mine = manager.get("/console/webhooks/dashboard/")
    assert mine.status_code == 200
    assert f'id="health-{a}"' in mine.text and f'id="health-{b}"' in mine.text
    assert f'id="health-{c}"' not in mine.text and "127.0.0.1:9/c" not in mine.text
    assert "All your webhooks" in mine.text
    # An accessible chart: named and described, each hour's figures as text too.
    assert re.search(r'<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="chart-all-title '
                     r'chart-all-desc"', mine.text)
    assert '<title id="chart-all-title">All webhooks: attempts per hour' in mine.text

    theirs = other.get("/console/webhooks/dashboard/").text
    assert f'id="health-{c}"' in theirs and f'id="health-{a}"' not in theirs

    everything = owner.get("/console/webhooks/dashboard/")
    assert everything.status_code == 200
    assert "Every webhook on the site" in everything.text
    for webhook_id in (a, b, c):
        assert f'id="health-{webhook_id}"' in everything.text
    # A's deliveries failed and retried: it is listed before B and C.
    assert everything.text.index(f'id="health-{a}"') < everything.text.index(f'id="health-{b}"')
    assert "Backlog 3 pending; the oldest due has waited" in " ".join(_text(everything).split())
