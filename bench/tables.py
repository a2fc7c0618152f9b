"""How the delivery tables grow, and what the Webhook dashboard costs on a big attempt log.

    JOMRESKIT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/tables.py [--events 20000] [--attempts 1000000]

PostgreSQL only (what a site that grows past one machine runs on). Two parts, each in a schema
of its own, dropped afterwards:

- growth: ``--events`` booking events fired through the site (``kit.fire``, 1,000 to a
  transaction), each to one webhook, and drained by a worker to a receiver that answers 200:
  so one event row, one delivery row and one attempt row per event. Printed: rows and
  ``pg_total_relation_size`` (table, indexes and TOAST) of ``events``,
  ``webhook_deliveries`` and ``webhook_delivery_attempts`` after ``VACUUM ANALYZE``, bytes
  per row, and the same per million events; beside it, the live rows' own bytes
  (``pg_column_size``): the rest is indexes, page overhead and the row versions a delivery's
  claim and outcome left behind, which VACUUM lets new rows reuse but does not give back;
- dashboard: ``--attempts`` deliveries with one attempt each (written by SQL, not sent) to 100
  webhooks of the two demo managers, spread over the last 24 hours (every attempt in the
  dashboard's window: a site sending 1M an hour... a day) and then, in a second schema, over
  30 days (the default retention: the window holds 1/30 of them). Printed: the medians of
  ``dashboard.read`` for one manager and for the site owner, and of the whole page over
  HTTP-less WSGI (signed in), each with its ratio to a bare ``count(*)`` of the window's
  attempts, the least any dashboard must read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from delivery import arrivals, make_site, postgres_schema, start_receiver  # noqa: E402

TABLES = ("events", "webhook_deliveries", "webhook_delivery_attempts")
WEBHOOKS = 100


def new_site(base: str, name: str) -> tuple[Any, Any, Callable[[], None]]:
    from jomreskit.core.domain import demo

    database, drop = postgres_schema(base)
    app, kit, _config = make_site(database, Path(tempfile.mkdtemp(prefix=f"jomreskit-{name}-")))
    with app.app_context(), kit.transaction():
        demo.seed(kit)
    return app, kit, drop


def sizes(kit: Any) -> dict[str, tuple[int, int, int]]:
    """(rows, bytes on disk, bytes of the live rows alone) of each table, after VACUUM
    ANALYZE."""
    import sqlalchemy as sa

    with kit.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
        return {table: (
            connection.scalar(sa.text(f"SELECT count(*) FROM {table}")),
            connection.scalar(sa.text(f"SELECT pg_total_relation_size('{table}')")),
            connection.scalar(sa.text(f"SELECT coalesce(sum(pg_column_size(t.*)), 0)"
                                      f" FROM {table} t")))
            for table in TABLES}


def growth(base: str, events: int) -> None:
    from jomreskit_webhooks_core import services
    from jomreskit_webhooks_core.worker import Worker

    app, kit, drop = new_site(base, "growth")
    receiver, url = start_receiver()
    try:
        before = sizes(kit)
        with app.app_context(), kit.transaction():
            services.create_webhook(kit, "manager", f"{url}/hook", events=["booking_note_saved"])
        started = time.perf_counter()
        for start in range(0, events, 1000):
            with app.app_context(), kit.transaction():
                for n in range(start, min(start + 1000, events)):
                    kit.fire("booking_note_saved", property_uid=1, contract_uid=41,
                             note_id=n + 1)
        fired = time.perf_counter() - started
        arrivals(url, reset=True)
        with app.app_context():
            stats = Worker(kit).run("drain")
        assert stats.succeeded == events, stats
        after = sizes(kit)
        print(f"\n== growth: {events:,} events fired in {fired:.1f} s ({events / fired:,.0f}/s,"
              f" 1,000 a transaction), each delivered once to one webhook")
        for table in TABLES:
            rows = after[table][0] - before[table][0]
            grown = after[table][1] - before[table][1]
            per_row = grown / rows
            live = (after[table][2] - before[table][2]) / rows
            print(f"{table:28} {rows:>9,} rows  {grown / 2**20:8.1f} MiB  {per_row:6.0f} B/row"
                  f"  {per_row * 1e6 / 2**30:6.2f} GiB per million  (live rows alone "
                  f"{live:4.0f} B/row)")
    finally:
        receiver.terminate()
        kit.engine.dispose()
        drop()


def seed_attempts(kit: Any, app: Any, attempts: int, spread_hours: int) -> None:
    """``attempts`` deliveries with one attempt each, written by SQL, spread evenly over the
    last ``spread_hours``: 90 % succeeded in 20-300 ms, 7 % retrying (HTTP 500), 3 % failed."""
    import sqlalchemy as sa
    from jomreskit_webhooks_core import services

    with app.app_context(), kit.transaction():
        for n in range(WEBHOOKS):
            services.create_webhook(kit, "manager" if n % 2 else "manager2",
                                    f"http://127.0.0.1:9/hook{n}")
    deliveries = sa.text(
        "INSERT INTO webhook_deliveries (webhook_id, event_type, msg_id, payload, status,"
        " attempts, next_attempt_at, created_at, delivered_at)"
        " SELECT w.id, 'booking_modified', 'msg_' || g, '{\"type\":\"booking_modified\"}',"
        "  CASE WHEN g % 100 < 90 THEN 'succeeded' WHEN g % 100 < 97 THEN 'pending'"
        "  ELSE 'failed' END, 1, t.at + CASE WHEN g % 100 BETWEEN 90 AND 96"
        "  THEN interval '1 hour' ELSE interval '0' END, t.at, t.at"
        " FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) g,"
        " LATERAL (SELECT now() - (:spread * interval '1 hour') * (:n - g) / :n AS at) t,"
        " LATERAL (SELECT min(id) + g % :webhooks AS id FROM webhooks) w")
    logged = sa.text(
        "INSERT INTO webhook_delivery_attempts (delivery_id, attempted_at, duration_ms,"
        " status_code, response_excerpt, error)"
        " SELECT d.id, d.created_at, 20 + (d.id % 1000) * 7919 % 280,"
        "  CASE WHEN d.status = 'succeeded' THEN 200 ELSE 500 END, 'ok',"
        "  CASE WHEN d.status = 'succeeded' THEN NULL ELSE 'HTTP 500' END"
        " FROM webhook_deliveries d WHERE d.id BETWEEN :first AND :last")
    with kit.engine.connect() as connection:
        first = connection.scalar(sa.text("SELECT coalesce(max(id), 0) + 1 FROM "
                                          "webhook_deliveries"))
    step = 100_000
    for start in range(1, attempts + 1, step):
        end = min(start + step - 1, attempts)
        with kit.engine.begin() as connection:
            connection.execute(deliveries, {"a": start, "b": end, "n": attempts,
                                            "spread": spread_hours, "webhooks": WEBHOOKS})
            connection.execute(logged, {"first": first + start - 1, "last": first + end - 1})
    sizes(kit)  # VACUUM ANALYZE


def median_ms(call: Callable[[], Any], rounds: int) -> tuple[float, float, float]:
    """(median, lowest, highest) milliseconds of ``rounds`` calls, after one to warm up."""
    call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), max(times)


def dashboard_times(base: str, attempts: int, spread_hours: int, rounds: int) -> None:
    import sqlalchemy as sa
    from jomreskit_webhooks_core import dashboard

    from jomreskit.console.testing import sign_in
    from jomreskit.db import utcnow
    from jomreskit.domain import User

    app, kit, drop = new_site(base, "dashboard")
    try:
        started = time.perf_counter()
        seed_attempts(kit, app, attempts, spread_hours)
        seeded = time.perf_counter() - started
        with app.app_context(), kit.transaction() as session:
            manager = session.scalar(sa.select(User.manager_id).where(User.username == "manager"))
            since = dashboard.first_hour(utcnow())
            window = session.scalar(sa.text(
                "SELECT count(*) FROM webhook_delivery_attempts WHERE attempted_at >= :s"),
                {"s": since})
        print(f"\n== dashboard: {attempts:,} attempts over {spread_hours} h (seeded in "
              f"{seeded:.0f} s), {window:,} in the 24 h window, {WEBHOOKS} webhooks")

        def bare() -> None:
            with app.app_context(), kit.transaction() as session:
                session.scalar(sa.text("SELECT count(*) FROM webhook_delivery_attempts "
                                       "WHERE attempted_at >= :s"), {"s": since})

        def read(manager_id: int | None) -> Callable[[], None]:
            def call() -> None:
                with app.app_context(), kit.transaction():
                    dashboard.read(kit, manager_id)
            return call

        clients = {}
        for who in ("manager", "super"):
            clients[who] = app.test_client()
            sign_in(clients[who], who)

        def page(who: str) -> Callable[[], None]:
            def call() -> None:
                answer = clients[who].get("/console/webhooks/dashboard/")
                assert answer.status_code == 200, answer.status_code
            return call

        baseline, low, high = median_ms(bare, rounds)
        print(f"{'count(*) of the window':34} {baseline:8.1f} ms  ({low:.1f}-{high:.1f})"
              "  the baseline")
        for label, call in (("read, one manager (50 webhooks)", read(manager)),
                            ("read, site owner (100 webhooks)", read(None)),
                            ("page, one manager", page("manager")),
                            ("page, site owner", page("super"))):
            took, low, high = median_ms(call, rounds)
            print(f"{label:34} {took:8.1f} ms  ({low:.1f}-{high:.1f})  "
                  f"ratio {took / baseline:5.1f}")
    finally:
        kit.engine.dispose()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--part", choices=["growth", "dashboard", "both"], default="both")
    args = parser.parse_args()
    base = os.environ.get("JOMRESKIT_TEST_POSTGRES_URL")
    if not base:
        sys.exit("set JOMRESKIT_TEST_POSTGRES_URL: these figures are PostgreSQL's")
    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    print(f"load average {', '.join(f'{n:.1f}' for n in os.getloadavg())} on "
          f"{os.cpu_count()} cores (other work on the machine slows every figure)")
    if args.part in ("growth", "both"):
        growth(base, args.events)
    if args.part in ("dashboard", "both"):
        dashboard_times(base, args.attempts, 24, args.rounds)
        dashboard_times(base, args.attempts, 24 * 30, args.rounds)


if __name__ == "__main__":
    main()
