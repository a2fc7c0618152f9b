"""One waker for every thread that waits on other transactions' commits (``jomreskit.db.waker``):
a commit that notifies a channel wakes its waiters in other processes, on SQLite and PostgreSQL;
nothing else does; a lost LISTEN connection is replaced; sites in two schemas of one PostgreSQL
database do not wake each other."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from jomreskit.db import Waker, make_engine, make_session
from jomreskit.testing import POSTGRES_ENV, scratch_database

# What a process that notifies runs: its own engine, sessions and waker on the same database.
NOTIFIER = """
import sys
from sqlalchemy import text
from jomreskit.db import Waker, make_engine, make_session
engine = make_engine(sys.argv[1])
sessions = make_session(engine)
waker = Waker(engine, sys.argv[2], sessions.session_factory)
session = sessions()
session.execute(text("INSERT INTO happened (what) VALUES ('in another process')"))
waker.notify(session)
session.commit()
engine.dispose()
"""


class Side:
    """One process's view of a database: its engine, its sessions and its waker of a channel."""

    def __init__(self, url: str, channel: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session(self.engine)
        self.waker = Waker(self.engine, channel, self.sessions.session_factory)

    def commit(self, notify: bool = True, rollback: bool = False) -> None:
        session = self.sessions()
        session.execute(text("INSERT INTO happened (what) VALUES ('something')"))
        if notify:
            self.waker.notify(session)
        if rollback:
            session.rollback()
        else:
            session.commit()
        self.sessions.remove()

    def watching(self) -> int:
        """Start the thread that watches other processes, let its first wake-up pass (it
        wakes everyone as it starts); the generation to wait from."""
        assert self.waker.wait(self.waker.generation, 20)
        return self.waker.generation

    def close(self) -> None:
        self.sessions.remove()
        self.engine.dispose()


def scalar(url: str, statement: str, **values: object) -> object:
    """One statement on a connection of its own (an administrator's, say)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), values)
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


@contextmanager
def sides(url: str, count: int = 2, channel: str | None = None) -> Iterator[list[Side]]:
    """``count`` processes' views of the database ``url``, with a table to write to."""
    scalar(url, "CREATE TABLE happened (what VARCHAR(40))")
    channel = channel or f"test_{secrets.token_hex(4)}"
    made = [Side(url, channel) for _ in range(count)]
    try:
        yield made
    finally:
        for side in made:
            side.close()


class Waiting:
    """A thread waiting on a waker from ``seen``: whether it woke, and when."""

    def __init__(self, waker: Waker, seen: int, timeout: float) -> None:
        self.woken: bool | None = None
        self.at = 0.0
        self._thread = threading.Thread(target=self._wait, args=(waker, seen, timeout))
        self._thread.start()

    def _wait(self, waker: Waker, seen: int, timeout: float) -> None:
        self.woken = waker.wait(seen, timeout)
        self.at = time.monotonic()

    def result(self, timeout: float | None = None) -> bool | None:
        """True or False once it woke or timed out; None while it still waits."""
        self._thread.join(timeout)
        return self.woken


def postgres_server() -> str:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return server


def test_a_commit_in_another_process_wakes_a_waiter(database_url):
    with sides(database_url, 1) as (here,):
        seen = here.watching()
        waiting = Waiting(here.waker, seen, 30)
        time.sleep(0.3)  # waiting now
        committing = time.monotonic()
        subprocess.run([sys.executable, "-c", NOTIFIER, database_url, here.waker.name],
                       check=True)
        assert waiting.result() is True
        assert waiting.at > committing  # woken by that commit, not before


def test_a_waiter_nobody_notifies_times_out(database_url):
    with sides(database_url) as (here, _elsewhere):
        seen = here.watching()
        assert here.waker.wait(seen, 1.0) is False
        assert here.waker.generation == seen


def test_a_transaction_that_rolls_back_wakes_nobody(database_url):
    with sides(database_url) as (here, elsewhere):
        seen_here, seen_elsewhere = here.watching(), elsewhere.watching()
        waiting = Waiting(elsewhere.waker, seen_elsewhere, 30)
        here.commit(rollback=True)
        assert here.waker.wait(seen_here, 0.5) is False  # nor in its own process
        assert waiting.result(timeout=1.0) is None  # still waiting
        here.commit()
        assert waiting.result() is True


def test_a_commit_wakes_the_waiters_of_its_own_process_at_once(database_url):
    with sides(database_url, 1) as (here,):
        seen = here.waker.generation
        here.commit()
        # No thread watches the database yet: the commit itself woke them.
        assert not here.waker.watching
        assert here.waker.generation != seen


def test_on_sqlite_any_commit_wakes_the_waiters_of_other_processes(tmp_path):
    # SQLite has no channels: PRAGMA data_version moves with every commit of another connection.
    with sides(f"sqlite:///{tmp_path / 'site.db'}") as (here, elsewhere):
        seen = here.watching()
        waiting = Waiting(here.waker, seen, 30)
        time.sleep(0.1)
        elsewhere.commit(notify=False)
        assert waiting.result() is True


def test_on_postgresql_a_commit_that_does_not_notify_wakes_no_other_process(tmp_path):
    with scratch_database(postgres_server(), tmp_path) as url, sides(url) as (here, elsewhere):
        seen = here.watching()
        waiting = Waiting(here.waker, seen, 30)
        elsewhere.commit(notify=False)
        assert waiting.result(timeout=1.5) is None  # still waiting
        elsewhere.commit()
        assert waiting.result() is True


def _listener(url: str, channel: str) -> int | None:
    """The server process id of the connection that LISTENs on ``channel``, if any."""
    pid = scalar(url, "SELECT pid FROM pg_stat_activity WHERE query = :listen",
                 listen=f'LISTEN "{channel}"')
    return pid if isinstance(pid, int) else None


def test_a_listener_whose_connection_the_server_ends_listens_again(tmp_path):
    with scratch_database(postgres_server(), tmp_path) as url, sides(url) as (here, elsewhere):
        seen = here.watching()
        with here.engine.connect() as connection:
            channel = here.waker.channel(connection)
        lost = _listener(url, channel)
        assert lost is not None
        assert scalar(url, "SELECT pg_terminate_backend(:pid)", pid=lost)

        # It listens again on a new connection, and wakes its waiters as it does: a commit
        # may have come while it did not listen.
        assert here.waker.wait(seen, 20) is True
        assert _listener(url, channel) not in (None, lost)
        waiting = Waiting(here.waker, here.waker.generation, 30)
        time.sleep(0.3)
        elsewhere.commit()
        assert waiting.result() is True


def test_sites_in_two_schemas_of_one_database_do_not_wake_each_other(tmp_path):
    server = postgres_server()
    with (scratch_database(server, tmp_path) as first_url,
          scratch_database(server, tmp_path) as second_url,
          sides(first_url, channel="test_sites") as (first, first_elsewhere),
          sides(second_url, channel="test_sites") as (second, second_elsewhere)):
        with first.engine.connect() as one, second.engine.connect() as other:
            assert first.waker.channel(one) != second.waker.channel(other)
        seen_first, seen_second = first.watching(), second.watching()
        waiting_first = Waiting(first.waker, seen_first, 30)
        waiting_second = Waiting(second.waker, seen_second, 30)
        time.sleep(0.3)
        first_elsewhere.commit()
        assert waiting_first.result() is True
        assert waiting_second.result(timeout=1.0) is None  # still waiting
        second_elsewhere.commit()
        assert waiting_second.result() is True  # its own site's commits do wake it
