"""API writes per second: a booking and a 30-night close, beside the callback read, with and
without 10 webhooks listening.

    JOMRESKIT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/api_writes.py [--db postgresql|sqlite] [--rounds 3] [--seconds 2]

The site (demo data, the API with every installed plugin) is served by waitress in a process of
its own; client threads with keep-alive connections load one route at a time:

- ``GET /api/webhooks/1/booking_modified/41``: the case study's callback read, the baseline;
- ``POST /api/bookings/1``: a booking of two nights for a new guest (fires ``guest_saved`` and
  ``booking_added``); each client books its own room, a night further on each time, so no
  booking conflicts with another;
- ``POST /api/availability/1/close``: 30 nights of one room closed (one black booking of 30
  nights, ``blackbooking_created``), likewise on a room of each client's own.

Each round measures the three with the manager's 10 webhooks disabled, then enabled (taking
turns at going first), so that a write's added cost is the 10 deliveries it queues in its own
transaction (the outbox); nothing is sent, as no worker runs. Figures are the median round; the
ratios are taken within each round and their median printed.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402

WEBHOOKS = 10
READ = "callback read GET /api/webhooks/1/booking_modified/41"
BOOKING = "booking      POST /api/bookings/1 (2 nights)"
CLOSE = "close        POST /api/availability/1/close (30 nights)"


def build_site(folder: Path, database_url: str, clients: int) -> tuple[dict[str, str], str,
                                                                        str, list[int]]:
    """A demo-seeded site with two rooms per client thread, the manager's disabled webhooks,
    and an API key for every route measured."""
    from jomreskit_api_core import keys
    from jomreskit_webhooks_core import services as webhooks

    from jomreskit.core.domain import demo
    from jomreskit.domain import services

    def prepare(kit: Any) -> tuple[str, str, list[int]]:
        demo.seed(kit)
        rooms = [services.add_room(kit, 1, room_number=f"B{n}", name=f"Bench {n}",
                                   room_type="Bench", max_people=2).room_uid
                 for n in range(2 * clients)]
        key, secret = keys.create_key(
            kit, "manager", ["webhooks_get", "bookings_write", "availability_write"])
        for n in range(WEBHOOKS):
            webhooks.create_webhook(kit, "manager", f"https://hooks{n}.example.com/jomreskit")
        return key.client_id, secret, rooms

    config = harness.site_config(folder, database_url)
    return (config, *harness.set_up(config, prepare))


def set_webhooks(database_url: str, enabled: bool) -> None:
    import sqlalchemy as sa

    from jomreskit.db import make_engine

    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE webhooks SET enabled = :on"), {"on": enabled})
    engine.dispose()


def routes(bearer: dict[str, str], rooms: list[int], clients: int) -> dict[str, harness.Call]:
    """The three calls; each write client takes its own room and moves on in time."""
    start = date.today() + timedelta(days=1)
    next_booking, next_close = [0] * clients, [0] * clients

    def read(connection: http.client.HTTPConnection, _n: int) -> int:
        return harness.request(connection, "GET", "/api/webhooks/1/booking_modified/41", bearer)

    def booking(connection: http.client.HTTPConnection, n: int) -> int:
        arrival = start + timedelta(days=2 * next_booking[n])
        next_booking[n] += 1
        return harness.send_json(connection, "POST", "/api/bookings/1", bearer, {
            "room_uids": [rooms[n]], "arrival": arrival.isoformat(),
            "departure": (arrival + timedelta(days=2)).isoformat(), "adults": 1,
            "guest": {"firstname": "Bench", "surname": f"Guest {n}"},
            "contract_total": "150.00"})

    def close(connection: http.client.HTTPConnection, n: int) -> int:
        arrival = start + timedelta(days=30 * next_close[n])
        next_close[n] += 1
        return harness.send_json(connection, "POST", "/api/availability/1/close", bearer, {
            "room_uids": [rooms[clients + n]], "arrival": arrival.isoformat(),
            "departure": (arrival + timedelta(days=30)).isoformat()})

    return {READ: read, BOOKING: booking, CLOSE: close}


def measure(database_url: str, args: argparse.Namespace) -> None:
    import sqlalchemy as sa

    with harness.scratch_site_folder(database_url) as (folder, url):
        config, client_id, secret, rooms = build_site(folder, url, args.clients)
        with harness.served(config, args.threads) as port:
            bearer = {"Authorization": f"Bearer {harness.token(port, client_id, secret)}"}
            calls = routes(bearer, rooms, args.clients)

            rates: dict[tuple[str, bool], list[float]] = {
                (label, on): [] for label in calls for on in (False, True)}
            errors = dict.fromkeys(rates, 0)
            to_read: dict[tuple[str, bool], list[float]] = {key: [] for key in rates}
            added: dict[str, list[float]] = {label: [] for label in calls}
            for round_number in range(args.rounds):
                order = [False, True] if round_number % 2 == 0 else [True, False]
                measured: dict[tuple[str, bool], float] = {}
                for on in order:
                    set_webhooks(url, on)
                    for label, call in calls.items():
                        rps, failed = harness.load(port, call, args.clients, args.seconds)
                        measured[label, on] = rps
                        rates[label, on].append(rps)
                        errors[label, on] += failed
                for label in calls:
                    for on in (False, True):
                        to_read[label, on].append(measured[label, on] / measured[READ, on])
                    added[label].append(measured[label, True] / measured[label, False])
            dialect = sa.make_url(url).get_backend_name()
            print(f"\n== {dialect}: waitress {args.threads} threads; {args.clients} client "
                  f"threads; {args.rounds} rounds of {args.seconds:g} s per route and setting")
            print(f"{'':58s} {'req/s':>7s}  {'x read':>6s}  "
                  f"{'with ' + str(WEBHOOKS) + ' webhooks':>17s}  {'x read':>6s}  "
                  f"{'with/without':>12s}")
            for label in calls:
                off, on = (statistics.median(rates[label, s]) for s in (False, True))
                failed = errors[label, False] + errors[label, True]
                print(f"{label:58s} {off:7.0f}  {statistics.median(to_read[label, False]):6.2f}"
                      f"  {on:17.0f}  {statistics.median(to_read[label, True]):6.2f}  "
                      f"{statistics.median(added[label]):12.2f}"
                      + (f"  [{failed} answers not 2xx]" if failed else ""))
            print(f"deliveries queued in the outbox meanwhile: {count_deliveries(url)} "
                  "(none sent: no worker runs)")


def count_deliveries(database_url: str) -> int:
    import sqlalchemy as sa

    from jomreskit.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as connection:
        found = connection.execute(sa.text("SELECT count(*) FROM webhook_deliveries")).scalar()
    engine.dispose()
    return int(found or 0)


def main() -> None:
    parser = harness.arguments(__doc__.splitlines()[0], db="postgresql", seconds=2.0,
                       per="per route and setting")
    args = parser.parse_args()
    harness.print_machine()
    harness.on_databases(args, measure)


if __name__ == "__main__":
    main()
