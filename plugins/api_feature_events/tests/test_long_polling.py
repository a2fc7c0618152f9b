"""GET /events?wait=N: held until an event commits (here or in another process) or time is up,
and waiting readers cost the database nothing while they wait."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from jomreskit_api_core.testing import restart
from sqlalchemy import event

from jomreskit.domain import services


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
    assert page["data"] == [] and page["meta"]["next"] == cursor
    assert 0.9 < took < 5


def test_waiting_readers_send_the_database_no_queries(feed):
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
    # A poll per reader every few ms would send thousands. On PostgreSQL a reader whose events
    # wait behind another transaction (one of a shared test server's) looks again a few times.
    limit = 0 if engine.dialect.name == "sqlite" else 5 * 5 * waiting
    assert len(statements) <= limit, statements[:5]
