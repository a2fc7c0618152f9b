"""Storage: the declarative base every model (core and plugins) shares, and engine set-up."""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.pool import QueuePool
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


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def timestamp_text(value: datetime) -> str:
    """The one form of a timestamp in everything jomreskit writes as JSON (CLI, API, webhook
    bodies): ISO 8601 in UTC with a "T", microseconds and the offset, as
    ``2026-11-30T09:01:28.123456+00:00``; a fixed width, so the texts also sort as times."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let the driver stop managing transactions so BEGIN IMMEDIATE below is ours.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(AUTOCOMMIT_OPTION):
                return  # no BEGIN: the driver commits each statement by itself
            # Take the write lock up front: a reader that later writes would otherwise fail
            # with "database is locked" instead of waiting for its turn.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_idle_connections(engine)
    _connection_lost_when_the_server_says_so(engine)
    return engine


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


def autocommit_options(engine: Engine) -> dict[str, Any]:
    """Connection options under which each statement is a transaction of its own.

    PostgreSQL takes SQLAlchemy's AUTOCOMMIT isolation level. SQLite's driver already runs
    outside transactions here (see ``make_engine``), so the option just leaves out our
    ``BEGIN IMMEDIATE``: switching its isolation level would hand transactions back to the driver.
    """
    if engine.dialect.name == "sqlite":
        return {AUTOCOMMIT_OPTION: True}
    return {"isolation_level": "AUTOCOMMIT"}


def autocommit(session: Session) -> None:
    """Let ``session`` run each statement as a transaction of its own, until it next commits,
    rolls back or closes (its connection then goes back to the pool as it came).

    For work that only reads, or writes in one atomic statement: it saves the BEGIN and
    COMMIT/ROLLBACK round trips on PostgreSQL, and on SQLite it does not queue behind the write
    lock. Called before the session's first statement; once it has begun, it changes nothing.
    """
    if not session.in_transaction():
        session.connection(execution_options=autocommit_options(session.get_bind()))


class DriverConnection:
    """A connection from ``engine``'s pool as the driver's own (DBAPI) connection, on which
    each statement is a transaction of its own, for reads on a hot path (an API call's token
    check and record): no Session, no SQLAlchemy Connection, no statement cache lookup; the
    caller runs SQL compiled ahead, in the driver's paramstyle. ``close()`` gives it back.

    Its ``cursor()`` is the driver's; do not commit, roll back or close it yourself.
    """

    def __init__(self, engine: Engine) -> None:
        self._dialect = engine.dialect
        self._spares = _spares_of(engine)
        self._pooled = self._spares.take() or engine.raw_connection()
        self._given_back = False
        # SQLite: the reads of DriverStatement.first take turns with the process's others.
        self.turn = self._spares.turn
        # SQLite's driver already runs outside transactions here (see make_engine). PostgreSQL
        # takes the AUTOCOMMIT isolation level when a cursor is first asked for, undone before
        # the connection goes back: libpq's own prepared statements (execute_prepared) need
        # none, as psycopg adds no BEGIN to them and a pooled connection comes back outside any
        # transaction; each switch of psycopg's is a few of its generator round trips in Python.
        self._autocommit_on_cursor = engine.dialect.name != "sqlite"
        self._reset = False

    def cursor(self) -> Any:
        if self._autocommit_on_cursor:
            self._autocommit_on_cursor = False
            try:
                self._dialect.set_isolation_level(self._pooled.dbapi_connection, "AUTOCOMMIT")
            except BaseException:
                self._pooled.invalidate()
                raise
            self._reset = True
        return self._pooled.cursor()

    def execute_prepared(self, name: bytes, sql: bytes, params: list[bytes | None]) -> Any:
        """PostgreSQL with psycopg: run ``sql`` ($1, $2... placeholders, values in libpq's text
        format) as libpq's own prepared statement ``name``, prepared on this connection at its
        first use here; libpq's result. (``DriverStatement`` calls it.)"""
        driver = self._pooled.dbapi_connection
        prepared = self._pooled.info.setdefault(_PREPARED, set())
        if name not in prepared:
            _libpq_check(driver, driver.pgconn.prepare(name, sql))
            prepared.add(name)
        result = driver.pgconn.exec_prepared(name, params)
        if _sqlstate(result) == _NO_SUCH_STATEMENT:  # deallocated behind our back (DISCARD ALL)
            _libpq_check(driver, driver.pgconn.prepare(name, sql))
            result = driver.pgconn.exec_prepared(name, params)
        _libpq_check(driver, result)
        return result

    def close(self) -> None:
        """Give the connection back: kept as a spare for the next DriverConnection when it is
        sound and outside any transaction (see ``_Spares``), else to the pool; dropped if the
        driver says it is broken (the server ended it, say), so a fresh one is opened."""
        driver = self._pooled.dbapi_connection
        if driver is None or self._given_back:  # already given back
            return
        self._given_back = True
        try:
            if getattr(driver, "broken", False) or getattr(driver, "closed", False):
                self._pooled.invalidate()
                return
            if self._reset:
                self._dialect.reset_isolation_level(driver)
            if _outside_transactions(driver) and self._spares.keep(self._pooled):
                return
        except Exception:
            self._pooled.invalidate()
            return
        if self._pooled.dbapi_connection is not None:
            self._pooled.close()


def _outside_transactions(driver: Any) -> bool:
    info = getattr(driver, "info", None)  # psycopg: libpq's transaction status, 0 when idle
    if info is not None and hasattr(info, "transaction_status"):
        return bool(info.transaction_status == 0)
    return not getattr(driver, "in_transaction", True)  # sqlite3


class _Spares:
    """Connections the hot path gave back, kept out of the pool for its next request.

    Under load a checkout and checkin through SQLAlchemy's pool (its queue's locks, its reset)
    cost a busy server process more than the statement's own CPU: with each API request's
    DriverConnection kept by its thread instead, a callback cost about 10 % less of the server
    process's CPU on PostgreSQL (measured under ``bench/api_throughput.py``'s load). A spare
    stays checked out of the pool, so the pool's limits still count it; at most half the
    pool's size are kept (the rest go back, for sessions); one that rested is pinged before
    use, as the pool pings its own (``_ping_idle_connections``), and replaced if it is gone;
    ``engine.dispose()`` closes them all. A forked child lets go of the parent's untouched
    (``_forget_inherited_spares``).

    On SQLite it also holds the ``turn`` the engine's hot-path reads take (``first``).
    """

    def __init__(self, engine: Engine) -> None:
        pool = engine.pool  # a QueuePool's own size; other pools (SQLite in memory) keep none
        self.limit = max(1, pool.size() // 2) if isinstance(pool, QueuePool) else 0
        self.dialect = engine.dialect
        self.kept: list[tuple[Any, float]] = []  # (pooled connection, given back at)
        self.turn = threading.Lock() if engine.dialect.name == "sqlite" else None

    def take(self) -> Any:
        """A spare connection, checked if it rested; None when there is none."""
        while True:
            try:
                pooled, since = self.kept.pop()  # atomic: no lock on the hot path
            except IndexError:
                return None
            if time.monotonic() - since < IDLE_BEFORE_PING:
                return pooled
            try:
                self.dialect.do_ping(pooled.dbapi_connection)
            except Exception:  # lost while resting (a restart, say): the next one, or the pool
                pooled.invalidate()
                continue
            return pooled

    def keep(self, pooled: Any) -> bool:
        """Keep ``pooled`` unless enough are kept already (checked without a lock: a few
        threads at once may keep one or two more)."""
        if len(self.kept) >= self.limit:
            return False
        self.kept.append((pooled, time.monotonic()))
        return True

    def close(self, *_args: Any) -> None:
        kept, self.kept = self.kept, []
        for pooled, _since in kept:
            pooled.invalidate()


_spares: weakref.WeakKeyDictionary[Engine, _Spares] = weakref.WeakKeyDictionary()
_spares_lock = threading.Lock()


def _spares_of(engine: Engine) -> _Spares:
    spares = _spares.get(engine)
    if spares is None:
        with _spares_lock:
            spares = _spares.get(engine)
            if spares is None:
                spares = _spares[engine] = _Spares(engine)
                event.listen(engine, "engine_disposed", spares.close)
                # An engine dropped without dispose(): its spares closed, not left to the
                # garbage collector (which SQLAlchemy warns about).
                weakref.finalize(engine, spares.close)
    return spares


def _forget_inherited_spares() -> None:
    """In a forked child: the parent's spare connections are the parent's, neither to hand
    out nor to close here (SQLAlchemy's way of giving a child its own pool,
    ``dispose(close=False)``, leaves the parent's connections untouched too), and a turn that
    another of the parent's threads held at the fork would stay taken for ever."""
    global _spares_lock
    _spares_lock = threading.Lock()
    for spares in list(_spares.values()):
        spares.kept = []
        if spares.turn is not None:
            spares.turn = threading.Lock()


os.register_at_fork(after_in_child=_forget_inherited_spares)


_AUTOCOMMIT_WHEN_USED = "jomreskit_autocommit_when_used"  # a Session.info flag
_autocommit_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


class _Session(Session):
    """The sessions of ``make_session``: they can be told to run in autocommit should they
    connect at all (``autocommit_when_used``), which costs nothing when they do not."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        bind = super().get_bind(*args, **kwargs)
        if self.info.get(_AUTOCOMMIT_WHEN_USED) and isinstance(bind, Engine):
            # The same pool, with the options that make each statement its own transaction.
            engine = _autocommit_engines.get(bind)
            if engine is None:
                engine = _autocommit_engines[bind] = bind.execution_options(
                    **autocommit_options(bind))
            return engine
        return bind

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
    touch the session at all (an API call reading on a ``DriverConnection``). Sessions not
    made by ``make_session`` (a host app's) take ``autocommit`` at once."""
    if session.in_transaction():
        return
    if isinstance(session, _Session):
        session.info[_AUTOCOMMIT_WHEN_USED] = True
    else:
        autocommit(session)


class DriverStatement:
    """A statement compiled once for a database, run on a ``DriverConnection`` as the driver's
    own SQL: no statement cache lookup (its key is hashed on every call) and no result
    processing; the caller reads the driver's values (``driver_timestamp`` for times)."""

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
        # On PostgreSQL with psycopg: the statement as libpq prepares it (see _libpq_values).
        self._libpq: tuple[bytes, bytes, tuple[str, ...]] | None = None
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            numbered = statement.compile(dialect=type(dialect)(paramstyle="numeric_dollar"))
            self._libpq = (f"jomreskit_{next(_statement_numbers)}".encode(),
                           numbered.string.encode(), tuple(numbered.positiontup or ()))

    def _libpq_values(self, connection: Any, values: dict[str, Any]) -> list[Any] | None:
        """The values in libpq's text format, when the statement can run as libpq's own
        prepared statement: on PostgreSQL, on a DriverConnection, with each value None, an int,
        a str or an aware datetime. None otherwise (psycopg's cursor runs it).

        psycopg's cursor, built for every kind of value, lets go of the GIL at each step of a
        round trip and costs a busy server process about twice the CPU of one libpq call,
        which lets go once (0.13 ms against 0.05 ms per statement, measured alone)."""
        if self._libpq is None or not isinstance(connection, DriverConnection):
            return None
        values = self._processed(values)
        params = [_libpq_text(values[key]) for key in self._libpq[2]]
        return None if _UNSUPPORTED in params else params

    def first_text(self, connection: Any, values: dict[str, Any]) -> str | None:
        """The first row's first column as text (a record's JSON, say), or None when there is
        no row or it is NULL; on PostgreSQL as libpq's own prepared statement when it can."""
        params = self._libpq_values(connection, values)
        if params is not None:
            name, sql, _order = self._libpq  # type: ignore[misc]
            result = connection.execute_prepared(name, sql, params)
            value = result.get_value(0, 0) if result.ntuples else None
            return None if value is None else bytes(value).decode()
        row = self.first(connection, values)
        return None if row is None else row[0]

    def _processed(self, values: dict[str, Any]) -> dict[str, Any]:
        if not self.processors:
            return values
        return {name: self.processors[name](value) if name in self.processors else value
                for name, value in values.items()}

    def _parameters(self, values: dict[str, Any]) -> Any:
        values = self._processed(values)
        if self.positional is not None:
            return tuple(values[name] for name in self.positional)
        return values

    def first(self, connection: Any, values: dict[str, Any]) -> Any:
        """The first row (a tuple of the driver's values) the statement reads, or None.

        On SQLite, through a ``DriverConnection``, one thread of the process reads at a time
        (its ``turn``): each read is tens of microseconds of SQLite's C, which lets go of the
        GIL at each step. Under ``bench/api_throughput.py``'s load, several server threads
        inside SQLite at once cost the server process 8-11 % more CPU per callback than reads
        taking turns; a writer that waits for SQLite's lock does not hold the turn (``run``
        takes none)."""
        parameters = self._parameters(values)
        cursor = connection.cursor()
        try:
            turn = getattr(connection, "turn", None)
            if turn is None:
                cursor.execute(self.sql, parameters)
                return cursor.fetchone()
            with turn:
                cursor.execute(self.sql, parameters)
                return cursor.fetchone()
        finally:
            cursor.close()

    def run(self, connection: Any, values: dict[str, Any]) -> int:
        """Run a statement that writes; how many rows it touched. On PostgreSQL as libpq's own
        prepared statement when it can (``first_text``)."""
        params = self._libpq_values(connection, values)
        if params is not None:
            name, sql, _order = self._libpq  # type: ignore[misc]
            touched = connection.execute_prepared(name, sql, params).command_tuples
            return int(touched) if touched else 0
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, self._parameters(values))
            return cursor.rowcount
        finally:
            cursor.close()


_statement_numbers = itertools.count(1)  # libpq statement names, unique in the process
_PREPARED = "jomreskit_prepared"  # the pooled connection's info: names prepared on it
_SUCCEEDED = (1, 2)  # libpq's COMMAND_OK and TUPLES_OK (psycopg.pq.ExecStatus)
_NO_SUCH_STATEMENT = "26000"  # invalid_sql_statement_name
_UNSUPPORTED = object()


def _libpq_text(value: Any) -> Any:
    """A value as libpq's text format takes it, or _UNSUPPORTED (then psycopg adapts it)."""
    if value is None:
        return None
    if type(value) is int:  # not a bool, whose text would be True
        return str(value).encode()
    if type(value) is str:
        return value.encode()
    if type(value) is datetime and value.tzinfo is not None:  # ISO 8601 with its offset
        return value.isoformat().encode()
    return _UNSUPPORTED


def _sqlstate(result: Any) -> str | None:
    code = result.error_field(ord("C"))  # PG_DIAG_SQLSTATE
    return None if code is None else bytes(code).decode()


def _libpq_check(driver: Any, result: Any) -> None:
    """Raise what psycopg's cursor would raise for a failed ``result``."""
    if result.status not in _SUCCEEDED:
        from psycopg import errors

        raise errors.error_from_result(result, encoding=driver.info.encoding)


def driver_timestamp(value: Any) -> datetime | None:
    """A ``UTCDateTime`` column's value as a driver returns it (SQLite: text), as
    ``UTCDateTime`` reads it: timezone-aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Sessionmaker(sessionmaker):  # type: ignore[type-arg]
    """make_session's factory: the next session it makes in a thread that was told
    ``autocommit_next`` starts with ``autocommit_when_used``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_autocommits = threading.local()

    def __call__(self, **kwargs: Any) -> Any:
        session = super().__call__(**kwargs)
        if getattr(self.next_autocommits, "on", False):
            self.next_autocommits.on = False
            autocommit_when_used(session)
        return session


def autocommit_thread_session(sessions: scoped_session) -> None:
    """``autocommit_when_used`` for the current thread's session of ``sessions``, without
    making one now if the thread has none (an API call that reads on its driver connection
    may never need it); ``forget_thread_autocommit`` when the thread's work is done."""
    factory = sessions.session_factory
    if isinstance(factory, _Sessionmaker) and not sessions.registry.has():
        factory.next_autocommits.on = True
    else:
        autocommit_when_used(sessions())


def forget_thread_autocommit(sessions: scoped_session) -> None:
    factory = sessions.session_factory
    if isinstance(factory, _Sessionmaker):
        factory.next_autocommits.on = False


def make_session(engine: Engine) -> scoped_session:
    """A thread-local session registry bound to ``engine``; requests and workers each get theirs."""
    return scoped_session(_Sessionmaker(bind=engine, class_=_Session, expire_on_commit=False))
