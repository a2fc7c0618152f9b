"""Fixtures for webhooks_core's tests: a receiving service on loopback, and webhooks to it."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from jomreskit.testing import Site


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)  # when it arrived (seconds since the epoch)

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A remote service on loopback: records every request, answers as it is told.

    ``answer(status, body, headers, delay)`` queues one answer (FIFO) for the next request;
    when none is queued it answers 200 ``ok``. ``token_path`` answers OAuth token requests.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[tuple[int, Any, dict[str, str], float]] = deque()
        self.tokens_issued: list[str] = []
        self.lock = threading.Lock()
        self.url = ""

    def answer(self, status: int = 200, body: bytes | str | Iterable[bytes] = b"ok",
               headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        """Queue the answer to the next request; ``body`` may be an endless iterator."""
        data = body.encode() if isinstance(body, str) else body
        self.answers.append((status, data, headers or {}, delay))

    @property
    def deliveries(self) -> list[Received]:
        return [r for r in self.received if r.path != "/token"]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.deliveries

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        body = request.get_data()
        with self.lock:
            self.received.append(Received(request.path, dict(request.headers), body,
                                          dict(request.form)))
        if request.path == "/token":
            with self.lock:
                token = f"token-{len(self.tokens_issued) + 1}"
                self.tokens_issued.append(token)
            response = Response(json.dumps({"access_token": token, "token_type": "Bearer",
                                            "expires_in": 3600}),
                                content_type="application/json")
            return response(environ, start_response)
        try:
            status, data, headers, delay = self.answers.popleft()
        except IndexError:
            status, data, headers, delay = 200, b"ok", {}, 0.0
        if delay:
            time.sleep(delay)
        return Response(data, status=status, headers=headers)(environ, start_response)


@pytest.fixture
def receiver(serve_app: Callable[[Any], str]) -> Iterator[Receiver]:
    """A receiving service on a loopback port (the test sites open 127.0.0.0/8)."""
    found = Receiver()
    found.url = serve_app(found)
    yield found


@pytest.fixture
def make_webhook_site(make_site: Callable[..., Site]) -> Callable[..., Site]:
    """Build demo-seeded sites, started once set up, as a real server would be, so the
    plugins the registry names (webhooks_core and the auth methods) are active."""

    def make(**config: Any) -> Site:
        return make_site(seed=True, **config)

    return make


@pytest.fixture
def site(make_webhook_site: Callable[..., Site]) -> Site:
    """A demo-seeded site with webhooks_core active; 127.0.0.0/8 is open to deliveries."""
    return make_webhook_site()
