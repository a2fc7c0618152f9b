"""Prometheus metrics: the site's /metrics (only with its token) and a worker's own port, scraped
and parsed while deliveries run; what the database knows reads the same from both."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from jomreskit_api_core import ApiKey
from jomreskit_api_feature_events.models import AcknowledgedCursor
from jomreskit_webhooks_core.models import Webhook
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from werkzeug.wrappers import Request, Response

from jomreskit.db import utcnow

JOMRESKIT = str(Path(sys.executable).parent / "jomreskit")
TOKEN = "scrape-me-4f1c"


class Receiver:
    """A remote service on loopback that takes ``delay`` seconds to answer ``status``."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.status = 200
        self.received = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        Request(environ).get_data()
        time.sleep(self.delay)
        with self.lock:
            self.received += 1
        return Response("ok", status=self.status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.received < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels, parsed by prometheus_client's parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(scraped, name: str, **labels: str) -> float | None:
    return scraped.get((name, tuple(sorted(labels.items()))))


def scrape_site(site) -> dict:
    answer = site.client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.content_type.startswith("text/plain")
    return samples(answer.get_data(as_text=True))


def scrape(url: str) -> dict:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    return samples(answer.text)


def site_env(site, **config):
    """The environment of a `jomreskit` process on ``site`` (booleans as JSON, as read back)."""
    env = {**os.environ}
    env.update({k: json.dumps(v) if isinstance(v, bool) else str(v)
                for k, v in site.app.config.items()
                if k.startswith("JOMRESKIT_") and v is not None})
    env.update({k: str(v) for k, v in config.items()})
    return env


@pytest.fixture
def metered_site(make_site):
    return make_site(seed=True, JOMRESKIT_METRICS_TOKEN=TOKEN)


def fire(site, count: int, first: int = 1) -> None:
    with site.app.app_context(), site.kit.transaction():
        for n in range(first, first + count):
            site.kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=n)


def test_the_site_serves_metrics_only_with_its_token(make_site, metered_site):
    client = metered_site.client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert "jomreskit_" not in answer.get_data(as_text=True)
    scraped = scrape_site(metered_site)
    assert value(scraped, "jomreskit_webhook_oldest_due_delivery_age_seconds") == 0

    without = make_site(seed=True)  # no token: no endpoint at all
    assert without.client().get("/metrics",
                                headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_worker_and_site_metrics_follow_deliveries_as_they_run(metered_site, serve_app):
    site = metered_site
    receiver = Receiver()
    receiver.delay = 0.1  # twenty deliveries, one at a time: two seconds to watch
    url = serve_app(receiver) + "/hook"
    created = site.cli("webhooks", "create", "--manager", "manager", "--url", url, "--json")
    webhook_id = json.loads(created.output)["id"]
    site.cli("webhooks", "pause", str(webhook_id))
    fire(site, 20)

    before = scrape_site(site)
    assert value(before, "jomreskit_webhook_pending_deliveries", held="paused") == 20
    assert value(before, "jomreskit_webhook_pending_deliveries", held="no") == 0
    assert value(before, "jomreskit_webhooks", state="paused", circuit="closed") == 1

    process = subprocess.Popen(
        [JOMRESKIT, "worker", "--metrics-port", "0"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env=site_env(site, JOMRESKIT_WEBHOOK_ENDPOINT_CONCURRENCY=1))
    try:
        announced = process.stderr.readline()
        port = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", announced)
        assert port, announced
        metrics_url = f"http://127.0.0.1:{port.group(1)}/metrics"
        idle = scrape(metrics_url)
        # The database's figures read the same from the worker as from the site.
        assert value(idle, "jomreskit_webhook_pending_deliveries", held="paused") == 20
        assert value(idle, "jomreskit_webhook_attempts_total", outcome="succeeded",
                     status_class="2xx") == 0

        site.cli("webhooks", "resume", str(webhook_id))
        succeeded, backlog = [], []
        while receiver.received < 20 and len(succeeded) < 500:
            scraped = scrape(metrics_url)
            succeeded.append(value(scraped, "jomreskit_webhook_attempts_total",
                                   outcome="succeeded", status_class="2xx"))
            backlog.append(value(scraped, "jomreskit_webhook_pending_deliveries", held="no"))
            time.sleep(0.05)
        assert receiver.wait_for(20) == 20
        assert any(0 < n < 20 for n in backlog)  # seen draining, not only before and after
        assert succeeded == sorted(succeeded)  # a counter only goes up

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the last outcomes are written in a moment
            done = scrape(metrics_url)
            if value(done, "jomreskit_webhook_attempts_total", outcome="succeeded",
                     status_class="2xx") == 20:
                break
            time.sleep(0.05)
        assert value(done, "jomreskit_webhook_attempt_duration_seconds_count",
                     status_class="2xx") == 20
        # Each took the receiver's 0.1 s at least: none in the buckets below it.
        assert value(done, "jomreskit_webhook_attempt_duration_seconds_bucket",
                     status_class="2xx", le="0.05") == 0
        assert value(done, "jomreskit_webhook_pending_deliveries", held="no") == 0

        receiver.status, receiver.delay = 503, 0.0
        fire(site, 1, first=21)
        receiver.wait_for(21)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            failing = scrape(metrics_url)
            if value(failing, "jomreskit_webhook_attempts_total", outcome="retrying",
                     status_class="5xx") == 1:
                break
            time.sleep(0.05)
        assert value(failing, "jomreskit_webhook_attempts_total", outcome="retrying",
                     status_class="5xx") == 1
        # Retried in about 5 s: pending, not yet due, so nothing is late.
        assert value(failing, "jomreskit_webhook_pending_deliveries", held="no") == 1
        assert value(failing, "jomreskit_webhook_oldest_due_delivery_age_seconds") == 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    # The site's own process sent nothing: its counters are its own.
    assert value(scrape_site(site), "jomreskit_webhook_attempts_total", outcome="succeeded",
                 status_class="2xx") == 0


def test_open_circuits_and_late_deliveries_are_read_from_the_database(metered_site):
    site = metered_site
    created = site.cli("webhooks", "create", "--manager", "manager", "--url",
                       "http://127.0.0.1:9/hook", "--json")
    webhook_id = json.loads(created.output)["id"]
    fire(site, 3)
    assert 0 <= value(scrape_site(site),
                      "jomreskit_webhook_oldest_due_delivery_age_seconds") < 60
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(update(Webhook).where(Webhook.id == webhook_id).values(
            circuit="open", circuit_opened_at=utcnow(), circuit_until=utcnow()))
    scraped = scrape_site(site)
    assert value(scraped, "jomreskit_webhook_circuit_state", webhook_id=str(webhook_id),
                 state="open") == 1
    assert value(scraped, "jomreskit_webhook_pending_deliveries", held="circuit") == 3
    assert value(scraped, "jomreskit_webhooks", state="active", circuit="open") == 1


def test_api_requests_are_timed_by_route_template_never_by_path(metered_site):
    site = metered_site
    client = site.client()
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/webhooks/1/booking_modified/41").status_code == 401
    assert client.get("/api/no/such/path/123").status_code == 404
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(
        as_text=True)
    scraped = samples(text)
    name = "jomreskit_api_request_duration_seconds_count"
    assert value(scraped, name, route="/api/openapi.json", method="GET", status="200") == 1
    assert value(scraped, name, route="/api/webhooks/<int:property_uid>/<event>/<int:id>",
                 method="GET", status="401") == 1
    assert value(scraped, name, route="unmatched", method="GET", status="404") == 1
    assert "/api/no/such" not in text and "booking_modified/41" not in text


def test_the_event_feed_lag_of_each_key(metered_site):
    site = metered_site
    made = site.cli("keys", "create", "--manager", "manager", "--scope", "events_get", "--json")
    client_id = json.loads(made.output)["client_id"]
    with site.app.app_context(), site.kit.transaction() as session:
        api_key_id = session.scalar(select(ApiKey.id).where(ApiKey.client_id == client_id))
        session.add(AcknowledgedCursor(api_key_id=api_key_id, xid=0, event_id=0))
    before = value(scrape_site(site), "jomreskit_event_feed_lag_events",
                   api_key_id=str(api_key_id))
    assert before is not None
    fire(site, 3)
    scraped = scrape_site(site)
    assert value(scraped, "jomreskit_event_feed_lag_events",
                 api_key_id=str(api_key_id)) == min(before + 3, 1001)
    assert 0 <= value(scraped, "jomreskit_event_feed_acknowledged_age_seconds",
                      api_key_id=str(api_key_id)) < 60


def test_the_sample_alert_rules_name_only_metrics_the_site_exposes(metered_site):
    document = (Path(__file__).parents[1] / "docs" / "operating.md").read_text()
    rules = document.split("### Sample alert rules", 1)[1].split("```yaml", 1)[1]
    rules = rules.split("```", 1)[0]
    named = set(re.findall(r"\bjomreskit_[a-z_]+", rules))
    assert named  # the rules are where this test looks
    answer = metered_site.client().get("/metrics",
                                       headers={"Authorization": f"Bearer {TOKEN}"})
    families = {f.name for f in text_string_to_metric_families(answer.get_data(as_text=True))}
    # A counter's family is named without _total; a histogram's samples add _bucket, _count.
    exposed = set()
    for family in families:
        exposed |= {family, f"{family}_total", f"{family}_bucket", f"{family}_count",
                    f"{family}_sum"}
    assert named <= exposed, named - exposed
    documented = set(re.findall(r"^\| `(jomreskit_[a-z_]+)`", document, re.M))
    # Every metric is in the reference (the text format adds a counter's or histogram's
    # creation time as a family of its own).
    assert {re.sub(r"_total$", "", name) for name in documented} == {
        f for f in families if not f.endswith("_created")}
