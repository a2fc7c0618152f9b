"""OpenTelemetry spans, when the host sets OpenTelemetry up, and nothing at all otherwise.

jomreskit needs only ``opentelemetry-api`` (the ``otel`` extra), and uses it only once the host
has installed a tracer provider (the SDK's, configured with its exporter): until then no span
is made and no trace context stored. Without the package every function here answers None.
The trace context travels as the W3C ``traceparent`` whatever propagator the host chose,
because it is stored in the database (a delivery's link to the request that fired its event).
"""

from __future__ import annotations

import time
from typing import Any

try:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # not installed: tracing is off
    trace = None  # type: ignore[assignment]

_W3C: Any = TraceContextTextMapPropagator() if trace is not None else None
_tracers: dict[tuple[int, str], Any] = {}
_looked: list[Any] = [0.0, None]  # [when to look up the provider again, the provider]


def tracer(name: str) -> Any | None:
    """A tracer named ``name`` from the host's tracer provider, or None when there is none.

    The provider is looked up at most once a second: every delivery attempt and API request
    asks, and the API's lookup reads the environment each time.
    """
    if trace is None:
        return None
    now = time.monotonic()
    if now >= _looked[0]:
        _looked[:] = [now + 1.0, trace.get_tracer_provider()]
    provider = _looked[1]
    if isinstance(provider, trace.ProxyTracerProvider):  # the API's default: nothing set up
        return None
    key = (id(provider), name)
    found = _tracers.get(key)
    if found is None:
        if len(_tracers) > 100:  # providers replaced again and again (tests)
            _tracers.clear()
        found = _tracers[key] = provider.get_tracer(name)
    return found


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span being recorded now, or None."""
    if trace is None or not trace.get_current_span().is_recording():
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def parent_from(headers: Any) -> Any:
    """The trace context an incoming request carries (its ``traceparent`` header), or None."""
    if trace is None or "traceparent" not in headers:
        return None
    return _W3C.extract({"traceparent": headers["traceparent"]})


def links_to(traceparent: str | None) -> list[Any]:
    """A link to the span ``traceparent`` names, for a span that follows from it."""
    if trace is None or not traceparent:
        return []
    context = trace.get_current_span(_W3C.extract({"traceparent": traceparent})).get_span_context()
    return [trace.Link(context)] if context.is_valid else []
