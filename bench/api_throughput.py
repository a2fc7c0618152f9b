"""REST API throughput: the shipped webhook callbacks and token issue, beside a bare Flask app.

    .venv/bin/python bench/api_throughput.py                  # SQLite, and PostgreSQL when
    JOMRESKIT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/api_throughput.py [--db both] [--rounds 5] [--seconds 1]

Two server processes run side by side on loopback, both waitress with the same threads: the
site (demo data, the API with every installed plugin) and a bare Flask app with one route that
answers a small JSON. The same client threads (keep-alive connections, one each) load one route
at a time. Each round measures every route paired with the bare app, moments apart, taking turns
at going first, so load from elsewhere on the machine weighs on both figures of a pair; a
route's ratio is the median of its rounds' ratios, its req/s the median round.

Routes: the case study's callbacks (``GET /api/webhooks/<property_uid>/<event>/<id>``: a booking,
a property, a guest, an invoice, a booking note) and token issue (``POST /api/oauth/token``).
The ``token check only`` line is a route of this bench, not shipped: bearer check and property
access, then a constant answer, so the gap between it and a callback is the record's read.
Targets: every callback >= 0.5x the bare app, token issue >= 0.4x.

``--in-process`` times each route's WSGI call in the bench's own process instead, one call at a
time beside the bare app's, with no server, threads or sockets: what each ratio is made of.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402

BENCH_PLUGIN = '''
from jomreskit import hookimpl
from jomreskit_api_core import require_property

requires = ["api_feature_webhooks"]


@hookimpl
def register_api_routes(api):
    @api.route("/bench/token-check/<int:property_uid>", scope="webhooks_get",
               summary="Bearer check and property access, then a constant answer")
    def bench_token_check(property_uid):
        require_property(property_uid)
        return {"property_uid": property_uid, "name": "Fawlty Towers"}
'''

CALLBACKS = {
    "booking  GET /api/webhooks/1/booking_modified/41": "/api/webhooks/1/booking_modified/41",
    "property GET /api/webhooks/1/property_updated": "/api/webhooks/1/property_updated",
    "guest    GET /api/webhooks/1/guest_updated/1": "/api/webhooks/1/guest_updated/1",
    "invoice  GET /api/webhooks/1/invoice_updated/1": "/api/webhooks/1/invoice_updated/1",
    "note     GET /api/webhooks/1/booking_note_saved/1": "/api/webhooks/1/booking_note_saved/1",
}
TOKEN_CHECK = "token check only (bench route)"
TOKEN_ISSUE = "token issue POST /api/oauth/token"
TARGETS = {TOKEN_ISSUE: 0.4, TOKEN_CHECK: None}  # every callback: 0.5


# -- the two servers -------------------------------------------------------------------------


def build_site(folder: Path, database_url: str) -> tuple[dict[str, str], str, str]:
    """A demo-seeded site with this bench's plugin, and an API key of manager ``manager``."""
    from jomreskit_api_core import keys

    from jomreskit.core.domain import demo
    from jomreskit.db import make_engine

    def prepare(kit: Any) -> tuple[str, str]:
        demo.seed(kit)
        key, secret = keys.create_key(kit, "manager", ["webhooks_get"])
        return key.client_id, secret

    config = harness.site_config(folder, database_url, BENCH_PLUGIN)
    client_id, secret = harness.set_up(config, prepare)
    engine = make_engine(database_url)
    analyze(engine)
    engine.dispose()
    return config, client_id, secret


def analyze(engine: Any) -> None:
    """Give the planner the tables' statistics, as a site that has run a while has them
    (PostgreSQL's autovacuum gathers them once enough rows change; a demo seed is too small to
    set it off, and without them a record's read may take a worse index)."""
    import sqlalchemy as sa

    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            for table in sa.inspect(connection).get_table_names():
                connection.exec_driver_sql(f'ANALYZE "{table}"')
        else:
            connection.exec_driver_sql("ANALYZE")
        connection.commit()


def bare_app() -> Any:
    """The baseline: a Flask app with one route that answers a small JSON."""
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.get("/bare")
    def bare() -> object:
        return jsonify({"data": {"property_uid": 1, "name": "Fawlty Towers"}, "meta": {}})

    return app


def serve_bare(_config: None, port: int, threads: int) -> None:
    import logging

    import waitress

    logging.disable(logging.WARNING)  # as the site's: waitress's queue notices are not figures
    waitress.serve(bare_app(), host="127.0.0.1", port=port, threads=threads, _quiet=True)


# -- over HTTP -------------------------------------------------------------------------------


def measure(database_url: str, args: argparse.Namespace) -> None:
    import sqlalchemy as sa

    with harness.scratch_site_folder(database_url) as (folder, url):
        config, client_id, secret = build_site(folder, url)
        if args.in_process:
            measure_in_process(config, client_id, secret, sa.make_url(url).get_backend_name(),
                               args)
            return
        with (
            harness.served(config, args.threads) as site_port,
            harness.served(None, args.threads, target=serve_bare, path="/bare") as bare_port,
        ):
            basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            issue = harness.post_form("/api/oauth/token", {"grant_type": "client_credentials"},
                              {"Authorization": f"Basic {basic}"})
            bearer = {"Authorization": f"Bearer {harness.token(site_port, client_id, secret)}"}
            routes: dict[str, harness.Call] = {
                TOKEN_CHECK: harness.get("/api/bench/token-check/1", bearer)}
            routes.update({label: harness.get(path, bearer) for label, path in CALLBACKS.items()})
            routes[TOKEN_ISSUE] = issue
            probe = http.client.HTTPConnection("127.0.0.1", site_port, timeout=30)
            for label, call in routes.items():
                status = call(probe, 0)
                assert status == 200, f"{label}: {status}"
            probe.close()
            bare = harness.get("/bare", {})

            def loading(port: int, call: harness.Call) -> Callable[[], tuple[float, int]]:
                return partial(harness.load, port, call, args.clients, args.seconds)

            paired = harness.paired_rounds(args.rounds, loading(bare_port, bare),
                                   {label: loading(site_port, call)
                                    for label, call in routes.items()})
            dialect = sa.make_url(url).get_backend_name()
            print(f"\n== {dialect}: waitress {args.threads} threads in each server process; "
                  f"{args.clients} client threads; {args.rounds} rounds of {args.seconds:g} s "
                  f"per route, each paired with the bare app")
            print(f"{'bare Flask app GET /bare (own process)':52s} "
                  f"{statistics.median(paired.baseline):7.0f} req/s  1")
            for label in routes:
                target = TARGETS.get(label, 0.5)
                ratio = statistics.median(paired.ratios[label])
                verdict = "" if target is None else (
                    f"  (target >= {target}: {'met' if ratio >= target else 'NOT met'})")
                failed = paired.failed[label]
                print(f"{label:52s} {statistics.median(paired.rates[label]):7.0f} req/s  "
                      f"{ratio:.2f}{verdict}"
                      + (f"  [{failed} answers not 2xx]" if failed else ""))


# -- in one process --------------------------------------------------------------------------


WsgiCall = Callable[[], tuple[str, bytes]]


def wsgi_call(app: Any, method: str, path: str, headers: dict[str, str],
              body: bytes = b"") -> WsgiCall:
    """One request to ``app`` through its WSGI callable, read in full: (status, body)."""
    from io import BytesIO

    from werkzeug.test import EnvironBuilder

    base = EnvironBuilder(method=method, path=path, headers=headers, data=body).get_environ()

    def call() -> tuple[str, bytes]:
        environ = dict(base)
        environ["wsgi.input"] = BytesIO(body)
        status: list[str] = []
        answer = app(environ, lambda line, _headers, _exc=None: status.append(line))
        try:
            return status[0], b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()

    return call


def measure_in_process(config: dict[str, str], client_id: str, secret: str, dialect: str,
                       args: argparse.Namespace) -> None:
    """Each route's WSGI call timed in this process, one call at a time, beside the bare app's:
    what a request costs in Python and the database, without a server, threads or sockets.
    Under load a request costs the server process two to three times as much (thread
    switches, colder caches), so these explain the ratios above rather than stand for them."""
    from jomreskit import create_app

    site, bare = create_app(config), bare_app()
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    issue = wsgi_call(site, "POST", "/api/oauth/token", {
        "Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        b"grant_type=client_credentials")
    bearer = {"Authorization": f"Bearer {json.loads(issue()[1])['access_token']}"}
    routes = {TOKEN_CHECK: wsgi_call(site, "GET", "/api/bench/token-check/1", bearer)}
    routes.update({label: wsgi_call(site, "GET", path, bearer)
                   for label, path in CALLBACKS.items()})
    routes[TOKEN_ISSUE] = issue
    baseline = wsgi_call(bare, "GET", "/bare", {})
    for label, call in routes.items():
        status, _body = call()
        assert status.startswith("200"), f"{label}: {status}"

    # --cpu-time: the process's CPU time, which other work on a loaded machine moves less.
    clock = time.process_time if args.cpu_time else time.perf_counter

    def per_call(call: WsgiCall) -> float:
        began = clock()
        for _ in range(args.calls):
            call()
        return (clock() - began) / args.calls * 1e6

    costs: dict[str, list[float]] = {label: [] for label in routes}
    bare_costs: list[float] = []
    ratios: dict[str, list[float]] = {label: [] for label in routes}
    for round_number in range(args.rounds):
        for label, call in routes.items():
            if round_number % 2:
                route_cost, bare_cost = per_call(call), per_call(baseline)
            else:
                bare_cost, route_cost = per_call(baseline), per_call(call)
            bare_costs.append(bare_cost)
            costs[label].append(route_cost)
            ratios[label].append(bare_cost / route_cost)
    print(f"\n== {dialect}, in one process: {args.rounds} rounds of {args.calls} WSGI calls per "
          "route, each paired with the bare app's" + (" (CPU time)" if args.cpu_time else ""))
    print(f"{'bare Flask app GET /bare':52s} {statistics.median(bare_costs):7.1f} µs/call  1")
    for label in routes:
        print(f"{label:52s} {statistics.median(costs[label]):7.1f} µs/call  "
              f"{statistics.median(ratios[label]):.2f}")


def main() -> None:
    parser = harness.arguments(__doc__.splitlines()[0], rounds=5,
                               threads="waitress threads per server")
    parser.add_argument("--in-process", action="store_true",
                        help="time each route's WSGI call in this process instead (no server, "
                             "threads or sockets): what the ratios are made of")
    parser.add_argument("--cpu-time", action="store_true",
                        help="with --in-process, count the process's CPU time, not the clock's")
    parser.add_argument("--calls", type=int, default=2000,
                        help="WSGI calls per route and round, with --in-process")
    args = parser.parse_args()
    harness.print_machine()
    harness.on_databases(args, measure)


if __name__ == "__main__":
    main()
