"""Slowing down password guessing on the sign-in form, without handing anyone a way to lock
the real user out.

Failures are counted three ways within a window:

- per address, across usernames: one address spraying many usernames is refused for a while
  (the client's own address; behind a reverse proxy set JOMRESKIT_TRUSTED_PROXIES);
- per username, across addresses: after a few failures the username is refused to every
  browser it has not signed in from before, so a guesser rotating addresses gets nowhere;
- per known browser: a browser that signed in as that user before (it holds a signed device
  cookie, as OWASP suggests against lockout attacks) is not refused for others' failures,
  neither the username's nor its address's (an office or a hotel shares one address with
  whoever sprays from it), only for its own. Its wrong passwords still count against the
  username and the address too.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

MAX_KEYS = 10_000  # beyond this many counters, those with no recent failure are forgotten


class SignInThrottle:
    """Failure counters for sign-ins; ``wait`` says how long a sign-in must wait (0: now)."""

    def __init__(self, limit: int = 5, address_limit: int = 20, window: float = 900.0) -> None:
        self.limit = limit
        self.address_limit = address_limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def _wait(self, key: str, limit: int, now: float) -> float:
        failures = self._recent(key, now)
        if len(failures) < limit:
            return 0.0
        return failures[-limit] + self.window - now

    def wait(self, address: str, username: str, device: str | None = None) -> float:
        """Seconds until a sign-in as ``username`` from ``address`` may be tried; ``device``
        is the known browser's id when it holds a device cookie for this username."""
        now = time.monotonic()
        with self._lock:
            if device is not None:
                return self._wait(f"device:{device}", self.limit, now)
            by_address = self._wait(f"address:{address}", self.address_limit, now)
            return max(by_address, self._wait(f"user:{username}", self.limit, now))

    def failed(self, address: str, username: str, device: str | None = None) -> None:
        now = time.monotonic()
        keys = [f"address:{address}", f"user:{username}"]
        if device is not None:
            keys.append(f"device:{device}")
        with self._lock:
            if len(self._failures) > MAX_KEYS:
                self._forget(now)
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, device: str | None) -> None:
        """A correct password: that browser's own failures are forgiven (not the address's or
        the username's, which would let a guesser reset them with an account of their own)."""
        if device is not None:
            with self._lock:
                self._failures.pop(f"device:{device}", None)

    def _forget(self, now: float) -> None:
        for key in [k for k in self._failures if not self._recent(k, now)]:
            del self._failures[key]
