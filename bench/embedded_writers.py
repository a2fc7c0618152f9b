"""Racing API writes to a site embedded in a host app on SQLite: how many wait their turn within
the host's busy timeout, and how long the last one waits.

    .venv/bin/python bench/embedded_writers.py [--racers 20 50 100] [--rounds 3]
        [--timeouts 5 30] [--pool-size 100]

A demo-seeded SQLite site is served embedded (a Flask app with Flask-SQLAlchemy handing
jomreskit its session, as the README's portal does) by waitress in a process of its own, with a
thread per racer. The host's engine is Flask-SQLAlchemy's default on SQLite (pool of 5 plus 10,
the sqlite3 driver's deferred transactions) with the driver's busy ``timeout`` of each
``--timeouts`` value (5 s is the driver's default); ``--pool-size N``: a pool of N connections
and no more instead. Racers beyond the pool's connections wait for one (up to the pool's 30 s),
not for the write lock. Each round, every racer (a keep-alive
connection of its own) sends a booking note write (``POST /api/bench/notes/42``, through the
domain service, firing its event) at the same moment. Each write's transaction takes SQLite's
write lock first (``db.take_write_lock``), so they take turns; one kept waiting past the busy
timeout answers 503 ``busy``. Printed per timeout and racer count: the answers by status over
all rounds, the median round's slowest answer and the median answer time.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402
from write_guards import NOTE, build_site  # noqa: E402

PATH = "/api/bench/notes/42"


def serve_embedded(config: dict[str, Any], port: int, threads: int) -> None:
    """The site in a host app of its own on the site's database, its engine Flask-SQLAlchemy's
    default but for the driver's busy timeout."""
    import logging

    import waitress
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    from jomreskit import JomresKit

    settings = dict(config)
    engine_options: dict[str, Any] = {"connect_args": {"timeout": settings.pop("timeout")}}
    pool_size = settings.pop("pool_size")
    if pool_size is not None:
        engine_options.update(pool_size=pool_size, max_overflow=0)
    host = Flask("portal")
    host.config.update(settings, SECRET_KEY="the portal's own secret",
                       SQLALCHEMY_DATABASE_URI=settings["JOMRESKIT_DATABASE_URL"],
                       SQLALCHEMY_ENGINE_OPTIONS=engine_options)
    JomresKit(host, session=SQLAlchemy(host).session)
    logging.disable(logging.WARNING)  # the 503s' log lines are not figures
    waitress.serve(host, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def race(port: int, token: str, racers: int) -> list[tuple[int, float]]:
    """Every racer's write sent at once: (status, seconds to its answer) each."""
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                   for _ in range(racers)]
    for connection in connections:
        connection.connect()
    start = threading.Barrier(racers)
    answers: list[tuple[int, float]] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(connection: http.client.HTTPConnection) -> None:
        start.wait()
        began = time.perf_counter()
        status = harness.request(connection, "POST", PATH, headers, NOTE)
        answers.append((status, time.perf_counter() - began))
        connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--racers", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeouts", type=float, nargs="+", default=[5.0, 30.0])
    parser.add_argument("--pool-size", type=int, default=None)
    args = parser.parse_args()
    harness.print_machine("")
    pool = "5 + 10 (Flask-SQLAlchemy's default)" if args.pool_size is None else args.pool_size
    print(f"embedded on SQLite; the host's pool: {pool} connections")

    with harness.scratch_site_folder("") as (folder, url):
        config, client_id, secret = build_site(folder, url)
        print(f"{'timeout':>8} {'racers':>6}  {'answers (all rounds)':<28} {'slowest':>8} "
              f"{'median':>7}")
        for timeout in args.timeouts:
            settings = {**config, "timeout": timeout, "pool_size": args.pool_size}
            with harness.served(settings, max(args.racers), serve_embedded) as port:
                token = harness.token(port, client_id, secret)
                for racers in args.racers:
                    statuses: Counter[int] = Counter()
                    slowest, medians = [], []
                    for _ in range(args.rounds):
                        answers = race(port, token, racers)
                        statuses.update(status for status, _ in answers)
                        slowest.append(max(seconds for _, seconds in answers))
                        medians.append(statistics.median(seconds for _, seconds in answers))
                    counted = ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
                    print(f"{timeout:>7.0f}s {racers:>6}  {counted:<28} "
                          f"{statistics.median(slowest):>7.2f}s "
                          f"{statistics.median(medians):>6.2f}s", flush=True)


if __name__ == "__main__":
    main()
