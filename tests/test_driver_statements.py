"""Statements compiled once, the hot path of API calls, run through SQLAlchemy like any other:
they answer as SQLAlchemy's own execution does, fail with SQLAlchemy's exceptions, and a
connection the server ended is handled as SQLAlchemy handles one (the pool replaced)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Date,
    Integer,
    String,
    bindparam,
    column,
    create_engine,
    func,
    insert,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from jomreskit import db
from jomreskit.db import CompiledStatement

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


def name_of(*where: str) -> select:
    statement = select(THINGS.c.name)
    for key in where:
        statement = statement.where(THINGS.c[key] == bindparam(key, type_=THINGS.c[key].type))
    return statement


def test_a_compiled_statement_answers_as_sqlalchemys_execution_does(engine):
    cases = [(name_of("id"), {"id": 1}), (name_of("id"), {"id": 2}), (name_of("id"), {"id": 3}),
             (name_of("name"), {"name": "Fawlty Towers"}), (name_of("name"), {"name": "nobody"}),
             (name_of("id", "day"), {"id": 1, "day": date(2026, 12, 1)})]
    with engine.connect() as connection:
        for statement, values in cases:
            compiled = CompiledStatement(statement, engine.dialect)
            expected = connection.execute(statement, values).first()
            assert compiled.first(connection, values) == expected
            assert compiled.scalar(connection, values) == (None if expected is None
                                                           else expected[0])


def test_run_writes_and_says_how_many_rows(engine):
    stamped = table("stamped", column("id", Integer), column("name", String),
                    column("at", db.UTCDateTime()))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE stamped (id INTEGER, name TEXT, at "
                                + ("TIMESTAMP WITH TIME ZONE" if engine.dialect.name ==
                                   "postgresql" else "TEXT") + ")"))
    add = CompiledStatement(insert(stamped).values(id=bindparam("id"), name=bindparam("name"),
                                                   at=bindparam("at")), engine.dialect)
    at = datetime(2026, 11, 30, 17, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as connection:
        assert add.run(connection, {"id": 1, "name": "Fawlty Towers", "at": at}) == 1
        assert add.run(connection, {"id": 2, "name": None, "at": None}) == 1

    with engine.connect() as connection:  # written as the column's type writes it
        rows = connection.execute(select(stamped).order_by(stamped.c.id)).all()
    assert [tuple(row) for row in rows] == [(1, "Fawlty Towers", at), (2, None, None)]


def test_a_failing_statement_raises_sqlalchemys_exception(engine):
    missing = CompiledStatement(select(column("name")).select_from(table("nothing")).where(
        column("id") == bindparam("id", type_=Integer)), engine.dialect)
    with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
        missing.first(connection, {"id": 1})
    assert "nothing" in str(raised.value.orig)


def test_a_locked_sqlite_database_raises_sqlalchemys_operational_error(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'locked.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)"))
    add = CompiledStatement(insert(THINGS.c.id.table).values(id=bindparam("id")),
                            engine.dialect)
    holder = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    impatient = create_engine(engine.url, connect_args={"timeout": 0})
    with holder.connect() as hold, impatient.connect() as connection:
        hold.exec_driver_sql("BEGIN IMMEDIATE")  # another writer holds the lock
        with pytest.raises(OperationalError, match="database is locked"):
            add.run(connection, {"id": 1})
        hold.exec_driver_sql("ROLLBACK")
    for each in (engine, holder, impatient):
        each.dispose()


@pytest.fixture
def postgres_engine(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("server processes and psycopg's prepared statements are PostgreSQL's")
    return engine


def test_a_connection_whose_server_process_ended_invalidates_the_pool(postgres_engine):
    engine = postgres_engine
    by_id = CompiledStatement(name_of("id"), engine.dialect)
    with engine.connect() as connection:
        pid = connection.scalar(select(func.pg_backend_pid()))
        admin = create_engine(engine.url)
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()

        with pytest.raises(DBAPIError) as raised:  # SQLAlchemy's, seen by its handle_error
            by_id.first(connection, {"id": 1})
        assert raised.value.connection_invalidated

    with engine.connect() as again:  # a fresh connection from the pool
        assert by_id.scalar(again, {"id": 1}) == "Fawlty Towers"
        assert again.scalar(select(func.pg_backend_pid())) != pid


def test_psycopg_prepares_a_statement_run_often_on_a_connection(postgres_engine):
    engine = postgres_engine
    by_id = CompiledStatement(name_of("id"), engine.dialect)
    with engine.connect() as connection:
        for _ in range(10):
            assert by_id.scalar(connection, {"id": 1}) == "Fawlty Towers"
        prepared = connection.scalars(text(
            "SELECT statement FROM pg_prepared_statements")).all()
    assert any("FROM things" in statement for statement in prepared)


def test_prepared_statements_can_be_turned_off_for_a_pooler(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("psycopg's prepared statements are PostgreSQL's")
    engine = db.make_engine(database_url, prepared_statements=False)
    by_id = CompiledStatement(name_of("id"), engine.dialect)
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE TEMPORARY TABLE things (id INTEGER, name TEXT, "
                                    "day DATE)"))
            connection.execute(text("INSERT INTO things VALUES (1, 'Fawlty Towers', NULL)"))
            for _ in range(10):
                assert by_id.scalar(connection, {"id": 1}) == "Fawlty Towers"
            assert connection.scalar(text("SELECT count(*) FROM pg_prepared_statements")) == 0
    finally:
        engine.dispose()


def test_an_engine_dropped_after_autocommit_sessions_is_not_kept_alive(database_url):
    engine = db.make_engine(database_url)
    sessions = db.make_session(engine)
    db.autocommit(sessions())
    assert sessions().scalar(select(func.count()).select_from(text("(SELECT 1) AS one"))) == 1
    sessions.remove()
    engine.dispose()
    dropped = weakref.ref(engine)
    del engine, sessions
    gc.collect()
    assert dropped() is None


def test_importing_jomreskit_and_its_plugins_adds_no_listener_to_every_session():
    # In a fresh interpreter: every module of the core and the API imported, a site built,
    # then a session of a host's own.
    script = """
import importlib, pkgutil, sys
from sqlalchemy.orm import Session
from sqlalchemy.orm.events import SessionEvents
from jomreskit import create_app
for package in ("jomreskit", "jomreskit_api_core", "jomreskit_api_feature_webhooks"):
    module = importlib.import_module(package)
    for found in pkgutil.walk_packages(module.__path__, package + "."):
        if "testing" not in found.name and "__main__" not in found.name:
            importlib.import_module(found.name)
create_app({"JOMRESKIT_INSTANCE_PATH": sys.argv[1]})
host = Session()  # a session of the host's own
names = [n for n in dir(SessionEvents) if not n.startswith("_") and n != "dispatch"]
print(",".join(n for n in names if hasattr(host.dispatch, n) and len(getattr(host.dispatch, n))))
"""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        run = subprocess.run([sys.executable, "-c", script, folder], capture_output=True,
                             text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


def test_a_forked_child_uses_its_own_connections_and_leaves_the_parents_working(engine):
    # SQLAlchemy's way for a child process: dispose(close=False), then connections of its own.
    by_id = CompiledStatement(name_of("id"), engine.dialect)
    engine = engine.execution_options(**db.autocommit_options(engine))  # as the API reads
    parent = engine.connect()
    assert by_id.scalar(parent, {"id": 1}) == "Fawlty Towers"
    with engine.connect() as rested:  # one more resting in the pool at the fork
        by_id.scalar(rested, {"id": 1})

    child = os.fork()
    if child == 0:  # the child: exits 0 only if its own connection reads
        status = 1
        try:
            engine.dispose(close=False)
            with engine.connect() as connection:
                status = 0 if by_id.scalar(connection, {"id": 1}) == "Fawlty Towers" else 1
        finally:
            os._exit(status)
    _pid, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert by_id.scalar(parent, {"id": 1}) == "Fawlty Towers"  # the parent's, untouched
    parent.close()
    with engine.connect() as again:
        assert by_id.scalar(again, {"id": 1}) == "Fawlty Towers"
