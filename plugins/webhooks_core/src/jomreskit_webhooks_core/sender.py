"""Sending one delivery attempt and judging the answer.

Only a 2xx answer is a success. Redirects are not followed. Each attempt has a connect
timeout and a total timeout, reads at most 64 KiB of the answer, and goes through the SSRF
guard. Each thread of a worker keeps its own pooled ``requests`` session (keep-alive).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

from jomreskit.db import utcnow

from . import deadline, guard, message, schedule

if TYPE_CHECKING:
    from jomreskit import AuthMethod

READ_LIMIT = 64 * 1024
EXCERPT = 1000


@dataclass
class Job:
    """A claimed delivery, as the worker hands it to a sending thread."""

    id: int
    claim: str
    webhook_id: int
    msg_id: str
    event_type: str
    payload: str
    attempts: int  # attempts made before this one
    traceparent: str | None = None  # of the request that fired the event, when traced


@dataclass
class Target:
    """A webhook as needed to send to it: settings and signing secret in clear (never logged)."""

    id: int
    url: str
    enabled: bool
    method: AuthMethod | None
    authmethod: str
    settings: dict[str, Any]
    secret: str
    problem: str | None = None  # why it cannot be sent to (a setting cannot be read...)
    host: str = ""  # models.host_of(url): what the worker's per-host cap counts
    manager_id: int = 0


@dataclass
class Outcome:
    """What one attempt did, and what should happen next."""

    job: Job
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    excerpt: str = ""
    error: str | None = None
    succeeded: bool = False
    retry_at: datetime | None = None  # None and not succeeded: the delivery has failed
    disable_reason: str | None = None  # the webhook is to be disabled
    skipped: bool = False  # not sent: the webhook was disabled or deleted meanwhile


class DeliverySession(requests.Session):
    """A session that never follows redirects, always times out and reads at most 64 KiB.

    Auth methods get one to fetch tokens with, so their requests obey the same rules and the
    same SSRF guard as deliveries.
    """

    def __init__(self, site_guard: guard.Guard, connect_timeout: float, timeout: float) -> None:
        super().__init__()
        self.trust_env = False  # no proxies from the environment: the guard checks the target
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        adapter = guard.adapter(site_guard)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send without following redirects; the body (64 KiB at most) is read before returning.

        The socket timeouts bound each wait; the attempt's ``Deadline`` bounds the whole.
        """
        adapter = self.get_adapter(request.url or "")
        response = adapter.send(request, stream=True,
                                timeout=(self.connect_timeout, self.timeout))
        raw = response.raw
        data = b""
        try:
            while len(data) <= READ_LIMIT:
                chunk = raw.read(READ_LIMIT + 1 - len(data), decode_content=False)
                if not chunk:
                    break
                data += chunk
        except BaseException:
            raw.close()
            raw.release_conn()
            raise
        if len(data) > READ_LIMIT:  # more than we read: drop the connection, do not drain it
            data = data[:READ_LIMIT]
            raw.close()
        raw.release_conn()
        # requests has no public way to hand a Response a body read elsewhere (its own
        # adapters set ``_content`` the same way). Reading it here, bounded, is what keeps a
        # huge answer from being buffered whole: ``response.content`` would read it all.
        response._content = data
        response._content_consumed = True
        return response


class Sender:
    """Sends attempts; safe to use from many threads (each gets its own session)."""

    def __init__(self, site_guard: guard.Guard, connect_timeout: float = 5.0,
                 timeout: float = 15.0) -> None:
        self.guard = site_guard
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._local = threading.local()
        self._sessions: list[DeliverySession] = []
        self._lock = threading.Lock()
        self.watchdog = deadline.Watchdog()

    def session(self) -> DeliverySession:
        found = getattr(self._local, "session", None)
        if found is None:
            found = DeliverySession(self.guard, self.connect_timeout, self.timeout)
            self._local.session = found
            with self._lock:
                self._sessions.append(found)
        return found

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self.watchdog.close()

    def attempt(self, job: Job, target: Target | None) -> Outcome:
        """Make one attempt at ``job`` and say what comes next; never raises.

        The attempt (token request, connection, request, answer) ends by its deadline
        (``timeout``), however slowly the other side answers.
        """
        started = time.monotonic()
        outcome = Outcome(job=job, attempted_at=utcnow(), duration_ms=0)
        limit: deadline.Deadline | None = None
        try:
            if target is None or not target.enabled:
                outcome.error = "not sent: the webhook is disabled or deleted"
                outcome.skipped = True
                return outcome
            if target.problem or target.method is None:
                outcome.error = (target.problem
                                 or f"auth method {target.authmethod!r} is not installed")
                return self._retry(outcome)
            with self.watchdog.attempt(self.timeout) as limit:
                response = self._send(job, target)
                excerpt = response.content[:EXCERPT].decode("utf-8", "replace")
            if limit.expired:
                raise requests.Timeout(_late(self.timeout))
            outcome.status_code = response.status_code
            outcome.excerpt = excerpt
            return self._judge(outcome, response)
        except guard.AddressRefused as exc:
            outcome.error = str(exc)  # refused before connecting: trying again will not help
            return outcome
        except Exception as exc:
            if (limit is not None and limit.expired) or isinstance(exc, requests.ReadTimeout):
                # Cut off at the deadline (whatever the shut socket raised), or silent as long.
                outcome.error = f"timed out: {_late(self.timeout)}"
            elif isinstance(exc, requests.Timeout):
                outcome.error = f"timed out: {_reason(exc)}"
            elif isinstance(exc, requests.ConnectionError):
                outcome.error = f"cannot connect: {_reason(exc)}"
            else:  # an auth method's token fetch, a bad URL...
                outcome.error = f"{type(exc).__name__}: {exc}"[:EXCERPT]
            return self._retry(outcome)
        finally:
            outcome.duration_ms = int((time.monotonic() - started) * 1000)

    def _send(self, job: Job, target: Target) -> requests.Response:
        assert target.method is not None
        http = self.session()
        request = message.request(target.url, job.msg_id, job.payload, target.secret,
                                  int(time.time()))
        target.method.authenticate(request, target.settings, http)
        response = http.send(request)
        if response.status_code == 401 and target.method.unauthorized(target.settings):
            request = message.request(target.url, job.msg_id, job.payload, target.secret,
                                      int(time.time()))
            target.method.authenticate(request, target.settings, http)
            response = http.send(request)
        return response

    def _judge(self, outcome: Outcome, response: requests.Response) -> Outcome:
        code = response.status_code
        if 200 <= code < 300:
            outcome.succeeded = True
            return outcome
        if code == 410:
            outcome.error = "the endpoint answered 410 Gone"
            outcome.disable_reason = "the endpoint answered 410 Gone: it no longer wants events"
            return outcome
        if 300 <= code < 400:
            location = response.headers.get("Location", "")
            outcome.error = f"redirect ({code}) to {location[:200]!r} not followed"
        else:
            outcome.error = f"HTTP {code}"
        later = None
        if code in (429, 503):
            later = schedule.retry_after(response.headers.get("Retry-After"), utcnow())
        return self._retry(outcome, later)

    def _retry(self, outcome: Outcome, seconds: float | None = None) -> Outcome:
        """Schedule the next attempt, counted from the end of this one (a retry "in 5 s"
        after a 15 s timeout is 5 s after the timeout, not 5 s after it began)."""
        if seconds is None:
            seconds = schedule.delay(outcome.job.attempts + 1)
        elif outcome.job.attempts + 1 >= schedule.ATTEMPTS:
            seconds = None
        if seconds is not None:
            outcome.retry_at = utcnow() + timedelta(seconds=seconds)
        return outcome


def _late(timeout: float) -> str:
    return f"no complete answer within {timeout:g} s"


def _reason(exc: BaseException) -> str:
    # requests nests urllib3's errors; the innermost says what happened in plain words.
    inner: BaseException = exc
    while inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    reason = getattr(inner, "reason", None)
    text = str(reason if reason is not None else inner)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
