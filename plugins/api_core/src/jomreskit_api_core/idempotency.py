"""Idempotency-Key: a write retried with the same key gets the first answer, and runs once.

A write sent with ``Idempotency-Key: K`` claims (API key, K) by inserting a row in its own
transaction before the view runs, and stores its answer in that row before it commits: the row
exists if and only if the write committed. A retry finds the row and answers from it; a retry
sent while the first is still running waits on the row's primary key (PostgreSQL) or on the
write lock (SQLite), then finds it. Answers the client must not replay (5xx, and "in use") are
never stored: their transaction rolls back with the row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Response, request
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from jomreskit import ValidationError
from jomreskit.db import autocommit, utcnow

from .errors import ApiError
from .models import IdempotentRequest

if TYPE_CHECKING:
    from jomreskit import Kit

log = logging.getLogger("jomreskit.api")

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
DEFAULT_TTL = 86400
KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII, as Stripe's and the IETF draft's
KEPT_HEADERS = ("Content-Type", "ETag", "Location")  # what a replay must repeat
IN_USE = "idempotency_key_in_use"
PURGE_EVERY = 300.0  # seconds between two deletions of expired keys, per process

TABLE = IdempotentRequest.__table__
C = TABLE.c


@dataclass(frozen=True)
class Stored:
    """The row a write found for its key: what the first request was, and its answer."""

    fingerprint: str
    status: int | None
    headers: Mapping[str, str] | None
    body: str | None


class Idempotency:
    """The Idempotency-Keys of one site: how long they are kept, and when expired ones go."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        raw = kit.settings.get("JOMRESKIT_API_IDEMPOTENCY_TTL", DEFAULT_TTL)
        try:
            seconds = int(raw)
        except (TypeError, ValueError):
            seconds = 0
        if seconds <= 0:
            raise ValidationError(
                f"JOMRESKIT_API_IDEMPOTENCY_TTL {raw!r} is not a whole number of seconds above 0")
        self.ttl = timedelta(seconds=seconds)
        self._next_purge = 0.0
        self._purging = threading.Lock()

    def requested_key(self) -> str | None:
        """The request's Idempotency-Key (None without one), or ApiError 422
        ``invalid_idempotency_key``."""
        key = request.headers.get(HEADER)
        if key is None:
            return None
        if not KEY.fullmatch(key):
            raise ApiError(422, "invalid_idempotency_key",
                           f"{HEADER} must be 1 to 255 printable ASCII characters "
                           "(a UUID, say)", field=HEADER)
        return key

    def purge_now_and_then(self, session: Session) -> None:
        """Delete the keys older than the TTL, at most every PURGE_EVERY seconds per process,
        as a statement of its own (before the write's transaction begins), so that a table
        that only grows stays bounded without a service to run."""
        if time.monotonic() < self._next_purge or not self._purging.acquire(blocking=False):
            return
        try:
            self._next_purge = time.monotonic() + PURGE_EVERY
            autocommit(session)
            deleted = session.execute(delete(TABLE).where(C.created_at < utcnow() - self.ttl))
            session.commit()
            if deleted.rowcount:
                log.info("%d expired idempotency keys deleted", deleted.rowcount)
        except SQLAlchemyError as exc:  # the write goes on; the next purge tries again
            session.rollback()
            log.warning("deleting expired idempotency keys failed: %s",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        finally:
            self._purging.release()

    def claim(self, session: Session, api_key_id: int, key: str,
              fingerprint: str) -> Stored | None:
        """Take ``key`` for this request inside the current transaction: None when it is
        ours (its row is written, the answer to follow), else the row a request before
        wrote. A row older than the TTL is taken over as if it were not there."""
        now = utcnow()
        for _ in range(3):
            if _insert_new(session, api_key_id, key, fingerprint, now):
                return None
            # Taken: by a committed request (PostgreSQL waited for it to end), or one whose
            # answer has not been stored yet (a view that committed by itself).
            row = session.execute(select(C.fingerprint, C.status, C.headers, C.body,
                                         C.created_at)
                                  .where(C.api_key_id == api_key_id, C.key == key)).first()
            if row is None:
                continue  # purged in between: claim it afresh
            if row.created_at >= now - self.ttl:
                return Stored(row.fingerprint, row.status, row.headers, row.body)
            taken_over = session.execute(
                update(TABLE)
                .where(C.api_key_id == api_key_id, C.key == key, C.created_at == row.created_at)
                .values(fingerprint=fingerprint, status=None, headers=None, body=None,
                        created_at=now))
            if taken_over.rowcount:
                return None
        raise ApiError(409, IN_USE, f"another request with this {HEADER} is being answered; "
                                    "retry in a moment")

    @staticmethod
    def store(session: Session, api_key_id: int, key: str, response: Response) -> None:
        """Keep ``response`` as the answer to ``key`` (in the write's transaction)."""
        headers = {name: response.headers[name] for name in KEPT_HEADERS
                   if name in response.headers}
        session.execute(update(TABLE).where(C.api_key_id == api_key_id, C.key == key).values(
            status=response.status_code, headers=headers, body=response.get_data(as_text=True)))


def fingerprint() -> str:
    """What makes two requests the same one: method, path, query and body. A JSON body counts
    by what it says, not how it is spelt: a retry re-serialised with other whitespace or key
    order is the same request. Any other body counts byte for byte."""
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode("utf-8", "surrogatepass"),
                 request.query_string, _body()):
        digest.update(b"%d:" % len(part))
        digest.update(part)
    return digest.hexdigest()


def _body() -> bytes:
    data = request.get_data(cache=True)
    if request.is_json:
        try:
            parsed = json.loads(data)
        except ValueError:
            return data  # the view answers it with its own error; compared as sent
        return json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    return data


def answer(stored: Stored, fingerprint: str) -> Response:
    """The answer to a request whose key was used before: the stored one, or an error."""
    if stored.fingerprint != fingerprint:
        raise ApiError(422, "idempotency_key_reused",
                       f"this {HEADER} was used for a different request (method, path, query "
                       "or body) within its lifetime; use a new key for a new request",
                       field=HEADER)
    if stored.status is None:
        raise ApiError(409, IN_USE, f"the first request with this {HEADER} is still being "
                                    "answered; retry in a moment")
    response = Response(stored.body or "", status=stored.status, headers=dict(stored.headers or {}))
    response.headers[REPLAYED] = "true"
    return response


def keeps(response: Response) -> bool:
    """Whether ``response`` is the answer to replay for its key: successes and client errors
    (as Stripe keeps them), not server errors, which a retry may get past. ("In use" is answered
    before a key is claimed, so it is never stored either.)"""
    return response.status_code < 500


# -- claiming a key in one statement, where the database can ---------------------------------


def _insert_new(session: Session, api_key_id: int, key: str, fingerprint: str,
                now: Any) -> bool:
    """Insert the key's row unless one exists; True when this request inserted it.

    PostgreSQL's ON CONFLICT DO NOTHING waits for a transaction inserting the same key to end,
    then skips the row if that one committed: the second request sees the first's answer.
    """
    values = {"api_key_id": api_key_id, "key": key, "fingerprint": fingerprint,
              "created_at": now}
    dialect = session.get_bind().dialect.name
    if dialect in _ON_CONFLICT:
        statement = (_ON_CONFLICT[dialect](TABLE).values(**values)
                     .on_conflict_do_nothing(index_elements=[C.api_key_id, C.key])
                     .returning(C.api_key_id))
        return session.execute(statement).first() is not None
    try:  # any other database: a savepoint to survive the duplicate
        with session.begin_nested():
            session.execute(insert(TABLE).values(**values))
        return True
    except IntegrityError:
        return False


def _dialect_inserts() -> dict[str, Any]:
    from sqlalchemy.dialects import postgresql, sqlite

    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


_ON_CONFLICT = _dialect_inserts()
