"""REST API throughput: token issue and an authorized GET, beside a bare Flask endpoint.

All are served by one waitress server on loopback in the same run, and loaded by the same
client threads (keep-alive sessions), so the ratio compares like with like. The authorized GET
does what a feature route does: token check, scope, property access, one record, JSON. It
reads the record as an ORM object (``session.get``); a second route gives the same answer
reading just the record's columns with a select, to show what that choice of the feature costs.

    .venv/bin/python bench/api_throughput.py [--seconds 5] [--clients 4]
    JOMRESKIT_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/api_throughput.py

Target: the authorized GET at no less than 0.5 of the bare endpoint's requests per second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
import sqlalchemy as sa
import waitress
from flask import jsonify

from jomreskit import create_app, get_kit
from jomreskit.testing import scratch_database

BENCH_PLUGIN = '''
from sqlalchemy import bindparam, select

from jomreskit import Scope, hookimpl
from jomreskit.domain import Property
from jomreskit import NotFound
from jomreskit_api_core import require_property

requires = ["api_core"]


@hookimpl
def register_scopes():
    return [Scope("bench_get", "Read a property (benchmark).")]


@hookimpl
def register_api_routes(api):
    @api.route("/bench/properties/<int:property_uid>", scope="bench_get", summary="A property")
    def bench_property(property_uid):
        require_property(property_uid)
        prop = api.kit.session().get(Property, property_uid)
        if prop is None:
            raise NotFound(f"no property {property_uid}")
        return {"property_uid": prop.property_uid, "name": prop.name, "town": prop.town,
                "country": prop.country, "stars": prop.stars, "price_from": prop.price_from}

    # The same answer, the record read as just the columns it returns (no ORM object).
    @api.route("/bench/properties/<int:property_uid>/card", scope="bench_get",
               summary="A property's card")
    def bench_property_card(property_uid):
        require_property(property_uid)
        row = api.kit.session().execute(CARD, {"uid": property_uid}).first()
        if row is None:
            raise NotFound(f"no property {property_uid}")
        return dict(row._mapping)


CARD = select(Property.property_uid, Property.name, Property.town, Property.country,
              Property.stars, Property.price_from).where(Property.property_uid == bindparam("uid"))
'''


def build_site(folder: Path, database_url: str) -> tuple[dict[str, str], str, str]:
    plugins = folder / "plugins"
    plugins.mkdir()
    (plugins / "bench_plugin.py").write_text(BENCH_PLUGIN)
    config = {
        "JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
        "JOMRESKIT_DATABASE_URL": database_url,
        "JOMRESKIT_PLUGINS_DIR": str(plugins),
        "JOMRESKIT_SECRET_KEY": "bench",
        "JOMRESKIT_API_RATE_LIMIT": "100000000/minute",  # counted, never reached
    }
    first = create_app(config)
    kit = get_kit(first)
    with first.app_context():
        kit.upgrade_database(report=lambda _m: None)
        from jomreskit.core.domain import demo

        with kit.transaction():
            demo.seed(kit)
    kit.engine.dispose()
    app = create_app(config)  # started afresh, from the registry that now lists the plugins
    kit = get_kit(app)
    with app.app_context(), kit.transaction():
        from jomreskit_api_core import keys

        key, secret = keys.create_key(kit, "manager", ["bench_get"])
        client_id = key.client_id
    kit.engine.dispose()
    return config, client_id, secret


def serve(config: dict[str, str], port: int, threads: int) -> None:
    """The server process: the site, plus a bare Flask endpoint on the same app and server."""
    app = create_app(config)

    @app.get("/bare")
    def bare():
        return jsonify({"data": {"property_uid": 1, "name": "Fawlty Towers"}, "meta": {}})

    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load(call: Callable[[requests.Session], requests.Response], clients: int,
         seconds: float) -> tuple[float, float, float, int]:
    """Run ``call`` from ``clients`` threads for ``seconds``: (req/s, p50 ms, p99 ms, errors)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Event()
    deadline = 0.0

    def worker(n: int) -> None:
        session = requests.Session()
        call(session)  # connect and warm up outside the measurement
        start.wait()
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            response = call(session)
            latencies[n].append(time.perf_counter() - t0)
            if response.status_code != 200:
                errors[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    began = time.perf_counter()
    deadline = began + seconds
    start.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = sorted(x for per in latencies for x in per)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))]
    return len(every) / elapsed, statistics.median(every) * 1000, p99 * 1000, sum(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    args = parser.parse_args()

    database_url = os.environ.get("JOMRESKIT_BENCH_DATABASE_URL")
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(database_url, Path(tmp), prefix="bench") as url,
    ):
        config, client_id, secret = build_site(Path(tmp), url)
        port = free_port()
        # The server runs in a process of its own, so the client threads do not share its GIL.
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(config, port, args.threads), daemon=True)
        server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    requests.get(f"{base}/bare", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            token = requests.post(f"{base}/api/oauth/token", auth=(client_id, secret),
                                  data={"grant_type": "client_credentials"}).json()
            bearer = {"Authorization": f"Bearer {token['access_token']}"}
            for path in ("/api/bench/properties/1", "/api/bench/properties/1/card"):
                probe = requests.get(base + path, headers=bearer)
                assert probe.status_code == 200, probe.text

            cases = {
                "bare Flask GET /bare": lambda s: s.get(f"{base}/bare"),
                "authorized GET /api/bench/properties/1":
                    lambda s: s.get(f"{base}/api/bench/properties/1", headers=bearer),
                "the same, record read by a select (/card)":
                    lambda s: s.get(f"{base}/api/bench/properties/1/card", headers=bearer),
                "token issue POST /api/oauth/token":
                    lambda s: s.post(f"{base}/api/oauth/token", auth=(client_id, secret),
                                     data={"grant_type": "client_credentials"}),
            }
            dialect = sa.make_url(url).get_backend_name()
            print(f"database: {dialect}; waitress threads: {args.threads}; "
                  f"client threads: {args.clients}; {args.seconds:g} s each")
            results = {}
            for name, call in cases.items():
                results[name] = load(call, args.clients, args.seconds)
                rps, p50, p99, errors = results[name]
                print(f"{name:42s} {rps:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
                      + (f"  ({errors} non-200)" if errors else ""))
            bare = results["bare Flask GET /bare"][0]
            get = results["authorized GET /api/bench/properties/1"][0]
            issue = results["token issue POST /api/oauth/token"][0]
            card = results["the same, record read by a select (/card)"][0]
            print(f"ratio authorized GET / bare: {get / bare:.2f} (target >= 0.5)")
            print(f"ratio the same with a select / bare: {card / bare:.2f}")
            print(f"ratio token issue / bare:    {issue / bare:.2f}")
        finally:
            server.terminate()
            server.join(10)

if __name__ == "__main__":
    main()
