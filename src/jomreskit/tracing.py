"""OpenTelemetry for plugins: spans when the host has set OpenTelemetry up, nothing otherwise.

Part of the public surface (see ``jomreskit``): api_core opens a server span per API request and
webhooks_core a client span per delivery attempt, linked through the W3C context a delivery keeps.
"""

from .core.tracing import current_traceparent, links_to, parent_from, tracer

__all__ = ["current_traceparent", "links_to", "parent_from", "tracer"]
