"""What happens when the receiving service fails: retries, Retry-After, 410, giving up, logs."""

from __future__ import annotations

import itertools
import json
import socket
from datetime import datetime, timedelta

from jomreskit_webhooks_core import schedule
from jomreskit_webhooks_core.models import Delivery, Webhook
from sqlalchemy import update

from jomreskit.db import utcnow

from .test_delivery import _now_due, create, deliveries, drain, fire


def shown(site, delivery_id=1):
    result = site.cli("deliveries", "show", str(delivery_id), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def seconds_until(when: str) -> float:
    return (datetime.fromisoformat(when) - utcnow()).total_seconds()


def test_a_500_is_retried_on_the_schedule_and_every_attempt_is_logged(site, receiver):
    create(site, receiver.url + "/hook")
    receiver.answer(500, "database down")
    fire(site)
    assert drain(site)["retrying"] == 1

    detail = shown(site)
    assert detail["status"] == "pending"
    assert 5 * 0.8 - 1 <= seconds_until(detail["next_attempt_at"]) <= 5 * 1.2
    [attempt] = detail["attempt_log"]
    assert attempt["status_code"] == 500
    assert attempt["response_excerpt"] == "database down"
    assert attempt["error"] == "HTTP 500"
    assert attempt["duration_ms"] >= 0 and attempt["attempted_at"]

    _now_due(site)
    drain(site)
    detail = shown(site)
    assert detail["status"] == "succeeded"
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 200]


def test_the_schedule_backs_off_with_jitter_over_about_three_days():
    delays = [schedule.delay(n) for n in range(1, schedule.ATTEMPTS)]
    for got, base in zip(delays, schedule.SCHEDULE, strict=True):
        assert base * 0.8 <= got <= base * 1.2
    assert schedule.delay(schedule.ATTEMPTS) is None
    assert 2.5 < sum(schedule.SCHEDULE) / 86400 < 3.5


def test_a_delivery_fails_after_the_last_attempt(make_webhook_site, receiver):
    # Ten attempts in a few seconds would open the circuit breaker (test_breaker.py); the
    # schedule's days are what this test compresses, so the breaker is off.
    site = make_webhook_site(JOMRESKIT_WEBHOOK_BREAKER_FAILURES=0)
    create(site, receiver.url + "/hook")
    for _ in range(schedule.ATTEMPTS):
        receiver.answer(500)
    fire(site)
    for _ in range(schedule.ATTEMPTS):
        drain(site)
        _now_due(site)
    [delivery] = deliveries(site)
    assert (delivery.status, delivery.attempts) == ("failed", schedule.ATTEMPTS)
    assert len(receiver.deliveries) == schedule.ATTEMPTS


def test_a_timeout_is_retried(make_webhook_site, receiver):
    site = make_webhook_site(JOMRESKIT_WEBHOOK_TIMEOUT=0.3)
    create(site, receiver.url + "/hook")
    receiver.answer(200, "too late", delay=1.0)
    fire(site)
    assert drain(site)["retrying"] == 1
    assert shown(site)["last_error"].startswith("timed out")


def test_a_refused_connection_is_retried(site):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    create(site, f"http://127.0.0.1:{port}/hook")
    fire(site)
    assert drain(site)["retrying"] == 1
    assert shown(site)["last_error"].startswith("cannot connect")


def test_retry_after_is_honoured_on_429_and_503(site, receiver):
    create(site, receiver.url + "/hook")
    receiver.answer(429, "slow down", headers={"Retry-After": "120"})
    fire(site)
    drain(site)
    assert 118 <= seconds_until(shown(site)["next_attempt_at"]) <= 121

    later = utcnow() + timedelta(hours=1)
    receiver.answer(503, "maintenance",
                    headers={"Retry-After": later.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    _now_due(site)
    drain(site)
    assert 3590 <= seconds_until(shown(site)["next_attempt_at"]) <= 3601


def test_410_disables_the_webhook_and_says_why(site, receiver):
    webhook = create(site, receiver.url + "/hook")
    receiver.answer(410, "gone")
    fire(site)
    assert drain(site)["failed"] == 1

    [listed] = json.loads(site.cli("webhooks", "list", "--json").output)
    assert listed["enabled"] is False
    assert "410" in listed["disabled_reason"]
    fire(site)
    assert len(deliveries(site)) == 1  # nothing more is queued for it
    assert webhook["id"] == listed["id"]


def test_a_webhook_failing_for_days_is_disabled_with_the_reason(site, receiver):
    create(site, receiver.url + "/hook")
    receiver.answer(500, "still broken")
    fire(site)
    drain(site)
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Webhook).values(failing_since=utcnow() - timedelta(days=6)))
    receiver.answer(500, "still broken")
    _now_due(site)
    drain(site)

    [listed] = json.loads(site.cli("webhooks", "list", "--json").output)
    assert listed["enabled"] is False
    assert "every delivery failed for 6.0 days" in listed["disabled_reason"]
    assert "HTTP 500" in listed["disabled_reason"]


def test_a_success_ends_a_failing_streak(site, receiver):
    create(site, receiver.url + "/hook")
    receiver.answer(500)
    fire(site)
    drain(site)
    assert json.loads(site.cli("webhooks", "list", "--json").output)[0]["failing_since"]
    _now_due(site)
    drain(site)
    assert json.loads(site.cli("webhooks", "list", "--json").output)[0]["failing_since"] is None


def test_redirects_are_not_followed(site, receiver):
    create(site, receiver.url + "/hook")
    receiver.answer(302, "", headers={"Location": receiver.url + "/elsewhere"})
    fire(site)
    assert drain(site)["retrying"] == 1
    assert [r.path for r in receiver.received] == ["/hook"]
    assert "redirect (302)" in shown(site)["last_error"]


def test_at_most_64_kib_of_an_answer_is_read(site, receiver):
    create(site, receiver.url + "/hook")
    endless = (b"x" * 8192 for _ in itertools.count())
    receiver.answer(200, endless)  # an answer that never ends still lets the attempt finish
    fire(site)
    assert drain(site)["succeeded"] == 1
    assert len(shown(site)["attempt_log"][0]["response_excerpt"]) == 1000


def test_a_failed_delivery_can_be_redelivered_with_the_same_webhook_id(site, receiver):
    create(site, receiver.url + "/hook")
    receiver.answer(410)
    fire(site)
    drain(site)
    refused = site.cli("deliveries", "redeliver", "1")
    assert refused.exit_code != 0 and "disabled" in refused.output

    assert site.cli("webhooks", "update", "1", "--enable").exit_code == 0
    assert site.cli("deliveries", "redeliver", "1").exit_code == 0
    drain(site)
    first, second = receiver.deliveries
    assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"]
    assert shown(site)["status"] == "succeeded"


def test_failed_deliveries_can_be_recovered_since_a_time(site, receiver):
    create(site, receiver.url + "/hook")
    for _ in range(3):
        receiver.answer(400, "bad")
        fire(site)
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Delivery).values(attempts=schedule.ATTEMPTS - 1))  # the last try
    drain(site)
    assert [d.status for d in deliveries(site)] == ["failed"] * 3

    result = site.cli("deliveries", "recover", "--since", "1h", "--webhook", "1")
    assert result.exit_code == 0, result.output
    assert "3 deliveries queued again" in result.output
    drain(site)
    assert [d.status for d in deliveries(site)] == ["succeeded"] * 3


def test_a_test_ping_is_sent_now(site, receiver):
    create(site, receiver.url + "/hook")
    result = site.cli("webhooks", "test", "1")
    assert result.exit_code == 0, result.output
    assert "ping succeeded: HTTP 200" in result.output
    [got] = receiver.deliveries
    assert got.json()["type"] == "ping"

    receiver.answer(500)
    failed = site.cli("webhooks", "test", "1")
    assert failed.exit_code == 1
    assert "HTTP 500" in failed.output


def test_old_deliveries_and_attempt_logs_are_pruned(site, receiver):
    create(site, receiver.url + "/hook")
    fire(site)
    drain(site)
    result = site.cli("deliveries", "prune", "--days", "0")
    assert "1 finished deliveries" in result.output
    assert deliveries(site) == []
