"""A delivery attempt as an OpenTelemetry client span, when the host traces (``jomreskit.tracing``).

The span follows the HTTP client conventions: named by the method, with
``http.request.method``, ``server.address``, ``server.port``, ``url.full`` (scheme, host, port
and path only: a URL's user, password and query may hold credentials), and
``http.response.status_code`` or ``error.type`` for what came back. It links to the span of
the request that fired the event (the ``traceparent`` stored with the delivery): the attempt
may come days later, in another process, so it follows from that span rather than being its
child. Without a tracer the attempt is made as it is, with no span.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from jomreskit import tracing

if TYPE_CHECKING:
    from .sender import Job, Outcome, Sender, Target

NAME = "jomreskit_webhooks_core"


def attempt(sender: Sender, job: Job, target: Target | None) -> Outcome:
    """``sender.attempt(job, target)``, inside a client span when the host traces."""
    tracer = tracing.tracer(NAME)
    if tracer is None or target is None or not target.enabled:
        return sender.attempt(job, target)
    from opentelemetry import trace

    parts = urlsplit(target.url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    host = parts.hostname or ""
    shown_host = f"[{host}]" if ":" in host else host
    attributes = {
        "http.request.method": "POST", "server.address": host, "server.port": port,
        "url.full": f"{parts.scheme}://{shown_host}:{port}{parts.path or '/'}",
        "jomreskit.webhook.id": job.webhook_id, "jomreskit.delivery.id": job.id,
        "jomreskit.event.type": job.event_type, "http.request.resend_count": job.attempts,
    }
    with tracer.start_as_current_span("POST", kind=trace.SpanKind.CLIENT, attributes=attributes,
                                      links=tracing.links_to(job.traceparent)) as span:
        outcome = sender.attempt(job, target)
        if outcome.status_code is not None:
            span.set_attribute("http.response.status_code", outcome.status_code)
        failure = error_type(outcome)
        if failure is not None:
            span.set_attribute("error.type", failure)
            span.set_status(trace.Status(trace.StatusCode.ERROR, outcome.error))
        return outcome


def error_type(outcome: Outcome) -> str | None:
    """What went wrong, as ``error.type`` says it: the status code of a 4xx or 5xx answer, else
    a low-cardinality name of the failure; None for a success."""
    if outcome.succeeded:
        return None
    code = outcome.status_code
    if code is not None:
        return str(code) if code >= 400 else "redirect"
    error = outcome.error or ""
    if error.startswith("timed out"):
        return "timeout"
    if error.startswith("cannot connect"):
        return "connection_error"
    if error.startswith("refused to connect"):  # the SSRF guard's
        return "address_refused"
    return "_OTHER"
