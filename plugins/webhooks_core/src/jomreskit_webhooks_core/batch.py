"""Writing a worker's outcomes in as few statements, and as little Python, as the database allows.

A worker writes the outcome of every attempt: that is as many rows as it sends, so these
writes run straight through the driver. A batch is one UPDATE and one INSERT whatever its
size: on PostgreSQL each row's values go as arrays (``unnest``), on SQLite as a ``VALUES``
list; other databases get an ``executemany``. Timestamps are converted for the database by
the column type's own bind processor, as SQLAlchemy would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, null, update

from .models import Delivery, DeliveryAttempt

DELIVERIES = Delivery.__table__
ATTEMPTS = DeliveryAttempt.__table__

# (id, claim, status, next_attempt_at, attempts, last_status_code, last_error, delivered_at)
FINISH_FIELDS = ("id", "claim", "status", "next_at", "attempts", "code", "error", "delivered")
# (delivery_id, attempted_at, duration_ms, status_code, response_excerpt, error)
ATTEMPT_FIELDS = ("delivery_id", "attempted_at", "duration_ms", "status_code",
                  "response_excerpt", "error")

_FINISH = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("b_id"), DELIVERIES.c.claim == bindparam("b_claim"))
    .values(status=bindparam("b_status"), next_attempt_at=bindparam("b_next_at"),
            attempts=bindparam("b_attempts"), last_status_code=bindparam("b_code"),
            last_error=bindparam("b_error"), delivered_at=bindparam("b_delivered"), claim=null())
)
_ATTEMPTS = insert(ATTEMPTS).values({name: bindparam(f"b_{name}") for name in ATTEMPT_FIELDS})

_POSTGRES_FINISH = (
    f"UPDATE {DELIVERIES.name} AS d SET status = u.status, next_attempt_at = u.next_at,"
    " attempts = u.attempts, last_status_code = u.code, last_error = u.error,"
    " delivered_at = u.delivered, claim = NULL"
    " FROM unnest(%b::integer[], %b::text[], %b::text[], %b::timestamptz[], %b::integer[],"
    " %b::integer[], %b::text[], %b::timestamptz[])"
    " AS u(id, claim, status, next_at, attempts, code, error, delivered)"
    " WHERE d.id = u.id AND d.claim = u.claim"
)
_POSTGRES_ATTEMPTS = (
    f"INSERT INTO {ATTEMPTS.name} (delivery_id, attempted_at, duration_ms, status_code,"
    " response_excerpt, error)"
    " SELECT * FROM unnest(%b::integer[], %b::timestamptz[], %b::integer[], %b::integer[],"
    " %b::text[], %b::text[])"
)

# On SQLite, one statement per batch too: the driver lets other threads run while each
# statement executes, and a thread that must win the interpreter back after every row of an
# executemany would wait its turn once per row behind the sending threads.
_SQLITE_FINISH = (
    f"UPDATE {DELIVERIES.name} SET status = u.column3, next_attempt_at = u.column4,"
    " attempts = u.column5, last_status_code = u.column6, last_error = u.column7,"
    " delivered_at = u.column8, claim = NULL FROM (VALUES {rows}) AS u"
    f" WHERE {DELIVERIES.name}.id = u.column1 AND {DELIVERIES.name}.claim = u.column2"
)
_SQLITE_ATTEMPTS = (
    f"INSERT INTO {ATTEMPTS.name} (delivery_id, attempted_at, duration_ms, status_code,"
    " response_excerpt, error) VALUES {rows}"
)
SQLITE_CHUNK = 500

_compiled: dict[tuple[str, int], tuple[str, Sequence[str] | None]] = {}


def stamp(dialect: Any) -> Any:
    """A function converting a timestamp for ``dialect``'s driver (built once per worker)."""
    return DELIVERIES.c.created_at.type.bind_processor(dialect) or (lambda v: v)


def finish(connection: Any, rows: list[tuple[Any, ...]]) -> None:
    """Record outcomes on deliveries, where the worker's claim still stands."""
    _run(connection, rows, _FINISH, FINISH_FIELDS, _POSTGRES_FINISH, _SQLITE_FINISH)


def log_attempts(connection: Any, rows: list[tuple[Any, ...]]) -> None:
    """Add rows to the attempt log."""
    _run(connection, rows, _ATTEMPTS, ATTEMPT_FIELDS, _POSTGRES_ATTEMPTS, _SQLITE_ATTEMPTS)


def _run(connection: Any, rows: list[tuple[Any, ...]], statement: Any, fields: Sequence[str],
         postgres: str, sqlite: str) -> None:
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name == "postgresql":
        connection.exec_driver_sql(postgres, tuple(list(column) for column in zip(*rows,
                                                                                  strict=True)))
        return
    if dialect.name == "sqlite":
        row = "(" + ", ".join("?" * len(fields)) + ")"
        for start in range(0, len(rows), SQLITE_CHUNK):
            chunk = rows[start:start + SQLITE_CHUNK]
            connection.exec_driver_sql(sqlite.replace("{rows}", ", ".join([row] * len(chunk))),
                                       tuple(value for r in chunk for value in r))
        return
    key = (dialect.name, id(statement))
    found = _compiled.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect)
        found = _compiled[key] = (str(compiled),
                                  compiled.positiontup if compiled.positional else None)
    sql, order = found
    names = [f"b_{name}" for name in fields]
    if order is None:
        connection.exec_driver_sql(sql, [dict(zip(names, row, strict=True)) for row in rows])
    else:
        index = [names.index(name) for name in order]
        connection.exec_driver_sql(sql, [tuple(row[i] for i in index) for row in rows])
