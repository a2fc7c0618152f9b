"""GET /events?wait=N: held until an event commits (here or in another process) or time is up,
and waiting readers cost the database nothing while they wait."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from jomreskit_api_core.testing import restart
from jomreskit_api_feature_events import wakeup
from sqlalchemy import event, text

from jomreskit.domain import services

# 20 readers of one key wait at once here, beyond the default caps (test_waiting_caps.py)
MANY_WAITING = {"JOMRESKIT_EVENTS_WAITING_PER_KEY": 20, "JOMRESKIT_EVENTS_WAITING": 20}


def fire_note_later(site, delay: float) -> None:
    def fire() -> None:
        time.sleep(delay)
        with site.app.app_context(), site.kit.transaction():
            services.save_note(site.kit, 41, "while you waited")
        site.kit.session.remove()

    threading.Thread(target=fire, daemon=True).start()


def wait_for_next(feed, cursor: str, seconds: int) -> tuple[float, dict]:
    started = time.monotonic()
    page = feed.page(after=cursor, wait=seconds)
    return time.monotonic() - started, page


def test_a_waiting_reader_gets_an_event_committed_by_this_process(feed):
    _, cursor = feed.read_all()
    fire_note_later(feed.site, 0.5)

    took, page = wait_for_next(feed, cursor, 20)

    assert [e["type"] for e in page["data"]] == ["booking_note_saved"]
    assert 0.4 < took < 10


def test_a_waiting_reader_gets_an_event_committed_by_another_process(feed):
    _, cursor = feed.read_all()
    elsewhere = restart(feed.site)  # its own engine and sessions: no in-process wake-up
    fire_note_later(elsewhere, 0.5)

    took, page = wait_for_next(feed, cursor, 20)

    assert [e["type"] for e in page["data"]] == ["booking_note_saved"]
    assert 0.4 < took < 10
    elsewhere.kit.engine.dispose()


def test_with_nothing_to_read_the_answer_comes_when_the_time_is_up(feed):
    _, cursor = feed.read_all()
    took, page = wait_for_next(feed, cursor, 1)
    assert page["data"] == [] and feed.page(after=page["meta"]["next"])["data"] == []
    assert 0.9 < took < 5


def test_waiting_readers_send_the_database_no_queries(make_feed):
    feed = make_feed(**MANY_WAITING)
    _, cursor = feed.read_all()
    token = feed.token("manager")
    engine = feed.site.kit.engine
    statements: list[str] = []
    waiting = 20

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with ThreadPoolExecutor(waiting) as pool:
        pages = [pool.submit(feed.page, after=cursor, wait=4) for _ in range(waiting)]
        time.sleep(1.5)  # every reader has checked once and waits now
        event.listen(engine, "before_cursor_execute", count)
        time.sleep(1.5)
        event.remove(engine, "before_cursor_execute", count)
        assert all(p.result()["data"] == [] for p in pages)
    assert feed.tokens["manager"] == token
    # A poll per reader every few ms would send thousands. On PostgreSQL, when events wait
    # behind another transaction (one of a shared test server's), one thread reads the horizon
    # for all the readers, and when that transaction ends each reader reads once more.
    limit = 0 if engine.dialect.name == "sqlite" else 1.5 / wakeup.RECHECK_FIRST + 10 * waiting
    assert len(statements) <= limit, statements[:5]


class Statements:
    """The SQL statements an engine sends, by the thread that sent them."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.sent: list[tuple[str, str]] = []

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, *_args) -> None:
        self.sent.append((threading.current_thread().name, statement))

    def by_thread(self, containing: str) -> Counter[str]:
        return Counter(thread for thread, statement in self.sent if containing in statement)


def test_readers_waiting_behind_a_running_transaction_wake_when_it_ends(make_feed):
    """Events committed behind a transaction that fires nothing: its end sends no NOTIFY, yet
    every reader waiting on them gets them, and while they wait one thread reads the horizon
    for all of them instead of each reader looking again on its own."""
    feed = make_feed(**MANY_WAITING)
    kit = feed.site.kit
    if kit.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's single writer: nothing commits behind a running transaction")
    _, cursor = feed.read_all()
    waker = wakeup.waker(kit)
    waiting = 20
    with kit.engine.connect() as holding:
        holding.scalar(text("SELECT pg_current_xact_id()"))  # takes an id: holds the horizon
        event_id = feed.fire_note()
        assert feed.page(after=cursor)["meta"]["more"] is True  # held back, not handed out

        with ThreadPoolExecutor(waiting) as pool:
            pages = [pool.submit(wait_for_next, feed, cursor, 25) for _ in range(waiting)]
            for _ in range(200):  # until every reader has read once and waits
                if waker.held_readers == waiting:
                    break
                time.sleep(0.1)
            assert waker.held_readers == waiting
            generation = waker.generation
            with Statements(kit.engine) as statements:
                time.sleep(3)
            # Any wake-up (the LISTEN thread sends one when it starts) has every reader look again.
            moved = waker.generation - generation

            released = time.monotonic()
            holding.rollback()
            answers = [p.result() for p in pages]
            took = time.monotonic() - released

    assert all([e["id"] for e in page["data"]] == [event_id] for _, page in answers)
    assert all(waited < 25 for waited, _ in answers)  # woken, not answered at the deadline
    assert took < 10
    # Every read asks for the horizon once: the horizon thread backs off from 0.05 s to 1 s
    # between reads (six at most in 3 s), and a reader reads again only when woken.
    reads = statements.by_thread("pg_snapshot_xmin")
    assert reads.pop("jomreskit-events-horizon", 0) <= 6
    assert max(reads.values(), default=0) <= moved + 1, (moved, reads)
