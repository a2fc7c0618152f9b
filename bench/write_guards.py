"""What an API write's guards cost: its transaction, an Idempotency-Key, and a replay, beside the
callback read, in the same run.

    .venv/bin/python bench/write_guards.py                    # SQLite, and PostgreSQL when
    JOMRESKIT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/write_guards.py [--db both] [--rounds 3] [--seconds 1]

One site process (waitress, demo data, every installed plugin, and this bench's plugin) on
loopback; the same client threads (keep-alive connections) load one route at a time. Each round
measures every write paired with the case study's callback read, moments apart, taking turns at
going first; a route's ratio is the median of its rounds' ratios, its req/s the median round.

Routes: the callback read (``GET /api/webhooks/1/booking_modified/41``, the baseline), a write
of this bench (``POST /api/bench/notes/42``: a booking note through the domain service, which
fires booking_note_saved, committed by api_core) sent without an Idempotency-Key, the same with
a new key on every request (the key's row claimed and its answer stored in the write's
transaction), and the same request repeated with one key (answered from the stored row, the
view not run). The last column is each write's cost against the plain write. The notes go to
another booking than the one read, whose callback (which lists its notes) would otherwise grow
with every write.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import uuid
from base64 import b64encode
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from api_throughput import Call, free_port, get, load, serve_site, wait_until_up  # noqa: E402

BENCH_PLUGIN = '''
from jomreskit import hookimpl, Scope
from jomreskit.domain import services
from jomreskit_api_core import current_json

requires = ["api_core"]


@hookimpl
def register_scopes():
    return [Scope("bench_notes_write", "Add notes to bookings (bench).")]


@hookimpl
def register_api_routes(api):
    @api.route("/bench/notes/<int:contract_uid>", methods=("POST",), scope="bench_notes_write",
               summary="Add a note to a booking (bench)")
    def bench_add_note(contract_uid):
        note = services.save_note(api.kit, contract_uid, current_json()["text"])
        return {"note_id": note.note_id, "text": note.text}
'''

READ = "callback read GET /api/webhooks/1/booking_modified/41"
PLAIN = "write POST /api/bench/notes/42"
KEYED = "write with a new Idempotency-Key each time"
REPLAY = "replay: the same request and key again"
NOTE = json.dumps({"text": "Mrs Richards would like a room with a view"})


def build_site(folder: Path, database_url: str) -> tuple[dict[str, str], str, str]:
    """A demo-seeded site with this bench's plugin, and a key of manager ``manager``."""
    from jomreskit_api_core import keys

    from jomreskit import create_app, get_kit
    from jomreskit.core.domain import demo

    plugins = folder / "plugins"
    plugins.mkdir()
    (plugins / "bench_plugin.py").write_text(BENCH_PLUGIN)
    config = {
        "JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
        "JOMRESKIT_DATABASE_URL": database_url,
        "JOMRESKIT_PLUGINS_DIR": str(plugins),
        "JOMRESKIT_SECRET_KEY": "bench",
        "JOMRESKIT_API_RATE_LIMIT": "100000000/minute",  # counted, never reached
        "JOMRESKIT_API_TOKEN_RATE_LIMIT": "100000000/minute",
    }
    app = create_app(config)
    kit = get_kit(app)
    with app.app_context():
        kit.upgrade_database(report=lambda _m: None)
        with kit.transaction():
            demo.seed(kit)
            key, secret = keys.create_key(kit, "manager", ["webhooks_get", "bench_notes_write"])
            client_id = key.client_id
    kit.engine.dispose()
    return config, client_id, secret


def post_note(headers: dict[str, str], new_key: bool = False) -> Call:
    headers = {**headers, "Content-Type": "application/json"}

    def call(connection: http.client.HTTPConnection) -> int:
        sent = {**headers, "Idempotency-Key": uuid.uuid4().hex} if new_key else headers
        connection.request("POST", "/api/bench/notes/42", body=NOTE, headers=sent)
        response = connection.getresponse()
        response.read()
        return response.status

    return call


def measure(database_url: str, args: argparse.Namespace) -> None:
    import sqlalchemy as sa

    from jomreskit.testing import scratch_database

    spawn = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(database_url or None, Path(tmp), prefix="bench") as url,
    ):
        config, client_id, secret = build_site(Path(tmp), url)
        port = free_port()
        server = spawn.Process(target=serve_site, args=(config, port, args.threads), daemon=True)
        server.start()
        try:
            wait_until_up(port, "/api/")
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            basic = b64encode(f"{client_id}:{secret}".encode()).decode()
            probe.request("POST", "/api/oauth/token", body="grant_type=client_credentials",
                          headers={"Authorization": f"Basic {basic}",
                                   "Content-Type": "application/x-www-form-urlencoded"})
            token = json.loads(probe.getresponse().read())["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            writes: dict[str, Call] = {
                PLAIN: post_note(bearer),
                KEYED: post_note(bearer, new_key=True),
                REPLAY: post_note({**bearer, "Idempotency-Key": "bench-replayed"}),
            }
            read = get("/api/webhooks/1/booking_modified/41", bearer)
            for label, call in {READ: read, **writes}.items():
                status = call(probe)
                assert status == 200, f"{label}: {status}"
            probe.close()

            rates: dict[str, list[float]] = {label: [] for label in (READ, *writes)}
            ratios: dict[str, list[float]] = {label: [] for label in writes}
            errors = dict.fromkeys(writes, 0)
            for round_number in range(args.rounds):
                for label, call in writes.items():
                    pair = [(READ, read), (label, call)]
                    if round_number % 2:
                        pair.reverse()
                    measured = {name: load(port, each, args.clients, args.seconds)
                                for name, each in pair}
                    rates[READ].append(measured[READ][0])
                    rates[label].append(measured[label][0])
                    errors[label] += measured[label][1]
                    ratios[label].append(measured[label][0] / measured[READ][0])
            dialect = sa.make_url(url).get_backend_name()
            print(f"\n== {dialect}: waitress {args.threads} threads; {args.clients} client "
                  f"threads; {args.rounds} rounds of {args.seconds:g} s per write, each paired "
                  "with the callback read")
            plain = statistics.median(rates[PLAIN])
            print(f"{READ:52s} {statistics.median(rates[READ]):7.0f} req/s  1")
            for label in writes:
                rate = statistics.median(rates[label])
                print(f"{label:52s} {rate:7.0f} req/s  {statistics.median(ratios[label]):.2f}"
                      f"  ({rate / plain:.2f}x the plain write)"
                      + (f"  [{errors[label]} answers not 200]" if errors[label] else ""))
        finally:
            server.terminate()
            server.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="per route and round")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    postgres = (os.environ.get("JOMRESKIT_BENCH_DATABASE_URL")
                or os.environ.get("JOMRESKIT_TEST_POSTGRES_URL"))
    load_average = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{os.cpu_count()} cores; load average {load_average} (other work on the machine "
          "slows every figure; the ratios pair figures taken moments apart)")
    if args.db in ("sqlite", "both"):
        measure("", args)
    if args.db in ("postgresql", "both"):
        if not postgres:
            print("\n== postgresql: skipped (set JOMRESKIT_TEST_POSTGRES_URL)")
        else:
            measure(postgres, args)


if __name__ == "__main__":
    main()
