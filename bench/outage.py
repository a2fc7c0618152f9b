"""Receiver outages, as a site meets them: figures of two drills, printed.

    .venv/bin/python bench/outage.py                          # both drills, SQLite
    JOMRESKIT_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/outage.py \
        --database postgresql --worker process

- ``host``: a channel manager's host that trickles its answers (the status line, then a byte
  a second) serves 20 webhooks of two managers; a third manager's healthy endpoint sits beside
  them. An event for all of them is fired every 0.5 s for ``--seconds`` (40). Printed: how
  many of the healthy endpoint's notifications arrived, and how long each waited from its
  event (the aim: every one, within 2 s). ``--dead-hosts 2`` splits the 20 webhooks over two
  hosts, one trickling and one that never answers.
- ``dead``: a receiver that accepts and never answers, with 200 deliveries queued for it,
  ``JOMRESKIT_WEBHOOK_TIMEOUT=2`` and one worker for ``--seconds``. Printed: the connections
  it got meanwhile; then it answers again, and the seconds until all 200 arrived.

The worker runs inside `jomreskit serve` (``--worker serve``, the default) or as a `jomreskit
worker` process (``--worker process``); events are fired from this process, as a site's
requests would. Each "host" is its own loopback address (127.0.0.2, 127.0.0.3, ...).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jomreskit_webhooks_core.testing import Endpoint

sys.path.insert(0, str(Path(__file__).parent))
from delivery import database_urls, make_site, postgres_schema  # noqa: E402

JOMRESKIT = str(Path(sys.executable).parent / "jomreskit")


def notes(endpoint: Endpoint) -> dict[int, float]:
    """When each note's notification (by note_id) was first answered 200; the circuit's own
    notifications to the same webhook are left out."""
    arrived: dict[int, float] = {}
    for answered in list(endpoint.answered):
        data = answered.json()["data"]
        if "note_id" in data:
            arrived.setdefault(data["note_id"], answered.at)
    return arrived


def start_worker(how: str, config: dict[str, str], **extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, **{k: str(v) for k, v in config.items() if v is not None}, **extra}
    if how == "serve":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        args = [JOMRESKIT, "serve", "--port", str(port)]
    else:
        args = [JOMRESKIT, "worker"]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        _out, err = process.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return err


def managers_with_webhooks(kit: Any, app: Any, plan: list[tuple[str, list[str]]]) -> None:
    """Create each manager (linked to property 1) with webhooks to the URLs given."""
    from jomreskit_webhooks_core import services

    from jomreskit.core.domain import demo
    from jomreskit.domain import services as domain

    with app.app_context(), kit.transaction():
        demo.seed(kit)
        for username, urls in plan:
            domain.create_user(kit, username, property_uids=[1])
            for url in urls:
                services.create_webhook(kit, username, url, "none")


def fire(kit: Any, app: Any, note_id: int) -> None:
    with app.app_context(), kit.transaction():
        kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=note_id)


def host_drill(database: str, workdir: Path, how: str, seconds: float, dead_hosts: int) -> None:
    app, kit, config = make_site(database, workdir)
    healthy = Endpoint("127.0.0.1", "ok")
    stalled = [Endpoint("127.0.0.2", "trickle")]
    if dead_hosts > 1:
        stalled.append(Endpoint("127.0.0.3", "hang"))
    urls = [f"{stalled[n % len(stalled)].url}/hook/{n}" for n in range(20)]
    managers_with_webhooks(kit, app, [("cm_customer_a", urls[:10]), ("cm_customer_b", urls[10:]),
                                      ("healthy", [healthy.url + "/hook"])])
    process = start_worker(how, config)
    time.sleep(3)  # the process is up
    fired: dict[int, float] = {}
    try:
        started = time.monotonic()
        note = 0
        while time.monotonic() - started < seconds:
            note += 1
            fired[note] = time.time()
            fire(kit, app, note)
            time.sleep(max(0.0, started + note * 0.5 - time.monotonic()))
        end = time.time() + 3
        while len(notes(healthy)) < note and time.time() < end:
            time.sleep(0.1)
        took = time.monotonic() - started
    finally:
        err = stop(process)
        for endpoint in [healthy, *stalled]:
            endpoint.close()
    arrived = notes(healthy)
    waits = sorted(arrived[n] - fired[n] for n in fired if n in arrived)
    late = sum(1 for w in waits if w > 2.0)
    print(f"  host drill ({len(stalled)} stalled host{'s' if len(stalled) > 1 else ''}, "
          f"20 webhooks, worker {how}): healthy endpoint got {len(waits)} of {note} in "
          f"{took:.0f} s; {late} waited over 2 s", flush=True)
    if waits:
        print(f"    wait from event: median {statistics.median(waits):.3f} s, "
              f"p95 {waits[int(len(waits) * 0.95) - 1 if len(waits) > 1 else 0]:.3f} s, "
              f"max {waits[-1]:.3f} s; stalled hosts' connections: "
              f"{', '.join(str(e.connections) for e in stalled)}", flush=True)
    if "Traceback" in err:
        print(err[-2000:])


def dead_drill(database: str, workdir: Path, how: str, seconds: float) -> None:
    app, kit, config = make_site(database, workdir)
    dead = Endpoint("127.0.0.4", "hang")
    managers_with_webhooks(kit, app, [("cm_customer", [dead.url + "/hook"])])
    with app.app_context(), kit.transaction():
        for n in range(200):
            kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=n + 1)
    process = start_worker(how, config, JOMRESKIT_WEBHOOK_TIMEOUT="2")
    try:
        time.sleep(seconds)
        connections = dead.connections
        dead.answer_again()
        back = time.monotonic()
        end = back + 600
        while len(notes(dead)) < 200 and time.monotonic() < end:
            time.sleep(0.2)
        recovered = time.monotonic() - back
    finally:
        err = stop(process)
        dead.close()
    print(f"  dead drill (200 queued, timeout 2 s, worker {how}): {connections} connections "
          f"in {seconds:.0f} s; answering again, {len(notes(dead))} of 200 arrived "
          f"{recovered:.0f} s later ({len(dead.answered)} answered, "
          f"{len({a.webhook_id for a in dead.answered})} webhook-ids)", flush=True)
    if "Traceback" in err:
        print(err[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drill", choices=["host", "dead", "both"], default="both")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"],
                        default="sqlite")
    parser.add_argument("--worker", choices=["serve", "process"], default="serve")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--dead-hosts", type=int, choices=[1, 2], default=1)
    args = parser.parse_args()
    for name, base in database_urls(args.database):
        print(f"{name}:", flush=True)
        for drill in (["host", "dead"] if args.drill == "both" else [args.drill]):
            with tempfile.TemporaryDirectory() as folder:
                drop = None
                database = ""
                if base:
                    database, drop = postgres_schema(base)
                else:
                    database = f"sqlite:///{Path(folder) / 'site.db'}"
                try:
                    if drill == "host":
                        host_drill(database, Path(folder), args.worker, args.seconds,
                                   args.dead_hosts)
                    else:
                        dead_drill(database, Path(folder), args.worker, args.seconds)
                finally:
                    if drop:
                        drop()


if __name__ == "__main__":
    main()
