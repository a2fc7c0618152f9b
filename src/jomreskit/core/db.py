"""Storage: the declarative base every model (core and plugins) shares, and engine set-up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    MetaData,
    create_engine,
    event,
    false,
    make_url,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names make Alembic migrations reproducible on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC, even on SQLite which stores it naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return (
            value.astimezone(UTC)
            if dialect.name != "sqlite"
            else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base for all jomreskit tables; plugins define their models on it too."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


AUTOCOMMIT_OPTION = "jomreskit_autocommit"  # an execution option; see autocommit_options
# An execution option of jomreskit's own SQLite engines: transactions start with BEGIN IMMEDIATE.
_BEGINS_IMMEDIATE = "jomreskit_begins_immediate"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def timestamp_text(value: datetime) -> str:
    """The one form of a timestamp in everything jomreskit writes as JSON (CLI, API, webhook
    bodies): ISO 8601 in UTC with a "T", microseconds and the offset, as
    ``2026-11-30T09:01:28.123456+00:00``; a fixed width, so the texts also sort as times."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def make_engine(url: str, prepared_statements: bool = True) -> Engine:
    """Create the engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    ``prepared_statements=False``: psycopg prepares nothing (``prepare_threshold=None``), for a
    pooler in front of PostgreSQL that hands one client's statements to another's session."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               execution_options={_BEGINS_IMMEDIATE: True})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    psycopg = make_url(url).get_dialect().driver == "psycopg"
    connect_args = {} if prepared_statements or not psycopg else {"prepare_threshold": None}
    engine = create_engine(url, pool_size=10, max_overflow=20, connect_args=connect_args)
    _ping_idle_connections(engine)
    _connection_lost_when_the_server_says_so(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let the driver stop managing transactions so BEGIN IMMEDIATE below is ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(AUTOCOMMIT_OPTION):
        return  # no BEGIN: the driver commits each statement by itself
    # Take the write lock up front: a reader that later writes would otherwise fail with
    # "database is locked" instead of waiting for its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


# SQLSTATE classes of a connection the server ended or cannot serve: 08 (connection
# exception) and 57 (operator intervention: shutdown, pg_terminate_backend, crash recovery).
_LOST_CONNECTION_STATES = ("08", "57")


def _connection_lost_when_the_server_says_so(engine: Engine) -> None:
    """Treat an error with which the server ends a connection as a lost connection.

    The driver reports "terminating connection due to administrator command" as an ordinary
    error while the socket is still open, so SQLAlchemy would hand the dead connection back to
    the pool, whose reset then fails with a logged traceback. Marked as a disconnect, the
    connection is dropped, and the pool replaces every connection older than it.
    """

    @event.listens_for(engine, "handle_error")
    def _lost(context: Any) -> None:
        state = getattr(context.original_exception, "sqlstate", None) or ""
        if state[:2] in _LOST_CONNECTION_STATES:
            context.is_disconnect = True


IDLE_BEFORE_PING = 1.0  # seconds a pooled connection rests before it is checked on checkout


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection on checkout only when it has rested a while.

    A connection that rested may have been closed by a database restart or a firewall; a
    failed ping makes the pool replace it before the request sees it (SQLAlchemy's
    ``pool_pre_ping``, which pings on every checkout). Under load connections come back
    within milliseconds, and a ping per request would be one more round trip each.
    """

    @event.listens_for(engine, "checkin")
    def _rested_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["jomreskit_checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_rested(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get("jomreskit_checked_in")
        if checked_in is None or time.monotonic() - checked_in < IDLE_BEFORE_PING:
            return  # just connected, or back from use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection lost: {exc}") from exc


def take_write_lock(session: Session, column: Column[Any]) -> None:
    """Begin ``session``'s transaction by taking SQLite's write lock, on an engine whose
    transactions do not take it up front: a host app's (jomreskit's own begin with
    ``BEGIN IMMEDIATE``; on PostgreSQL ``services.lock_property`` locks rows).

    On such an engine the sqlite3 driver begins a deferred transaction just before the first
    statement that writes, and reads before it run outside any: racing writers would each
    read, then write one after the other (a night with two prices, two If-Match writes that
    both win). So a statement that writes no row (``column`` set to itself where false) comes
    first: the driver begins the transaction for it, and it takes the write lock, waiting for
    the writer before to commit on the connection's busy timeout as ``BEGIN IMMEDIATE`` does
    (SQLite waits for the lock only while the connection reads no snapshot yet, as at a
    transaction's start); every read after it sees what that writer committed. A savepoint
    is then inside the transaction too: with no transaction open, ``SAVEPOINT`` begins one
    of its own, which its ``RELEASE`` commits. The host's engine stays as the host configured
    it; only this transaction starts this way.
    """
    bind = session.get_bind()
    if bind.dialect.name == "sqlite" and not bind.get_execution_options().get(_BEGINS_IMMEDIATE):
        session.execute(update(column.table).values({column: column}).where(false()))


def autocommit_options(engine: Engine) -> dict[str, Any]:
    """Connection options under which each statement is a transaction of its own.

    jomreskit's own SQLite engine already runs its driver outside transactions (see
    ``make_engine``), so the option just leaves out our ``BEGIN IMMEDIATE``: switching its
    isolation level would hand transactions back to the driver. Every other engine (PostgreSQL,
    or a host app's SQLite engine) takes SQLAlchemy's AUTOCOMMIT isolation level, which the
    pool undoes when the connection goes back.
    """
    if engine.get_execution_options().get(_BEGINS_IMMEDIATE):
        return {AUTOCOMMIT_OPTION: True}
    return {"isolation_level": "AUTOCOMMIT"}


def in_autocommit(connection: Connection) -> bool:
    """Whether each statement on ``connection`` is a transaction of its own (see
    ``autocommit_options``)."""
    options = connection.get_execution_options()
    return bool(options.get(AUTOCOMMIT_OPTION) or options.get("isolation_level") == "AUTOCOMMIT")


def autocommit(session: Session) -> None:
    """Let ``session`` run each statement as a transaction of its own, until it next commits,
    rolls back or closes (its connection then goes back to the pool as it came).

    For work that only reads, or writes in one atomic statement: it saves the BEGIN and
    COMMIT/ROLLBACK round trips on PostgreSQL, and on SQLite it does not queue behind the write
    lock. Called before the session's first statement; once it has begun, it changes nothing.
    """
    if not session.in_transaction():
        session.connection(execution_options=autocommit_options(session.get_bind()))


class CompiledStatement:
    """A statement compiled once for a database and run as that SQL string through
    SQLAlchemy (``Connection.exec_driver_sql``): the pool, the events, the error wrapping
    (``DBAPIError``) and disconnect handling are SQLAlchemy's as for any statement, without
    the statement cache's lookup, whose key is worked out anew on every call (costly for a
    record's statement of some hundred columns), and without result processing: rows hold the
    driver's values (``driver_timestamp`` reads its times). On PostgreSQL psycopg prepares the
    statement on a connection by itself once it has run a few times there
    (``prepare_threshold``)."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        # qmark drivers (sqlite3) take the values in order; pyformat ones (psycopg) by name.
        self.positional = tuple(compiled.positiontup or ()) if compiled.positional else None
        # Values written as their column's type writes them (a UTCDateTime on SQLite: text).
        self.processors = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor

    def _parameters(self, values: dict[str, Any]) -> Any:
        if self.processors:
            values = {name: self.processors[name](value) if name in self.processors else value
                      for name, value in values.items()}
        if self.positional is not None:
            return tuple(values[name] for name in self.positional)
        return values

    def first(self, connection: Connection, values: dict[str, Any]) -> Any:
        """The first row the statement reads with ``values`` (the driver's values), or None."""
        return connection.exec_driver_sql(self.sql, self._parameters(values)).first()

    def scalar(self, connection: Connection, values: dict[str, Any]) -> Any:
        """The first row's first column, or None when there is no row."""
        return connection.exec_driver_sql(self.sql, self._parameters(values)).scalar()

    def run(self, connection: Connection, values: dict[str, Any]) -> int:
        """Run a statement that writes; how many rows it touched."""
        return connection.exec_driver_sql(self.sql, self._parameters(values)).rowcount


def driver_timestamp(value: Any) -> datetime | None:
    """A ``UTCDateTime`` column's value as a driver returns it (SQLite: text), as
    ``UTCDateTime`` reads it: timezone-aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_AUTOCOMMIT_ENGINE = "jomreskit_autocommit_engine"  # Session.info: make_session's engine, so
_AUTOCOMMIT_WHEN_USED = "jomreskit_autocommit_when_used"  # flagged, it runs in autocommit


# Set while ``autocommit_when_made`` runs: make_session's registries make sessions told
# ``autocommit_when_used``.
_MADE_IN_AUTOCOMMIT: ContextVar[bool] = ContextVar("jomreskit_made_in_autocommit", default=False)


class _Session(Session):
    """The sessions of ``make_session``: told ``autocommit_when_used``, they run in autocommit
    should they connect before they next commit, roll back or close, which costs nothing when
    they do not connect at all. (``get_bind`` is SQLAlchemy's documented place to choose a
    session's engine; the one chosen here shares the pool, with ``autocommit_options``.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _MADE_IN_AUTOCOMMIT.get():
            self.info[_AUTOCOMMIT_WHEN_USED] = True

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        if self.info.get(_AUTOCOMMIT_WHEN_USED):
            return self.info[_AUTOCOMMIT_ENGINE]
        return super().get_bind(*args, **kwargs)

    def close(self) -> None:
        self.info.pop(_AUTOCOMMIT_WHEN_USED, None)
        super().close()


@event.listens_for(_Session, "after_transaction_end")
def _autocommit_ends_with_its_transaction(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_AUTOCOMMIT_WHEN_USED, None)


def autocommit_when_used(session: Session) -> None:
    """``autocommit(session)`` without taking a connection now: the session runs in autocommit
    if it connects before it next commits, rolls back or closes. For a request that may not
    touch the session at all. Sessions not made by ``make_session`` (a host app's) take
    ``autocommit`` at once."""
    if session.in_transaction():
        return
    if _AUTOCOMMIT_ENGINE in session.info:
        session.info[_AUTOCOMMIT_WHEN_USED] = True
    else:
        autocommit(session)


@contextmanager
def autocommit_when_made(registry: scoped_session) -> Iterator[None]:
    """``autocommit_when_used`` on the current session of ``registry`` for the block, without
    making one: a ``make_session`` registry's session made inside the block starts that way,
    and none is made (nor closed at the request's end) when the block does not use it. A
    registry not from ``make_session`` (a host app's) gets ``autocommit_when_used`` at once."""
    if not issubclass(registry.session_factory.class_, _Session) or registry.registry.has():
        autocommit_when_used(registry())
        yield
        return
    made = _MADE_IN_AUTOCOMMIT.set(True)
    try:
        yield
    finally:
        _MADE_IN_AUTOCOMMIT.reset(made)


def make_session(engine: Engine) -> scoped_session:
    """A thread-local session registry bound to ``engine``; requests and workers each get theirs."""
    autocommitting = engine.execution_options(**autocommit_options(engine))
    return scoped_session(sessionmaker(bind=engine, class_=_Session, expire_on_commit=False,
                                       info={_AUTOCOMMIT_ENGINE: autocommitting}))
