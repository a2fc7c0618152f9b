"""A hard wall-clock deadline for each attempt, however the remote side trickles its bytes.

A socket timeout bounds one wait for data, so an endpoint that sends its answer a byte at a
time resets it with every byte and is never cut off. Instead, each attempt runs under a
``Deadline`` that its thread holds while sending; every socket the attempt connects or sends
on is watched, and one watchdog thread shuts the sockets of an attempt down when its time is
up. The blocked read returns at once, and the attempt fails as timed out. This covers the
connection, the request, the headers and the body alike, and an auth method's token request
made on the same thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

TICK = 0.1  # how often the watchdog looks while attempts are under way


class Deadline:
    """The end of one attempt: its sockets are shut down when ``at`` (monotonic) passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                _shut(sock)
            elif not any(s is sock for s in self._sockets):
                self._sockets.append(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)
            self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


_current = threading.local()


def watch(sock: socket.socket | None) -> None:
    """Put ``sock`` under the deadline of the attempt this thread is making, if any."""
    found: Deadline | None = getattr(_current, "deadline", None)
    if found is not None and sock is not None:
        found.watch(sock)


class Watchdog:
    """One thread that ends the attempts whose deadline has passed; asleep when none run."""

    def __init__(self) -> None:
        self._running: set[Deadline] = set()
        self._lock = threading.Lock()
        self._busy = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    @contextmanager
    def attempt(self, seconds: float) -> Iterator[Deadline]:
        """Run the body as one attempt of at most ``seconds``; this thread's sockets are watched."""
        deadline = Deadline(seconds)
        with self._lock:
            self._running.add(deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="jomreskit-delivery-deadline")
                self._thread.start()
        self._busy.set()
        _current.deadline = deadline
        try:
            yield deadline
        finally:
            _current.deadline = None
            with self._lock:
                self._running.discard(deadline)

    def close(self) -> None:
        self._closed = True
        self._busy.set()

    def _run(self) -> None:
        while not self._closed:
            self._busy.wait()
            time.sleep(TICK)
            now = time.monotonic()
            with self._lock:
                late = [d for d in self._running if d.at <= now]
                if not self._running:
                    self._busy.clear()
            for deadline in late:
                deadline.expire()
