"""The event feed at scale: pages of GET /api/events with 1,000,000 events stored, and the
cost of 200 idle long-polling readers.

Builds a site, records 1,000,000 events (in 100 transactions, a third of them at a property the
reading manager does not run), then:

- reads 1,000 events in pages of 100 through the whole API (token check, the settled horizon,
  the manager's properties, callback URLs, JSON; in-process WSGI, no network), from several
  places in the feed; baseline in the same run: the bare ``id > x ORDER BY id LIMIT 100``
  query a feed that could skip events would run;
- serves the site on loopback and holds 200 readers in ``wait=30``, measuring this process's
  CPU time and SQL statements while they wait; baseline: the same process idle, without
  readers. On PostgreSQL twice: as the server is (another's long transaction anywhere on it
  holds the feed's horizon back, and with it these readers), and with a transaction held open
  on purpose in another connection and the event they wait for committed behind it, so that
  every reader waits on held-back events whatever else runs; each time the readers' event
  then commits (or the holding transaction ends) and the bench prints how soon all had it;
- opens the console's App Key Management page of a manager with three feed keys (acknowledged
  at the first event, in the middle, never), whose "Event feed" column counts the events each
  is behind; baseline: the same page of the same site started without the feed plugin.

    .venv/bin/python bench/event_feed.py                  # SQLite, and PostgreSQL when
    JOMRESKIT_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/event_feed.py              # ... this is set

Targets: a page's median under 10 ms on PostgreSQL; 200 idle readers under 5 % of a core.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa
from flask import Flask
from jomreskit_api_core import keys
from jomreskit_api_feature_events import cursor, wakeup
from werkzeug.serving import make_server

from jomreskit import create_app, get_kit
from jomreskit.console.testing import sign_in
from jomreskit.domain import services
from jomreskit.testing import scratch_database

EVENTS = 1_000_000
BATCHES = 100
PAGE = 100
READ = 1_000
READERS = 200
KEY_PAGES = 20


def build_site(folder: Path, database_url: str, events: int) -> Flask:
    config = {
        "JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
        "JOMRESKIT_DATABASE_URL": database_url,
        "JOMRESKIT_PLUGINS_DIR": str(folder / "plugins"),
        "JOMRESKIT_SECRET_KEY": "bench",
        "JOMRESKIT_BASE_URL": "http://portal.example",
        "JOMRESKIT_API_RATE_LIMIT": "100000000/minute",
        # 200 readers of one key wait at once here: the caps are for serving many keys
        "JOMRESKIT_EVENTS_WAITING_PER_KEY": READERS,
        "JOMRESKIT_EVENTS_WAITING": READERS,
    }
    logging.getLogger("jomreskit").setLevel(logging.ERROR)  # "not set up yet": it is, below
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    first = create_app(config)
    with first.app_context():
        get_kit(first).upgrade_database(report=lambda _m: None)
        from jomreskit.core.domain import demo

        with get_kit(first).transaction():
            demo.seed(get_kit(first))
    get_kit(first).engine.dispose()
    app = create_app(config)
    engine = get_kit(app).engine
    started = time.perf_counter()
    per_batch = events // BATCHES
    if engine.dialect.name == "postgresql":
        rows = ("SELECT 'booking_note_saved', json_build_object('property_uid', 1 + g % 3, "
                "'contract_uid', 41, 'note_id', g), now() "
                "FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) g")
    else:
        rows = ("WITH RECURSIVE s(g) AS (SELECT :a UNION ALL SELECT g + 1 FROM s WHERE g < :b) "
                "SELECT 'booking_note_saved', json_object('property_uid', 1 + g % 3, "
                "'contract_uid', 41, 'note_id', g), strftime('%Y-%m-%d %H:%M:%f', 'now') FROM s")
    insert = sa.text(f"INSERT INTO events (name, ids, created_at) {rows}")
    for batch in range(BATCHES):  # a transaction each: PostgreSQL records 100 transaction ids
        with engine.begin() as connection:
            connection.execute(insert, {"a": batch * per_batch + 1, "b": (batch + 1) * per_batch})
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        # Not with an isolation level: SQLAlchemy resets a SQLite connection's afterwards by
        # handing transactions back to the driver, and that pooled connection would then lose
        # the token endpoint's INSERT (see jomreskit.db.autocommit_options).
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    print(f"  recorded {events:,} events in {time.perf_counter() - started:.0f} s")
    return app


def token(app: Flask, manager: str) -> str:
    kit = get_kit(app)
    with app.app_context(), kit.transaction():
        key, secret = keys.create_key(kit, manager, ["events_get"])
        client_id = key.client_id
    response = app.test_client().post("/api/oauth/token", auth=(client_id, secret),
                                      data={"grant_type": "client_credentials"})
    return response.get_json()["access_token"]


def cursor_at(app: Flask, event_id: int) -> str:
    """The cursor just after event ``event_id``, as the feed would hand it out."""
    with app.app_context():
        xid = get_kit(app).session().scalar(
            sa.text("SELECT feed_xid FROM events WHERE id = :id"), {"id": event_id})
        get_kit(app).session.remove()
    return cursor.encode(cursor.Position(xid, event_id))


def page_times(app: Flask, starts: list[int]) -> list[float]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token(app, 'manager')}"}
    times = []
    for start in starts:
        after = cursor_at(app, start)
        read = 0
        while read < READ:
            began = time.perf_counter()
            response = client.get(f"/api/events?after={after}&limit={PAGE}", headers=headers)
            times.append(time.perf_counter() - began)
            body = response.get_json()
            assert response.status_code == 200 and body["data"], body
            read += len(body["data"])
            after = body["meta"]["next"]
    return times


def bare_times(app: Flask, starts: list[int]) -> list[float]:
    kit = get_kit(app)
    query = sa.text("SELECT id, name, ids, created_at FROM events WHERE id > :after "
                    "ORDER BY id LIMIT :limit")
    times = []
    with app.app_context():
        session = kit.session()
        for start in starts:
            after = start
            for _ in range(READ // PAGE):
                began = time.perf_counter()
                rows = session.execute(query, {"after": after, "limit": PAGE}).all()
                times.append(time.perf_counter() - began)
                after = rows[-1].id
        kit.session.remove()
    return times


def key_page_times(app: Flask, events: int) -> tuple[list[float], list[float], str]:
    """App Key Management for a manager whose keys are everything, half and nothing behind:
    (times with the Event feed column, times without the plugin, the column's cells)."""
    for event_id in (1, events // 2):
        headers = {"Authorization": f"Bearer {token(app, 'manager')}"}
        acknowledged = app.test_client().put("/api/events/cursor", headers=headers,
                                             json={"cursor": cursor_at(app, event_id)})
        assert acknowledged.status_code == 200, acknowledged.get_json()
    token(app, "manager")  # never acknowledges
    config = {k: v for k, v in app.config.items() if k.startswith("JOMRESKIT_")}
    without = create_app({**config, "JOMRESKIT_LOAD_PLUGINS": "api_core,api_feature_webhooks,"
                                                              "api_feature_search"})
    timed: list[list[float]] = []
    for site in (app, without):
        client = site.test_client()
        sign_in(client, "manager")
        times = []
        for _ in range(KEY_PAGES):
            began = time.perf_counter()
            page = client.get("/console/keys/")
            times.append(time.perf_counter() - began)
            assert page.status_code == 200
        timed.append(times)
    cells = [line.strip() for line in page_text(app).split("<td data-label=\"Event feed\">")[1:]]
    get_kit(without).engine.dispose()
    return timed[0], timed[1], "; ".join(cell.split("<")[0] for cell in cells)


def page_text(app: Flask) -> str:
    client = app.test_client()
    sign_in(client, "manager")
    return client.get("/console/keys/").get_data(as_text=True)


def cpu_over(seconds: float) -> float:
    before = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(seconds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return 100 * used / seconds


def idle_readers(app: Flask, readers: int, seconds: float, hold: bool) -> dict[str, float]:
    """``readers`` waiting in ``wait=30`` on a served site: this process's CPU while they wait
    (and while it idles without them), the SQL statements meanwhile, and how long after the
    event they wait for they all had it. With ``hold``, a transaction that took an id is open
    in another connection, as a long one elsewhere on the server would be, and the event
    commits behind it: the readers wait for the horizon to pass it, and get it when that
    transaction ends."""
    kit = get_kit(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/api"
    headers = {"Authorization": f"Bearer {token(app, 'manager')}"}
    with app.app_context():
        newest_id = kit.session().scalar(sa.text("SELECT max(id) FROM events"))
        kit.session.remove()
    newest = cursor_at(app, newest_id)
    idle = cpu_over(seconds)

    def fire() -> None:
        with app.app_context(), kit.transaction():
            services.save_note(kit, 41, "the event the readers wait for")
        kit.session.remove()

    holding = kit.engine.connect() if hold else None
    if holding is not None:
        holding.scalar(sa.text("SELECT pg_current_xact_id()"))  # an id: holds the horizon
        fire()  # commits behind it
    answers: list[tuple[float, bool, bool]] = []  # (when, had the event, said more)

    def wait() -> None:
        body = requests.get(f"{base}/events?after={newest}&wait=30", headers=headers,
                            timeout=60).json()
        answers.append((time.monotonic(), bool(body["data"]), body["meta"]["more"]))

    threads = [threading.Thread(target=wait, daemon=True) for _ in range(readers)]
    for thread in threads:
        thread.start()
    time.sleep(3)  # every reader asked once and waits
    held = wakeup.waker(kit).held_readers
    statements: list[str] = []
    count = lambda *_args: statements.append("")  # noqa: E731
    sa.event.listen(kit.engine, "before_cursor_execute", count)
    window = time.monotonic()
    waiting = cpu_over(seconds)
    sa.event.remove(kit.engine, "before_cursor_execute", count)
    released = time.monotonic()
    if holding is not None:
        holding.rollback()
        holding.close()
    else:
        fire()
    for thread in threads:
        thread.join()
    server.shutdown()
    # Readers that had answered before the window closed were not waiting in it.
    early = [a for a in answers if a[0] < released]
    assert not early, f"{len(early)} readers were answered before the window closed"
    assert all(had for _, had, _ in answers), "a reader was answered without the event"
    return {"idle": idle, "waiting": waiting, "held": held, "statements": len(statements),
            "per_second": len(statements) / (released - window),
            "woken": max(when for when, _, _ in answers) - released}


def print_waiting(readers: int, seconds: float, figures: dict[str, float], hold: bool) -> None:
    how = ("a transaction held open in another connection" if hold
           else "no transaction of ours holding the horizon")
    print(f"  {readers} readers waiting, {how} ({figures['held']:.0f} waiting on held-back "
          f"events): CPU of this process over {seconds:g} s {figures['waiting']:.2f} % of a "
          f"core (idle without readers {figures['idle']:.2f} %, difference "
          f"{figures['waiting'] - figures['idle']:.2f} %); {figures['statements']:.0f} SQL "
          f"statements ({figures['per_second']:.1f} a second); all had the event "
          f"{figures['woken']:.2f} s after it {'was released' if hold else 'committed'}")


def bench(database_url: str | None, events: int, seconds: float) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(database_url, Path(tmp), prefix="bench") as url,
    ):
        app = build_site(Path(tmp), url, events)
        starts = [events // 10 * n for n in (1, 3, 5, 7, 9)]
        feed = statistics.median(page_times(app, starts)) * 1000
        bare = statistics.median(bare_times(app, starts)) * 1000
        print(f"  page of {PAGE} through the API: median {feed:.2f} ms "
              f"(bare id > x query: {bare:.2f} ms, ratio {feed / bare:.1f}x)")
        for hold in (False, True) if database_url else (False,):
            print_waiting(READERS, seconds, idle_readers(app, READERS, seconds, hold), hold)
        with_column, without, cells = key_page_times(app, events)
        shown, bare = statistics.median(with_column) * 1000, statistics.median(without) * 1000
        print(f"  App Key Management, 3 feed keys: median {shown:.1f} ms (without the feed "
              f"plugin: {bare:.1f} ms, ratio {shown / bare:.1f}x); shown: {cells}")
        get_kit(app).engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="events to record")
    parser.add_argument("--seconds", type=float, default=10.0, help="CPU measuring window")
    parser.add_argument("--postgres", default=os.environ.get("JOMRESKIT_BENCH_DATABASE_URL"),
                        metavar="URL", help="also run on this PostgreSQL database "
                                            "(default: JOMRESKIT_BENCH_DATABASE_URL)")
    args = parser.parse_args()
    for url in [None, *([args.postgres] if args.postgres else [])]:
        print(f"event feed on {'PostgreSQL' if url else 'SQLite'}:")
        bench(url, args.events, args.seconds)


if __name__ == "__main__":
    main()
