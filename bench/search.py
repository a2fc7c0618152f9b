"""Property search at scale: 10,000 properties and 200,000 booked room-nights.

Builds a site, fills it with ``jomreskit_api_feature_search.sample`` data (bookings spread over
60 days), then times searches through the query layer (the SQL the API runs) and one through
the whole API (token check, parsing, JSON; in-process WSGI, no network). Baselines in the same
run and on the same data:

- counting the bookings on the stay's nights: no index starts with the date, so this reads all
  200,000 rows, the least a search that looked at every booking would pay;
- a naive availability search: the same filters, but the bookings of the stay's nights fetched
  and checked in Python, as a hand-written loop would.

    .venv/bin/python bench/search.py                      # SQLite, and PostgreSQL when
    JOMRESKIT_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/search.py                  # ... this is set
    .venv/bin/python bench/search.py --explain            # also print the query plans

Target: the filtered availability search (country, region, dates, guests, stars) with a median
well under 100 ms on both databases.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from jomreskit_api_core import keys
from jomreskit_api_feature_search import criteria, query, sample
from sqlalchemy.orm import Session

from jomreskit import Kit, create_app, get_kit
from jomreskit.domain import Property, Room, RoomBooking
from jomreskit.testing import scratch_database

PROPERTIES = 10_000
ROOM_NIGHTS = 200_000
DAYS = 60
TARGET = "filtered availability"
SCAN = "baseline: count stay's booked nights"  # no index leads with date: reads every row


def build_site(folder: Path, database_url: str, seed: int, scale: float
               ) -> tuple[Flask, sample.Generated]:
    config = {
        "JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
        "JOMRESKIT_DATABASE_URL": database_url,
        "JOMRESKIT_PLUGINS_DIR": str(folder / "plugins"),
        "JOMRESKIT_SECRET_KEY": "bench",
        "JOMRESKIT_API_RATE_LIMIT": "100000000/minute",
    }
    logging.getLogger("jomreskit").setLevel(logging.ERROR)  # "not set up yet": it is, below
    first = create_app(config)
    with first.app_context():
        get_kit(first).upgrade_database(report=lambda _m: None)
        from jomreskit.core.domain import demo

        with get_kit(first).transaction():
            demo.seed(get_kit(first))  # the super manager whose key searches
    get_kit(first).engine.dispose()
    app = create_app(config)  # started afresh from the registry, with the API mounted
    kit = get_kit(app)
    started = time.perf_counter()
    with app.app_context(), kit.transaction() as session:
        made = sample.generate(session, properties=int(PROPERTIES * scale),
                               room_nights=int(ROOM_NIGHTS * scale), days=DAYS, seed=seed)
    with kit.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # Statistics, as a database in use has them (PostgreSQL's autovacuum, SQLite's ANALYZE).
        connection.exec_driver_sql("VACUUM ANALYZE" if kit.engine.dialect.name == "postgresql"
                                   else "ANALYZE")
    print(f"  generated {made.properties:,} properties, {made.rooms:,} rooms, "
          f"{made.contracts:,} bookings, {made.room_nights:,} room-nights "
          f"in {time.perf_counter() - started:.1f} s")
    return app, made


def super_token(app: Flask) -> str:
    """An access token of a super manager's key with search_get, from the token endpoint."""
    kit = get_kit(app)
    with app.app_context(), kit.transaction():
        key, secret = keys.create_key(kit, "super", ["search_get"])
        client_id = key.client_id
    response = app.test_client().post(
        app.config["JOMRESKIT_API_PREFIX"] + "/oauth/token",
        data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    return response.get_json()["access_token"]


def stays(made: sample.Generated, count: int, rng_seed: int = 5) -> list[tuple[date, date]]:
    """Stays of 2 to 5 nights inside the booked period, different for each repetition."""
    import random

    rng = random.Random(rng_seed)
    found = []
    for _ in range(count):
        arrival = made.start + timedelta(rng.randrange(made.days - 6))
        found.append((arrival, arrival + timedelta(rng.randint(2, 5))))
    return found


def timed(run: Callable[[int], Any], repeat: int) -> tuple[list[float], Any]:
    run(0)  # warm up caches and statement compilation
    times, last = [], None
    for n in range(repeat):
        started = time.perf_counter()
        last = run(n)
        times.append((time.perf_counter() - started) * 1000)
    return times, last


def naive_availability(session: Session, filters: dict[str, str]) -> int:
    """The same search, with the stay's bookings checked in Python instead of by the index."""
    wanted = criteria.property_search(filters)
    props = session.scalars(sa.select(Property).where(*query.property_conditions(wanted))).all()
    uids = [p.property_uid for p in props]
    rooms = session.execute(sa.select(Room.room_uid, Room.property_uid, Room.max_people)
                            .where(Room.property_uid.in_(uids))).all()
    taken = set(session.scalars(sa.select(RoomBooking.room_uid).where(
        RoomBooking.date >= wanted.arrival, RoomBooking.date < wanted.departure)))
    free: dict[int, list[int]] = {}
    for room_uid, property_uid, places in rooms:
        if room_uid not in taken:
            free.setdefault(property_uid, []).append(places)
    return sum(1 for places in free.values()
               if len(places) >= (wanted.rooms or 1) and sum(places) >= (wanted.guests or 0))


def explain(session: Session, filters: dict[str, str]) -> list[str]:
    statement = query.statement(criteria.property_search(filters))
    dialect = session.get_bind().dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "postgresql":
        rows = session.execute(sa.text("EXPLAIN (ANALYZE, COSTS OFF) " + sql)).all()
        return [row[0] for row in rows]
    rows = session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)).all()
    return [f"{row[1]:>3} {row[3]}" for row in rows]


def bench(database_url: str | None, repeat: int, show_plans: bool, seed: int, scale: float
          ) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(database_url, Path(tmp), prefix="bench") as url,
    ):
        app, made = build_site(Path(tmp), url, seed, scale)
        kit: Kit = get_kit(app)
        name = kit.engine.dialect.name
        windows = stays(made, repeat + 1)
        places = [(c, r) for c in sorted(sample.PLACES) for r in sorted(sample.PLACES[c])]

        def availability(n: int, **more: str) -> dict[str, str]:
            arrival, departure = windows[n]
            return {"arrival": arrival.isoformat(), "departure": departure.isoformat(), **more}

        def filtered(n: int) -> dict[str, str]:
            country, region = places[n % len(places)]
            return availability(n, country=country, region=region, guests="4", min_stars="2",
                                sort="-price")

        cases: dict[str, Callable[[int], dict[str, str]]] = {
            TARGET: filtered,
            "availability in one country": lambda n: availability(
                n, country=sorted(sample.PLACES)[n % len(sample.PLACES)], guests="2"),
            "availability, no other filter": lambda n: availability(n),
            "features and words, no dates": lambda n: {"features": "wifi,pool", "q": "quiet"},
            "place and stars, no dates": lambda n: {"country": "GB", "stars": "3,4"},
        }
        results: dict[str, float] = {}
        print(f"  {'case':<40}{'best':>10}{'median':>10}{'p95':>10}{'matches':>9}")

        def show(label: str, times: list[float], matches: Any) -> None:
            ordered = sorted(times)
            p95 = ordered[max(0, int(len(times) * 0.95) - 1)]
            results[label] = statistics.median(times)
            print(f"  {label:<40}{ordered[0]:>8.2f}ms{results[label]:>8.2f}ms{p95:>8.2f}ms"
                  f"{matches!s:>9}")

        with app.app_context():
            session = kit.session()
            for label, filters in cases.items():
                times, page = timed(
                    lambda n, f=filters: query.search(session, criteria.property_search(f(n))),
                    repeat)
                show(label, times, page.total)
            times, found = timed(
                lambda n: query.place_counts(session, "town", criteria.places({})), repeat)
            show("distinct towns with counts", times, len(found))
            times, count = timed(lambda n: session.scalar(
                sa.select(sa.func.count()).select_from(RoomBooking).where(
                    RoomBooking.date >= windows[n][0], RoomBooking.date < windows[n][1])),
                repeat)
            show(SCAN, times, count)
            times, count = timed(lambda n: naive_availability(session, filtered(n)), repeat)
            show("baseline: naive filtered availability", times, count)
            plan = explain(session, filtered(0)) if show_plans else []
            kit.session.remove()

        # Each request in an app context of its own, as a server runs it.
        headers = {"Authorization": f"Bearer {super_token(app)}"}
        client = app.test_client()
        prefix = app.config["JOMRESKIT_API_PREFIX"]

        def over_the_api(n: int) -> int:
            response = client.get(f"{prefix}/search/properties", query_string=filtered(n),
                                  headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)
            return response.get_json()["meta"]["total"]

        times, total = timed(over_the_api, repeat)
        show(f"{TARGET}, over the API", times, total)

        target = results[TARGET]
        verdict = "well under" if target < 50 else "under" if target < 100 else "OVER"
        print(f"  {TARGET}: median {target:.2f} ms on {name}, {verdict} the 100 ms target")
        print(f"  ratio {TARGET} / {SCAN.removeprefix('baseline: ')}: "
              f"{target / results[SCAN]:.2f}")
        print(f"  ratio naive filtered availability / {TARGET}: "
              f"{results['baseline: naive filtered availability'] / target:.1f}")
        if plan:
            print(f"  query plan of '{TARGET}':")
            for line in plan:
                print(f"    {line}")
        kit.engine.dispose()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=40, help="timed runs per case")
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="data size relative to 10,000 properties and 200,000 room-nights")
    parser.add_argument("--postgres", default=os.environ.get("JOMRESKIT_BENCH_DATABASE_URL"),
                        metavar="URL", help="also run on this PostgreSQL database "
                                            "(default: JOMRESKIT_BENCH_DATABASE_URL)")
    args = parser.parse_args()
    for url in [None, *([args.postgres] if args.postgres else [])]:
        print(f"search on {'PostgreSQL' if url else 'SQLite'}:")
        bench(url, args.repeat, args.explain, args.seed, args.scale)


if __name__ == "__main__":
    main()
