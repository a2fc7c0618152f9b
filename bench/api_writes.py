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
import base64
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from api_throughput import free_port, serve_site, wait_until_up  # noqa: E402

WEBHOOKS = 10
READ = "callback read GET /api/webhooks/1/booking_modified/41"
BOOKING = "booking      POST /api/bookings/1 (2 nights)"
CLOSE = "close        POST /api/availability/1/close (30 nights)"


def build_site(folder: Path, database_url: str, clients: int) -> tuple[dict[str, str], str,
                                                                        str, list[int]]:
    """A demo-seeded site with two rooms per client thread, the manager's disabled webhooks,
    and an API key for every route measured."""
    from click.testing import CliRunner
    from jomreskit_api_core import keys

    from jomreskit import create_app, get_kit
    from jomreskit.core.domain import demo
    from jomreskit.domain import services

    config = {
        "JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
        "JOMRESKIT_DATABASE_URL": database_url,
        "JOMRESKIT_PLUGINS_DIR": str(folder / "plugins"),
        "JOMRESKIT_SECRET_KEY": "bench",
        "JOMRESKIT_API_RATE_LIMIT": "100000000/minute",  # counted, never reached
        "JOMRESKIT_API_TOKEN_RATE_LIMIT": "100000000/minute",
    }
    installer = get_kit(create_app(config))
    with installer.app.app_context():
        installer.upgrade_database(report=lambda _m: None)
    installer.engine.dispose()
    app = create_app(config)  # started from the registry the upgrade built: every plugin
    kit = get_kit(app)
    with app.app_context():
        with kit.transaction():
            demo.seed(kit)
            rooms = [services.add_room(kit, 1, room_number=f"B{n}", name=f"Bench {n}",
                                       room_type="Bench", max_people=2).room_uid
                     for n in range(2 * clients)]
            key, secret = keys.create_key(
                kit, "manager", ["webhooks_get", "bookings_write", "availability_write"])
            client_id = key.client_id
        for n in range(WEBHOOKS):
            result = CliRunner().invoke(kit.cli, [
                "webhooks", "create", "--manager", "manager", "--url",
                f"https://hooks{n}.example.com/jomreskit", "--json"])
            assert result.exit_code == 0, result.output
    kit.engine.dispose()
    return config, client_id, secret, rooms


def set_webhooks(database_url: str, enabled: bool) -> None:
    import sqlalchemy as sa

    from jomreskit.db import make_engine

    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE webhooks SET enabled = :on"), {"on": enabled})
    engine.dispose()


Call = Callable[[http.client.HTTPConnection, int], int]


def request(connection: http.client.HTTPConnection, method: str, path: str,
            headers: dict[str, str], body: object = None) -> int:
    data = None if body is None else json.dumps(body)
    if data is not None:
        headers = {**headers, "Content-Type": "application/json"}
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def load(port: int, call: Call, clients: int, seconds: float) -> tuple[float, int]:
    """``clients`` threads, each with a keep-alive connection, calling for ``seconds``:
    (requests per second, answers other than 2xx)."""
    counts, errors = [0] * clients, [0] * clients
    ready = threading.Barrier(clients + 1)
    deadline = [time.perf_counter() + 3600]

    def worker(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.connect()
        ready.wait()
        while time.perf_counter() < deadline[0]:
            if not 200 <= call(connection, n) < 300:
                errors[n] += 1
            counts[n] += 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    deadline[0] = began + seconds
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began), sum(errors)


def routes(bearer: dict[str, str], rooms: list[int], clients: int) -> dict[str, Call]:
    """The three calls; each write client takes its own room and moves on in time."""
    start = date.today() + timedelta(days=1)
    next_booking, next_close = [0] * clients, [0] * clients

    def read(connection: http.client.HTTPConnection, _n: int) -> int:
        return request(connection, "GET", "/api/webhooks/1/booking_modified/41", bearer)

    def booking(connection: http.client.HTTPConnection, n: int) -> int:
        arrival = start + timedelta(days=2 * next_booking[n])
        next_booking[n] += 1
        return request(connection, "POST", "/api/bookings/1", bearer, {
            "room_uids": [rooms[n]], "arrival": arrival.isoformat(),
            "departure": (arrival + timedelta(days=2)).isoformat(), "adults": 1,
            "guest": {"firstname": "Bench", "surname": f"Guest {n}"},
            "contract_total": "150.00"})

    def close(connection: http.client.HTTPConnection, n: int) -> int:
        arrival = start + timedelta(days=30 * next_close[n])
        next_close[n] += 1
        return request(connection, "POST", "/api/availability/1/close", bearer, {
            "room_uids": [rooms[clients + n]], "arrival": arrival.isoformat(),
            "departure": (arrival + timedelta(days=30)).isoformat()})

    return {READ: read, BOOKING: booking, CLOSE: close}


def measure(database_url: str, args: argparse.Namespace) -> None:
    import sqlalchemy as sa

    from jomreskit.testing import scratch_database

    spawn = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(database_url or None, Path(tmp), prefix="bench") as url,
    ):
        (Path(tmp) / "plugins").mkdir()
        config, client_id, secret, rooms = build_site(Path(tmp), url, args.clients)
        port = free_port()
        server = spawn.Process(target=serve_site, args=(config, port, args.threads),
                               daemon=True)
        server.start()
        try:
            wait_until_up(port, "/api/")
            basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            probe.request("POST", "/api/oauth/token", body="grant_type=client_credentials",
                          headers={"Authorization": f"Basic {basic}",
                                   "Content-Type": "application/x-www-form-urlencoded"})
            token = json.loads(probe.getresponse().read())["access_token"]
            probe.close()
            calls = routes({"Authorization": f"Bearer {token}"}, rooms, args.clients)

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
                        rps, failed = load(port, call, args.clients, args.seconds)
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
        finally:
            server.terminate()
            server.join(10)


def count_deliveries(database_url: str) -> int:
    import sqlalchemy as sa

    from jomreskit.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as connection:
        found = connection.execute(sa.text("SELECT count(*) FROM webhook_deliveries")).scalar()
    engine.dispose()
    return int(found or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="per route and setting")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    load_average = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{os.cpu_count()} cores; load average {load_average} (other work on the machine "
          "slows every figure; the ratios pair figures taken moments apart)")
    if args.db == "sqlite":
        measure("", args)
        return
    postgres = (os.environ.get("JOMRESKIT_BENCH_DATABASE_URL")
                or os.environ.get("JOMRESKIT_TEST_POSTGRES_URL"))
    if not postgres:
        raise SystemExit("set JOMRESKIT_TEST_POSTGRES_URL (or use --db sqlite)")
    measure(postgres, args)


if __name__ == "__main__":
    main()
