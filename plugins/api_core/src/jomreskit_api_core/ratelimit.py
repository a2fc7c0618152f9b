"""Rate limiting: a fixed window counter per process, in the database or in Redis.

``JOMRESKIT_API_RATE_LIMIT`` (per API key) and ``JOMRESKIT_API_TOKEN_RATE_LIMIT`` (requests
with client credentials, per client id and per address) are each ``"<count>/<period>"``
(period: second, minute, hour, day, or a number of seconds like ``30s``), or
empty/``0``/``off`` for no limit. The counters live where
``JOMRESKIT_API_RATE_LIMIT_STORAGE`` says: ``memory`` (default; each process counts alone),
``database`` (shared by every process on the site's database) or a ``redis://`` URL (shared;
needs the ``redis`` extra: ``pip install 'jomreskit-api-core[redis]'``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from flask import request
from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite

from jomreskit import ValidationError

from .api import ApiError, current_call
from .models import RateLimitCounter

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.api")

DEFAULT_LIMIT = "600/minute"
DEFAULT_TOKEN_LIMIT = "60/minute"  # per client id and per address, on the credentials endpoints
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LIMIT_PATTERN = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(?:(\d+)\s*s|(second|minute|hour|day)s?)\s*$")


def parse_limit(text: Any) -> tuple[int, int] | None:
    """``"600/minute"`` as (600, 60); None for no limit."""
    if text is None or str(text).strip().lower() in ("", "0", "off", "none", "false"):
        return None
    match = LIMIT_PATTERN.match(str(text).lower())
    if not match:
        raise ValidationError(
            f"JOMRESKIT_API_RATE_LIMIT {text!r} is not like 600/minute, 10/second or 100/30s"
        )
    count = int(match[1])
    period = int(match[2]) if match[2] else PERIODS[match[3]]
    if count <= 0 or period <= 0:
        return None
    return count, period


class Store(Protocol):
    def incr(self, bucket: str, window: int, period: int) -> int:
        """Count one hit on ``bucket`` in ``window``; return the window's count so far."""


class MemoryStore:
    """Counters in this process only."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def incr(self, bucket: str, window: int, period: int) -> int:
        with self._lock:
            seen_window, count = self._counts.get(bucket, (window, 0))
            count = count + 1 if seen_window == window else 1
            self._counts[bucket] = (window, count)
            if len(self._counts) > 10_000:  # forget buckets of past windows
                self._counts = {b: wc for b, wc in self._counts.items() if wc[0] == window}
            return count


class DatabaseStore:
    """Counters in the ``api_rate_limits`` table, one row per key, updated in one statement."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        dialect = kit.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValidationError(f"rate limit counters in the database need SQLite or "
                                  f"PostgreSQL, not {dialect}; use memory or redis://")
        self.insert = sqlite.insert if dialect == "sqlite" else postgresql.insert

    def incr(self, bucket: str, window: int, period: int) -> int:
        table = RateLimitCounter.__table__
        statement = self.insert(table).values(bucket=bucket, window=window, count=1)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.bucket],
            set_={"count": case((table.c.window == window, table.c.count + 1), else_=1),
                  "window": window},
        ).returning(table.c.count)
        # Committed at once, in the request's session: on SQLite a second connection would
        # wait for the write lock this session already holds.
        with self.kit.transaction() as session:
            return int(session.execute(statement).scalar_one())


class RedisStore:
    """Counters in Redis, expiring with their window; named after the site's database, so sites
    sharing a Redis server keep apart while the processes of one site count together."""

    def __init__(self, url: str, site: str) -> None:
        try:
            import redis
        except ImportError:
            raise ValidationError(
                "rate limit counters in Redis need the redis package: "
                "pip install 'jomreskit-api-core[redis]'"
            ) from None
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.namespace = "jomreskit:ratelimit:" + hashlib.sha256(site.encode()).hexdigest()[:12]

    def incr(self, bucket: str, window: int, period: int) -> int:
        key = f"{self.namespace}:{bucket}:{window}"
        pipe = self.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, period + 1)
        count, _ = pipe.execute()
        return int(count)


def make_store(kit: Kit, storage: str | None) -> Store:
    storage = (storage or "memory").strip()
    if storage == "memory":
        return MemoryStore()
    if storage == "database":
        return DatabaseStore(kit)
    if storage.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(storage, str(kit.settings["JOMRESKIT_DATABASE_URL"]))
    raise ValidationError(f"JOMRESKIT_API_RATE_LIMIT_STORAGE {storage!r} is not memory, "
                          "database or a redis:// URL")


class RateLimiter:
    """Counts each API key's requests, and token requests per client id and per address, and
    refuses (429) those over the limit."""

    def __init__(self, kit: Kit) -> None:
        self.limit = parse_limit(kit.settings.get("JOMRESKIT_API_RATE_LIMIT", DEFAULT_LIMIT))
        self.token_limit = parse_limit(
            kit.settings.get("JOMRESKIT_API_TOKEN_RATE_LIMIT", DEFAULT_TOKEN_LIMIT)
        )
        self.store: Store | None = None
        if self.limit or self.token_limit:
            self.store = make_store(kit, kit.settings.get("JOMRESKIT_API_RATE_LIMIT_STORAGE"))

    def hit(self, api_key_id: int) -> None:
        """Count a request of API key ``api_key_id``: rate headers for the response, or ApiError
        429."""
        self._count(f"key{api_key_id}", self.limit, "this API key made")

    def token_request(self) -> None:
        """Count a request that presents client credentials (token, revoke, introspect) once
        for its client id and once for its address, before the secret is checked: guessing a
        secret, or hammering the endpoint, gets 429 like any other API call."""
        client_id = _client_id()
        if client_id:
            self._count(f"token-client:{client_id}", self.token_limit, "this client id made")
        # Digested: the bucket column is short and an IPv6 address with a zone is long.
        address = hashlib.sha256((request.remote_addr or "").encode()).hexdigest()[:32]
        self._count(f"token-address:{address}", self.token_limit, "this address made")

    def _count(self, bucket: str, limit: tuple[int, int] | None, who: str) -> None:
        if limit is None or self.store is None:
            return
        allowed, period = limit
        now = time.time()
        window = int(now // period)
        reset = max(1, math.ceil((window + 1) * period - now))
        try:
            count = self.store.incr(bucket, window, period)
        except Exception:  # the counter store is down: serve rather than refuse everyone
            log.warning("rate limit counters unavailable; request let through", exc_info=True)
            return
        headers = {
            "X-RateLimit-Limit": str(allowed),
            "X-RateLimit-Remaining": str(max(0, allowed - count)),
            "X-RateLimit-Reset": str(reset),
        }
        call = current_call()
        if call is not None:  # the answer carries them; a 429 carries its own instead
            call.rate_headers = headers if count <= allowed else None
        if count > allowed:
            raise ApiError(429, "rate_limited",
                           f"{who} more than {allowed} requests in {period} seconds; "
                           f"try again in {reset} seconds",
                           {**headers, "Retry-After": str(reset)})


def _client_id() -> str | None:
    """The client id a credentials request names, by HTTP Basic or in its form (digested to
    fit the counters' key, whatever its length)."""
    credentials = request.authorization
    given = (credentials.username if credentials is not None and credentials.type == "basic"
             else request.form.get("client_id"))
    if not given:
        return None
    return hashlib.sha256(given.encode()).hexdigest()[:32]
