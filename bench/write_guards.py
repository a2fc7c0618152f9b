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
import statistics
import sys
import uuid
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402

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

    from jomreskit.core.domain import demo

    def prepare(kit: Any) -> tuple[str, str]:
        demo.seed(kit)
        key, secret = keys.create_key(kit, "manager", ["webhooks_get", "bench_notes_write"])
        return key.client_id, secret

    config = harness.site_config(folder, database_url, BENCH_PLUGIN)
    return (config, *harness.set_up(config, prepare))


def post_note(headers: dict[str, str], new_key: bool = False) -> harness.Call:
    headers = {**headers, "Content-Type": "application/json"}

    def call(connection: http.client.HTTPConnection, _client: int = 0) -> int:
        sent = {**headers, "Idempotency-Key": uuid.uuid4().hex} if new_key else headers
        return harness.request(connection, "POST", "/api/bench/notes/42", sent, NOTE)

    return call


def measure(database_url: str, args: argparse.Namespace) -> None:
    import sqlalchemy as sa

    with harness.scratch_site_folder(database_url) as (folder, url):
        config, client_id, secret = build_site(folder, url)
        with harness.served(config, args.threads) as port:
            bearer = {"Authorization": f"Bearer {harness.token(port, client_id, secret)}"}
            writes: dict[str, harness.Call] = {
                PLAIN: post_note(bearer),
                KEYED: post_note(bearer, new_key=True),
                REPLAY: post_note({**bearer, "Idempotency-Key": "bench-replayed"}),
            }
            read = harness.get("/api/webhooks/1/booking_modified/41", bearer)
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for label, call in {READ: read, **writes}.items():
                status = call(probe, 0)
                assert status == 200, f"{label}: {status}"
            probe.close()

            paired = harness.paired_rounds(
                args.rounds, partial(harness.load, port, read, args.clients, args.seconds),
                {label: partial(harness.load, port, call, args.clients, args.seconds)
                 for label, call in writes.items()})
            dialect = sa.make_url(url).get_backend_name()
            print(f"\n== {dialect}: waitress {args.threads} threads; {args.clients} client "
                  f"threads; {args.rounds} rounds of {args.seconds:g} s per write, each paired "
                  "with the callback read")
            plain = statistics.median(paired.rates[PLAIN])
            print(f"{READ:52s} {statistics.median(paired.baseline):7.0f} req/s  1")
            for label in writes:
                rate, ratio = (statistics.median(f[label]) for f in (paired.rates, paired.ratios))
                failed = paired.failed[label]
                print(f"{label:52s} {rate:7.0f} req/s  {ratio:.2f}"
                      f"  ({rate / plain:.2f}x the plain write)"
                      + (f"  [{failed} answers not 2xx]" if failed else ""))


def main() -> None:
    parser = harness.arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    harness.print_machine()
    harness.on_databases(args, measure)


if __name__ == "__main__":
    main()
