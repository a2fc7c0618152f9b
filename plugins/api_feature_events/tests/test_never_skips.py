"""Never skips, never repeats: transactions take event ids in one order and commit in another,
and a reader following the cursor still reads every event exactly once.

On PostgreSQL the feed holds back what a running transaction could still commit before; on
SQLite one writer at a time makes id order the commit order (the same test runs there too).
"""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import select

from jomreskit.domain import EventRecord, services


class HeldTransaction:
    """Adds a note to contract 41 in a thread, and commits only when told to."""

    def __init__(self, feed, text: str) -> None:
        self.site = feed.site
        self.text = text
        self.fired = threading.Event()
        self.release = threading.Event()
        self.committed = threading.Event()
        self.event_id: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        kit = self.site.kit
        with self.site.app.app_context():
            try:
                with kit.transaction() as session:
                    note = services.save_note(kit, 41, self.text)
                    self.event_id = session.scalar(
                        select(EventRecord.id).where(
                            EventRecord.ids["note_id"].as_integer() == note.note_id))
                    self.fired.set()
                    assert self.release.wait(20)
            finally:
                kit.session.remove()
                self.committed.set()

    def commit(self) -> None:
        self.release.set()
        assert self.committed.wait(20)


def test_an_event_committed_late_behind_a_higher_one_is_read_once(feed):
    if feed.site.kit.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's single writer: a second transaction cannot fire before the first "
                    "commits")
    _, cursor = feed.read_all()

    first = HeldTransaction(feed, "takes the lower id, commits last")
    assert first.fired.wait(20)
    second = HeldTransaction(feed, "takes the higher id, commits first")
    assert second.fired.wait(20)
    second.commit()
    assert first.event_id < second.event_id

    held = feed.page(after=cursor)
    assert held["data"] == [] and held["meta"]["more"] is True
    cursor = held["meta"]["next"]  # what a reader would carry on with

    first.commit()
    events, _ = feed.read_all(after=cursor)
    assert sorted(e["id"] for e in events) == [first.event_id, second.event_id]


def test_a_reader_following_the_cursor_reads_every_event_exactly_once(feed):
    """Writers fire notes and commit after random pauses while a reader follows the cursor."""
    _, cursor = feed.read_all()
    rng = random.Random(16)
    writers: list[HeldTransaction] = []
    seen: list[int] = []
    for n in range(24):
        writer = HeldTransaction(feed, f"note {n}")
        if feed.site.kit.engine.dialect.name == "sqlite":
            writer.fired.wait(20)
            writer.commit()  # one writer at a time
        else:
            assert writer.fired.wait(20)
        writers.append(writer)
        waiting = [w for w in writers if not w.committed.is_set()]
        for held in rng.sample(waiting, k=rng.randint(0, len(waiting))):
            held.commit()
        page = feed.page(after=cursor)
        seen += [e["id"] for e in page["data"]]
        cursor = page["meta"]["next"]
    for writer in writers:
        writer.commit()
    rest, _ = feed.read_all(after=cursor)
    seen += [e["id"] for e in rest]

    fired = [w.event_id for w in writers]
    assert len(seen) == len(set(seen))  # never twice
    assert sorted(seen) == sorted(fired)  # never skipped
