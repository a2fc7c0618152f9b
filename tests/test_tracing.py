"""OpenTelemetry, when the host sets it up: API requests are server spans named by their route
template, and each delivery attempt a client span linked to the span of the request that fired
its event. Without the package nothing changes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from jomreskit_api_core.testing import auth, bearer_token, day
from jomreskit_webhooks_core.models import Delivery
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from .test_metrics import site_env

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def host_traces():
    """The host's set-up: an SDK tracer provider exporting to memory (set once per process,
    as OpenTelemetry allows)."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)
    yield


@pytest.fixture
def spans():
    EXPORTER.clear()
    return EXPORTER


class Receiver:
    def __init__(self) -> None:
        self.statuses = [200]
        self.traceparents: list[str | None] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.get_data()
        with self.lock:
            self.traceparents.append(request.headers.get("traceparent"))
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Response("ok", status=status)(environ, start_response)


def webhook_to(site, url: str) -> int:
    result = site.cli("webhooks", "create", "--manager", "manager", "--url", url, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["id"]


def drain(site) -> dict:
    result = site.cli("worker", "--drain", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_an_api_write_is_a_server_span_and_its_delivery_a_client_span_linked_to_it(
        api_site, serve_app, spans):
    site = api_site
    receiver = Receiver()
    url = serve_app(receiver) + "/hook?token=s3cret"
    webhook_to(site, url)
    token = bearer_token(site, scopes=("availability_write",))
    spans.clear()
    answer = site.client().post("/api/availability/1/close", headers=auth(token), json={
        "room_uids": [2], "arrival": day(40), "departure": day(41)})
    assert answer.status_code == 200, answer.get_data(as_text=True)

    [server] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server.name == "POST /api/availability/<int:property_uid>/close"
    assert server.attributes["http.route"] == "/api/availability/<int:property_uid>/close"
    assert server.attributes["http.response.status_code"] == 200

    receiver.statuses = [503, 200]  # the first attempt fails, the retry succeeds
    assert drain(site)["retrying"] == 1
    with site.app.app_context(), site.kit.transaction() as session:
        session.execute(Delivery.__table__.update().values(next_attempt_at=Delivery.created_at))
    assert drain(site)["succeeded"] == 1

    clients = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
    assert [s.name for s in clients] == ["POST", "POST"]
    failed, succeeded = clients
    port = int(url.split(":")[2].split("/")[0])
    for span in clients:
        assert span.attributes["http.request.method"] == "POST"
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["server.port"] == port
        assert span.attributes["url.full"] == f"http://127.0.0.1:{port}/hook"  # no query
        assert "s3cret" not in json.dumps(dict(span.attributes))
        # Linked to the request that fired the event, not a child of it: the attempt comes
        # later, from the worker.
        [link] = span.links
        assert link.context.trace_id == server.context.trace_id
        assert link.context.span_id == server.context.span_id
        assert span.context.trace_id != server.context.trace_id
    assert failed.attributes["http.response.status_code"] == 503
    assert failed.attributes["error.type"] == "503"
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert succeeded.attributes["http.response.status_code"] == 200
    assert "error.type" not in succeeded.attributes
    assert succeeded.attributes["http.request.resend_count"] == 1


def test_an_attempt_that_gets_no_answer_says_why_in_error_type(site, spans):
    webhook_to(site, "http://127.0.0.1:9/hook")  # nothing listens on the discard port
    with site.app.app_context(), site.kit.transaction():
        site.kit.fire("booking_modified", property_uid=1, contract_uid=41)
    drain(site)
    [client] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
    assert client.attributes["error.type"] == "connection_error"
    assert "http.response.status_code" not in client.attributes
    assert client.links == ()  # fired outside any traced request: nothing to link to


ABSENT = """
import json, sys
sys.modules["opentelemetry"] = None  # as if the package were not installed
from jomreskit import create_app, get_kit, tracing
from jomreskit_webhooks_core import worker
app = create_app()
kit = get_kit(app)
with app.app_context():
    with kit.transaction():
        kit.fire("booking_modified", property_uid=1, contract_uid=41)
    stats = worker.Worker(kit).run("drain")
print(json.dumps({"tracer": tracing.tracer("x"), "succeeded": stats.succeeded}))
"""


def test_without_opentelemetry_deliveries_go_as_before(site, serve_app):
    receiver = Receiver()
    webhook_to(site, serve_app(receiver) + "/hook")
    done = subprocess.run([sys.executable, "-c", ABSENT], env=site_env(site), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"tracer": None, "succeeded": 1}
    with site.app.app_context(), site.kit.transaction() as session:
        assert session.scalars(select(Delivery.traceparent)).all() == [None]
