"""Prometheus metrics: each site's registry, the site's ``/metrics`` endpoint, and the port a
`jomreskit worker` serves its own on.

Every process of a site (each `serve`, each `worker`) counts what it did itself in
``kit.metrics``, a ``prometheus_client`` registry of its own per app: Prometheus scrapes every
process and adds them up. What the database knows (the outbox's backlog, circuits, the event
feed's lag) is read at scrape time by collectors plugins register in the same registry, so any
process answers the same figures for it.

The site's endpoint is off unless ``JOMRESKIT_METRICS_TOKEN`` is set, and then it answers only
requests that carry the token as a bearer token (Prometheus' ``authorization`` scrape setting).
A token rather than "loopback only": a site usually sits behind a reverse proxy on the same
machine, whose requests all come from loopback, so an address check would open the metrics to
whoever reaches the proxy. A worker's port has no proxy in front and is bound to loopback
unless told otherwise.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)

if TYPE_CHECKING:
    from .kit import Kit

log = logging.getLogger("jomreskit")

PREFIX = "jomreskit_"  # every metric's name starts so
PATH = "/metrics"
TOKEN_SETTING = "JOMRESKIT_METRICS_TOKEN"


def new_registry() -> CollectorRegistry:
    """A registry for one site in one process (never prometheus_client's global one, which
    would mix the sites of one process, and count a host's metrics as ours)."""
    return CollectorRegistry(auto_describe=True)


def init_metrics(kit: Kit, app: Flask) -> None:
    """Mount ``/metrics`` on ``app`` when the site has a metrics token."""
    token = str(kit.settings.get(TOKEN_SETTING) or "")
    if not token:
        return
    expected = f"Bearer {token}".encode()

    def metrics() -> Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return Response("metrics need the site's metrics token as a bearer token\n",
                            status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(generate_latest(kit.metrics), mimetype=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    app.add_url_rule(PATH, endpoint="jomreskit_metrics", view_func=metrics, methods=["GET"])


def serve_metrics(kit: Kit, port: int, host: str = "127.0.0.1") -> Any:
    """Serve this process's metrics on ``host:port`` in a thread (a worker's ``--metrics-port``);
    returns the server, whose ``shutdown()`` stops it."""
    server, _thread = start_http_server(port, addr=host, registry=kit.metrics)
    log.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server
