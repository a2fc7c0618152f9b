"""What every API request leaves behind for operators: its duration in the site's Prometheus
metrics, and a server span when the host traces with OpenTelemetry.

Both are named by the route's template (``/api/webhooks/<int:property_uid>/<event>/<int:id>``),
never the path asked for, so that a scan of a million paths adds no label values: paths that
match no route count as ``unmatched``, and methods outside the API's as ``other``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from prometheus_client import Histogram

from jomreskit import tracing

if TYPE_CHECKING:
    from jomreskit import Kit

UNMATCHED = "unmatched"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: a callback answers in a millisecond or two; a long poll of the event feed waits.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


# One histogram per site's registry, however many Api objects a site builds (a registry
# refuses a second metric of the same name).
_durations: WeakKeyDictionary[Any, Histogram] = WeakKeyDictionary()


def _duration(kit: Kit) -> Histogram:
    histogram = _durations.get(kit.metrics)
    if histogram is None:
        histogram = _durations[kit.metrics] = Histogram(
            "jomreskit_api_request_duration_seconds", "How long API requests took to answer, "
            "by route template, method and status code.", ["route", "method", "status"],
            buckets=BUCKETS, registry=kit.metrics)
    return histogram


class Observer:
    """Times API requests and, when the host traces, wraps each in a server span."""

    def __init__(self, kit: Kit) -> None:
        self.duration = _duration(kit)
        self._children: dict[tuple[str, str, int], Any] = {}

    def start(self, route: str, method: str, headers: Any) -> tuple[float, Any, Any]:
        """Note a request's start; with a tracer, open its server span and make it current (so
        that an event it fires keeps the span's trace context)."""
        started = time.perf_counter()
        tracer = tracing.tracer("jomreskit_api_core")
        if tracer is None:
            return started, None, None
        from opentelemetry import context, trace

        span = tracer.start_span(
            f"{method} {route}", context=tracing.parent_from(headers),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route})
        return started, span, context.attach(trace.set_span_in_context(span))

    def finish(self, started: tuple[float, Any, Any], route: str, method: str,
               status: int) -> None:
        """Count the request's duration; end its span, if any, with the status."""
        began, span, token = started
        seconds = time.perf_counter() - began
        if method not in KNOWN_METHODS:
            method = "other"
        key = (route, method, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.duration.labels(route, method, str(status))
        child.observe(seconds)
        if span is not None:
            from opentelemetry import context, trace

            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_attribute("error.type", str(status))
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()
            context.detach(token)
