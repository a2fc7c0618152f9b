"""Testing an auth method without a site (``authenticate``), and a site's deliveries against
receivers that fail the way real ones do (``Endpoint``).

An auth method: the delivery it would be handed, after it acted.

    from jomreskit_webhooks_core.testing import authenticate

    def test_it_adds_the_partner_headers():
        request = authenticate(HomeAwayPartnerKey(), {"advertiser_id": "A-1", "api_key": "k"})
        assert request.headers["Authorization"] == "HomeAway-Key k"

The request is built and signed by the same code as every delivery (``message``); the
settings are cleaned by the method first, as webhooks_core stores them.

A receiver host that is down, beside one that answers (a site must open 127.0.0.0/8 with
``JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS``; each address is a host of its own to the worker):

    dead = Endpoint("127.0.0.2", "hang")      # reads each request and says nothing
    slow = Endpoint("127.0.0.3", "trickle")   # the status line, then a byte a second
    ...                                       # webhooks to dead.url + "/hook", events fired
    dead.answer_again()                       # 200 from now on
    assert sorted(a.webhook_id for a in dead.answered) == ...
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from jomreskit import AuthMethod

from . import message

TEST_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # any 24 bytes in base64 will do


def authenticate(
    method: AuthMethod,
    settings: Mapping[str, Any],
    *,
    url: str = "https://receiver.example/webhooks",
    event: str = "booking_modified",
    ids: Mapping[str, int] | None = None,
    manager_id: int = 1,
    callback_url: str | None = None,
    secret: str = TEST_SECRET,
    http: requests.Session | None = None,
) -> requests.PreparedRequest:
    """Build a signed delivery of ``event`` to ``url``, let ``method`` add its credentials with
    ``settings``, and return the request as it would be sent.

    ``request.headers`` holds the Standard Webhooks headers and the method's own;
    ``request.body`` is the exact bytes that were signed (the JSON notification). ``http`` is
    what the method may fetch credentials with (default: a plain ``requests.Session``; a site
    hands it one bound by the SSRF guard and timeouts).
    """
    ids = dict(ids or {"property_uid": 1, "contract_uid": 41})
    payload = message.body(event, datetime.now(UTC), ids, manager_id, callback_url)
    request = message.request(url, message.new_msg_id(), payload, secret,
                              int(datetime.now(UTC).timestamp()))
    cleaned = method.clean_settings(settings)
    if http is not None:
        method.authenticate(request, cleaned, http)
    else:
        with requests.Session() as session:
            method.authenticate(request, cleaned, session)
    return request


@dataclass(frozen=True)
class Answered:
    """A request an ``Endpoint`` answered 200: its ``webhook-id`` header, its body, and when
    (``time.time()``) the answer went."""

    webhook_id: str
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Endpoint:
    """A receiver on a loopback address of its own: it ``trickle``s an endless answer (the
    status line, then a byte a second: every wait for data is short, so only a deadline on
    the whole attempt ends it), ``hang``s (reads the request, says nothing), or answers 200
    at once (``ok``, keep-alive).

    Counts ``connections``, and the most it held open at once (``most_open``); records each
    request it answered (``answered``, in order), by its ``webhook-id``, so a notification
    that came twice shows as one id twice.
    """

    def __init__(self, address: str = "127.0.0.1", how: str = "ok") -> None:
        self.how = how
        self.server = socket.create_server((address, 0), backlog=512)
        self.url = f"http://{address}:{self.server.getsockname()[1]}"
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.answered: list[Answered] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True,
                         name=f"endpoint-{address}").start()

    def answer_again(self) -> None:
        """Answer 200 from now on. The requests hanging now stay unanswered: their attempts
        were cut off at their deadline already."""
        self.how = "ok"

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        with self._lock:
            for connection in self._held:
                connection.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:  # closed
                return
            with self._lock:
                self.connections += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
                self._held.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            self._requests(connection)
        except OSError:  # the worker cut the attempt off, or the endpoint closed
            pass
        finally:
            with self._lock:
                self.open -= 1

    def _requests(self, connection: socket.socket) -> None:
        buffer = b""
        while not self._stop.is_set():
            while b"\r\n\r\n" not in buffer:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            headers = {name.strip().lower(): value.strip() for name, _, value in (
                line.decode("latin-1").partition(":") for line in head.split(b"\r\n")[1:])}
            length = int(headers.get("content-length", "0"))
            while len(rest) < length:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                rest += chunk
            body, buffer = rest[:length], rest[length:]
            if self.how == "trickle":
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 1_000_000:
                    if self._stop.wait(1.0):
                        return
                    connection.sendall(bytes([byte]))
            if self.how == "hang":
                self._stop.wait()
                return
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            with self._lock:
                self.answered.append(Answered(headers.get("webhook-id", ""), body, time.time()))
