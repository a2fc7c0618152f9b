"""Statements compiled once and run on a driver connection: the hot path of API callbacks.

On PostgreSQL ``first_text`` runs through libpq's own prepared statements rather than psycopg's
cursor; it must answer and fail exactly as the cursor does, and survive what happens to a
pooled connection (its statements deallocated, its server process gone).
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Date,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    column,
    create_engine,
    func,
    insert,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError

from jomreskit import db
from jomreskit.core import db as core_db
from jomreskit.db import DriverConnection, DriverStatement

THINGS = table("things", column("id", Integer), column("name", String), column("day", Date))


@pytest.fixture
def engine(database_url):
    engine = db.make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT, "
                                "day DATE)"))
        connection.execute(text("INSERT INTO things VALUES (1, 'Fawlty Towers', '2026-12-01'), "
                                "(2, NULL, '2026-12-02')"))
    yield engine
    engine.dispose()


def name_of(engine, *where: str) -> DriverStatement:
    statement = select(THINGS.c.name)
    for key in where:
        statement = statement.where(THINGS.c[key] == bindparam(key, type_=THINGS.c[key].type))
    return DriverStatement(statement, engine.dialect)


def test_first_text_answers_as_the_cursor_does(engine):
    by_id, by_name = name_of(engine, "id"), name_of(engine, "name")
    by_id_and_day = name_of(engine, "id", "day")  # a date: the cursor's own way
    connection = DriverConnection(engine)
    try:
        for statement, values in [(by_id, {"id": 1}), (by_id, {"id": 2}), (by_id, {"id": 3}),
                                  (by_name, {"name": "Fawlty Towers"}),
                                  (by_name, {"name": "nobody's"}),
                                  (by_id_and_day, {"id": 1, "day": date(2026, 12, 1)})]:
            row = statement.first(connection, values)
            assert statement.first_text(connection, values) == (None if row is None else row[0])
        assert by_id.first_text(connection, {"id": 1}) == "Fawlty Towers"
        assert by_id.first_text(connection, {"id": 2}) is None  # NULL
        assert by_id.first_text(connection, {"id": 3}) is None  # no row
    finally:
        connection.close()


def test_run_writes_as_the_cursor_does_and_says_how_many_rows(engine):
    stamped = table("stamped", column("id", Integer), column("name", String),
                    column("at", db.UTCDateTime()))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE stamped (id INTEGER, name TEXT, at "
                                + ("TIMESTAMP WITH TIME ZONE" if engine.dialect.name ==
                                   "postgresql" else "TEXT") + ")"))
    add = DriverStatement(insert(stamped).values(id=bindparam("id"), name=bindparam("name"),
                                                 at=bindparam("at")), engine.dialect)
    at = datetime(2026, 11, 30, 17, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    connection = DriverConnection(engine)
    try:
        assert add.run(connection, {"id": 1, "name": "Fawlty Towers", "at": at}) == 1
        assert add.run(connection, {"id": 2, "name": None, "at": None}) == 1
    finally:
        connection.close()

    with engine.connect() as connection:  # committed, each by itself, and read back the same
        rows = connection.execute(select(stamped).order_by(stamped.c.id)).all()
    assert [tuple(row) for row in rows] == [(1, "Fawlty Towers", at), (2, None, None)]


def test_a_failing_statement_raises_what_the_cursor_raises(engine):
    missing = DriverStatement(select(column("name")).select_from(table("nothing")).where(
        column("id") == bindparam("id", type_=Integer)), engine.dialect)
    connection = DriverConnection(engine)
    try:
        with pytest.raises(Exception) as by_cursor:
            missing.first(connection, {"id": 1})
        with pytest.raises(Exception) as by_first_text:
            missing.first_text(connection, {"id": 1})
        assert type(by_first_text.value) is type(by_cursor.value)
        assert not isinstance(by_first_text.value, DBAPIError)  # the driver's own, unwrapped
    finally:
        connection.close()


@pytest.fixture
def postgres_engine(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("libpq's prepared statements and server processes are PostgreSQL's")
    return engine


def test_statements_deallocated_behind_its_back_are_prepared_again(postgres_engine):
    by_id = name_of(postgres_engine, "id")
    connection = DriverConnection(postgres_engine)
    try:
        assert by_id.first_text(connection, {"id": 1}) == "Fawlty Towers"
        cursor = connection.cursor()
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name LIKE "
                       "'jomreskit%%'")
        assert [row[0] for row in cursor.fetchall()] == [by_id._libpq[1].decode()]
        cursor.execute("DEALLOCATE ALL")  # as a pooler's or an admin's DISCARD ALL would
        cursor.close()
        assert by_id.first_text(connection, {"id": 1}) == "Fawlty Towers"
    finally:
        connection.close()


def test_a_connection_whose_server_process_ended_is_dropped_and_the_next_one_works(
        postgres_engine):
    engine = postgres_engine
    by_id = name_of(engine, "id")
    connection = DriverConnection(engine)
    assert by_id.first_text(connection, {"id": 1}) == "Fawlty Towers"
    backend_pid = DriverStatement(select(cast(func.pg_backend_pid(), Text)), engine.dialect)
    pid = backend_pid.first_text(connection, {})
    admin = create_engine(engine.url)
    with admin.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": int(pid)})
    admin.dispose()

    with pytest.raises(Exception, match="terminat|closed|lost"):
        by_id.first_text(connection, {"id": 1})
    connection.close()  # the broken connection leaves the pool

    again = DriverConnection(engine)
    try:
        assert by_id.first_text(again, {"id": 1}) == "Fawlty Towers"
        assert backend_pid.first_text(again, {}) != pid
    finally:
        again.close()


def test_sqlite_reads_take_turns_and_writes_do_not(tmp_path):
    """On SQLite a read through ``first`` holds its engine's turn while SQLite runs it (one
    server thread in SQLite at a time); ``run``, which may wait for the write lock, takes none."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT, "
                                    "day DATE)"))
        connection = DriverConnection(engine)
        other = DriverConnection(engine)
        try:
            assert connection.turn is other.turn  # one per engine, not per connection
            seen = []
            connection._pooled.dbapi_connection.create_function(
                "turn_held", 0, lambda: seen.append(connection.turn.locked()) or 1)
            held = DriverStatement(select(func.turn_held()), engine.dialect)
            assert held.first(connection, {}) == (1,)
            write = DriverStatement(insert(THINGS).values(id=func.turn_held(), name="x"),
                                    engine.dialect)
            assert write.run(connection, {"name": "x"}) == 1
            assert seen == [True, False]
            assert not connection.turn.locked()  # given back after the read
        finally:
            connection.close()
            other.close()
    finally:
        engine.dispose()


def test_a_driver_connection_given_back_is_kept_for_the_next(engine):
    """A connection given back sound is taken again without the pool, up to half the pool's
    size; the rest go back to the pool."""
    first = DriverConnection(engine)
    driver = first._pooled.dbapi_connection
    first.close()
    first.close()  # given back once only
    again = DriverConnection(engine)
    assert again._pooled.dbapi_connection is driver
    again.close()

    limit = engine.pool.size() // 2
    many = [DriverConnection(engine) for _ in range(limit + 2)]
    for connection in many:
        connection.close()
    assert engine.pool.checkedout() == limit  # the spares; two went back to the pool
    assert engine.pool.checkedin() >= 2


def test_dispose_closes_the_spare_connections(engine):
    connection = DriverConnection(engine)
    driver = connection._pooled.dbapi_connection
    connection.close()
    engine.dispose()
    assert engine.pool.checkedout() == 0
    fresh = DriverConnection(engine)
    try:
        assert fresh._pooled.dbapi_connection is not driver
        assert fresh.cursor().execute("SELECT 1").fetchone()[0] == 1
    finally:
        fresh.close()


@pytest.mark.postgres
def test_a_spare_lost_while_resting_is_replaced_unnoticed(engine, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("server processes are PostgreSQL's")
    connection = DriverConnection(engine)
    pid = connection._pooled.dbapi_connection.info.backend_pid
    connection.close()
    with engine.connect() as other:  # the server ends it while it rests (a restart would)
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    monkeypatch.setattr(core_db, "IDLE_BEFORE_PING", 0.1)
    time.sleep(0.2)
    statement = DriverStatement(select(func.pg_backend_pid()), engine.dialect)
    connection = DriverConnection(engine)
    try:
        assert statement.first_text(connection, {}) not in (None, str(pid))
    finally:
        connection.close()


def _in_a_forked_child(check) -> int:
    """Fork, run ``check`` in the child and exit it at once (no finalizers, which would close
    what the parent holds): the child's exit code, 0 when ``check`` returned True."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if check() else 2
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_forked_child_starts_without_the_parents_spares_or_its_turn(engine):
    parent = DriverConnection(engine)
    parent.close()  # kept as a spare, in the parent
    spares = core_db._spares_of(engine)
    assert spares.kept
    held = spares.turn
    if held is not None:
        held.acquire()  # as if another thread of the parent were reading at the fork
    try:
        assert _in_a_forked_child(lambda: not spares.kept and (
            spares.turn is None or spares.turn.acquire(timeout=1))) == 0
    finally:
        if held is not None:
            held.release()
    assert spares.kept  # the parent keeps its own


def test_a_forked_childs_dispose_leaves_the_parents_connections_working(engine):
    """SQLAlchemy's way to give a forked child its own pool, dispose(close=False), must not
    close the connections the parent still uses (on PostgreSQL, closing them in the child
    would end the parent's sessions)."""
    parent = DriverConnection(engine)
    parent.close()

    def dispose() -> bool:
        engine.dispose(close=False)
        return True

    assert _in_a_forked_child(dispose) == 0
    again = DriverConnection(engine)  # the spare the parent kept
    try:
        assert name_of(engine, "id").first(again, {"id": 1}) == ("Fawlty Towers",)
    finally:
        again.close()
