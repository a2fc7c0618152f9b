"""Webhook delivery figures, each against a baseline measured in the same run.

    .venv/bin/python bench/delivery.py                      # SQLite, and PostgreSQL when
    JOMRESKIT_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/delivery.py

For each database it prints:

- throughput: deliveries/s for one worker process draining a backlog (default 5,000) to a
  minimal keep-alive receiver that answers 200, and the ratio to a plain ``requests.Session``
  POST loop to the same receiver (targets: >= 1,000/s and >= 0.7); the same drain beside a
  stalled endpoint (a webhook whose server accepts and never answers, sent every event too),
  counted until the last healthy delivery arrived, and its ratio to the plain drain; and a
  drain to receivers that take 50 ms per answer, against what the threads allow
  (threads / 50 ms);
- latency: fire-to-receive p50/p99 with an idle worker, in the same process as the site
  (the `jomreskit serve` worker thread, woken by the commit) and in a separate worker
  process (woken by LISTEN/NOTIFY on PostgreSQL, by PRAGMA data_version on SQLite)
  (targets: p50 < 5 ms, p99 < 25 ms), and the p50 from the firing transaction's commit;
- idle cost: the CPU a `jomreskit worker` process uses, and the SQL statements a worker
  runs, on a quiet site whose one pending delivery is due in ten minutes (target: close to
  nothing, a handful of statements per second at most);
- fire overhead: a request that saves a booking note (firing an event that matches 10
  webhooks) with webhooks_core loaded, against the same request with it not loaded, over
  HTTP as a client sees it (target: < 1.3x); and, as a stricter view that leaves the HTTP
  server out of both times, the app's own work in-process.

The receiver runs in a process of its own (asyncio, HTTP/1.1 keep-alive).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests

# -- the receiver ----------------------------------------------------------------------------


def serve_receiver() -> None:
    """A minimal keep-alive HTTP server: 200 to every POST, arrival times at GET /stats,
    GET /wait/<webhook-id> answers when that delivery has arrived."""
    arrivals: dict[str, float] = {}
    waiting: dict[str, list[Any]] = {}

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end].decode("latin-1")
                length, msg_id = 0, None
                for line in head.split("\r\n")[1:]:
                    key, _, value = line.partition(":")
                    key = key.strip().lower()
                    if key == "content-length":
                        length = int(value)
                    elif key == "webhook-id":
                        msg_id = value.strip()
                if len(self.buffer) < end + 4 + length:
                    return
                self.received = self.buffer[end + 4:end + 4 + length]
                self.buffer = self.buffer[end + 4 + length:]
                target = head.split(" ", 2)[1]
                if head.startswith("GET /count"):  # cheap to ask often: how many, the last
                    times = [t for key, t in arrivals.items() if key.startswith("msg_")]
                    self.answer(json.dumps([len(times), max(times, default=0)]).encode())
                elif head.startswith("GET /stats"):
                    self.answer(json.dumps(arrivals).encode())
                    arrivals.clear() if "reset" in target else None
                elif head.startswith("GET /wait/"):
                    wanted = target.removeprefix("/wait/")
                    if wanted in arrivals:
                        self.answer(json.dumps(arrivals.pop(wanted)).encode())
                    else:
                        waiting.setdefault(wanted, []).append(self)
                else:
                    now = time.time()
                    body = self.received
                    if target.startswith("/slow"):  # a receiver that takes 50 ms per answer
                        asyncio.get_running_loop().call_later(0.05, self.answer, b"")
                    else:
                        self.answer(b"")
                    # A latency sample is known by its note_id (the firing side knows no
                    # webhook-id before its transaction commits).
                    keys = [msg_id] if msg_id is not None else []
                    if b'"note_id":' in body:
                        keys.append(f"note{json.loads(body)['data']['note_id']}")
                    for key in keys:
                        arrivals[key] = now
                        for waiter in waiting.pop(key, []):
                            waiter.answer(json.dumps(arrivals.pop(key)).encode())

        def answer(self, body: bytes) -> None:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\n\r\n" + body)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


def start_receiver() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, __file__, "--receiver"], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def arrivals(url: str, reset: bool = False) -> dict[str, float]:
    return requests.get(f"{url}/stats{'?reset' if reset else ''}", timeout=30).json()


def start_stalled() -> tuple[str, Any]:
    """An endpoint that accepts connections, reads the request and never answers."""
    import socket

    server = socket.create_server(("127.0.0.1", 0), backlog=512)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()

    def close() -> None:
        server.close()
        for connection in held:
            connection.close()

    return f"http://127.0.0.1:{server.getsockname()[1]}/stalled", close


# -- the site --------------------------------------------------------------------------------


def make_site(database: str, workdir: Path, webhooks_core: bool = True) -> Any:
    from jomreskit import create_app, get_kit

    config = {
        "JOMRESKIT_INSTANCE_PATH": str(workdir / "instance"),
        "JOMRESKIT_DATABASE_URL": database,
        "JOMRESKIT_SECRET_KEY": "bench-secret-key",
        "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "JOMRESKIT_BASE_URL": "http://127.0.0.1:8000",
    }
    app = create_app(config)
    kit = get_kit(app)
    with app.app_context():
        kit.upgrade_database(report=lambda _m: None)
    loaded = None
    if not webhooks_core:
        loaded = ",".join(n for n in kit.loaded.names if n != "webhooks_core")
    app = create_app({**config, "JOMRESKIT_LOAD_PLUGINS": loaded})
    return app, get_kit(app), config


def bench_route(app: Any) -> None:
    """A request that does what a booking portal does: change a booking, firing its event."""
    from jomreskit import get_kit
    from jomreskit.domain import services as domain

    @app.post("/bench/note")
    def save_note() -> Any:
        kit = get_kit()
        with kit.transaction():
            note = domain.save_note(kit, 41, "late arrival")
        return {"note_id": note.note_id}


def database_urls(which: str) -> list[tuple[str, str]]:
    urls = []
    if which in ("sqlite", "both"):
        urls.append(("sqlite", ""))
    pg = os.environ.get("JOMRESKIT_TEST_POSTGRES_URL")
    if which in ("postgresql", "both") and pg:
        urls.append(("postgresql", pg.replace("postgresql://", "postgresql+psycopg://", 1)))
    return urls


def postgres_schema(base: str) -> tuple[str, Any]:
    from urllib.parse import quote

    import sqlalchemy as sa

    schema = f"bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}", drop


# -- the measurements ----------------------------------------------------------------------


def plain_loop(url: str, count: int) -> float:
    """POSTs/s of a plain requests.Session loop: the baseline a worker is compared with."""
    session = requests.Session()
    body = json.dumps({"type": "booking_modified", "data": {"property_uid": 1}}).encode()
    headers = {"Content-Type": "application/json"}
    for _ in range(200):
        session.post(url, data=body, headers=headers)
    started = time.perf_counter()
    for n in range(count):
        headers["webhook-id"] = f"plain_{n}"
        response = session.post(url, data=body, headers=headers)
        assert response.status_code == 200
    rate = count / (time.perf_counter() - started)
    session.close()
    return rate


def queue_backlog(kit: Any, app: Any, receiver: str, backlog: int) -> int:
    """Fire enough events for ``backlog`` deliveries to the ten bench webhooks; returns how
    many events."""
    events = (backlog + 9) // 10
    with app.app_context(), kit.transaction():
        for n in range(events):
            kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=n + 1)
    arrivals(receiver, reset=True)
    return events


def drain_rate(kit: Any, app: Any, receiver: str, backlog: int, concurrency: int) -> float:
    from jomreskit_webhooks_core.worker import Worker

    events = queue_backlog(kit, app, receiver, backlog)
    with app.app_context():
        worker = Worker(kit, concurrency)
        started = time.perf_counter()
        stats = worker.run("drain")
        elapsed = time.perf_counter() - started
    got = sum(1 for key in arrivals(receiver, reset=True) if key.startswith("msg_"))
    assert stats.succeeded == events * 10 == got, (stats, got)
    return stats.succeeded / elapsed


def drain_beside_stalled(kit: Any, app: Any, receiver: str, backlog: int,
                         concurrency: int) -> tuple[float, float]:
    """Deliveries/s to the healthy webhooks while every event also goes to a stalled one,
    counted until the last healthy delivery arrived; and the seconds until the worker, then
    stopped, had let its stalled attempts reach their deadline and exited."""
    from jomreskit_webhooks_core.worker import Worker

    events = queue_backlog(kit, app, receiver, backlog)
    with app.app_context():
        worker = Worker(kit, concurrency)
        finished: list[float] = []

        def drain() -> None:
            with app.app_context():
                worker.run("drain")
            finished.append(time.perf_counter())

        started, started_at = time.perf_counter(), time.time()
        threading.Thread(target=drain, daemon=True).start()
        healthy = events * 10
        while True:
            time.sleep(0.2)
            got, last_at = requests.get(f"{receiver}/count", timeout=30).json()
            if got >= healthy or finished:
                break
        last = last_at - started_at
        worker.stop()  # the stalled webhook's queue would take its deadline per attempt
        while not finished:
            time.sleep(0.1)
    arrivals(receiver, reset=True)
    assert got == healthy, (got, healthy)
    return healthy / last, finished[0] - started


def latency(kit: Any, app: Any, receiver: str, samples: int, separate: dict[str, str] | None
            ) -> tuple[float, float, float]:
    """Fire-to-receive times (ms) with an idle worker, a thread here or a worker process:
    p50, p99, and the p50 counted from the end of the firing transaction (its commit)."""
    from jomreskit_webhooks_core.worker import WorkerService

    service = process = None
    if separate is None:
        service = WorkerService(kit)
        service.start()
    else:
        env = {**os.environ, **separate}
        process = subprocess.Popen([str(Path(sys.executable).parent / "jomreskit"), "worker"],
                                   env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    times: list[float] = []
    after_commit: list[float] = []  # the same, from the end of the firing transaction
    waiter = http.client.HTTPConnection(urlsplit(receiver).netloc, timeout=10)
    try:
        with app.app_context():
            for n in range(samples + 20):
                time.sleep(0.02)  # the worker is idle again
                note_id = 1_000_000 + n
                # Asked before firing, so that after the commit this thread only waits for
                # the answer: it leaves Python (and a worker thread) alone, as a site's request
                # does once it has written its response, rather than building a request.
                waiter.request("GET", f"/wait/note{note_id}")
                started = time.time()
                with kit.transaction():
                    kit.fire("booking_note_saved", property_uid=1, contract_uid=41,
                             note_id=note_id)
                committed = time.time()
                arrived = json.loads(waiter.getresponse().read())
                if n >= 20:  # the first ones warm up connections and caches
                    times.append((arrived - started) * 1000)
                    after_commit.append((arrived - committed) * 1000)
    finally:
        waiter.close()
        if service is not None:
            service.stop()
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    times.sort()
    return (statistics.median(times), times[int(len(times) * 0.99) - 1],
            statistics.median(after_commit))


def idle_cost(kit: Any, app: Any, receiver: str, env: dict[str, str],
              seconds: float = 10.0) -> tuple[float, float]:
    """% of a core used by an idle worker process, and statements/s run by an idle worker
    thread, with one delivery pending ten minutes from now."""
    from datetime import timedelta

    from jomreskit_webhooks_core.models import Delivery
    from jomreskit_webhooks_core.worker import WorkerService
    from sqlalchemy import event, update
    from sqlalchemy.engine import Engine

    from jomreskit.core.db import utcnow

    with app.app_context():
        with kit.transaction():
            kit.fire("booking_note_saved", property_uid=1, contract_uid=41, note_id=2_000_000)
        with kit.transaction() as session:
            session.execute(update(Delivery).where(Delivery.status == "pending")
                            .values(next_attempt_at=utcnow() + timedelta(minutes=10)))
    process = subprocess.Popen([str(Path(sys.executable).parent / "jomreskit"), "worker"],
                               env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # started, and asleep
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            with open(f"/proc/{process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        before = cpu()
        time.sleep(seconds)
        share = (cpu() - before) / seconds * 100
    finally:
        process.terminate()
        process.wait(timeout=30)
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    event.listen(Engine, "before_cursor_execute", count)
    service = WorkerService(kit)
    try:
        service.start()
        time.sleep(1)
        statements[0] = 0
        time.sleep(seconds)
        rate = statements[0] / seconds
    finally:
        service.stop()
        event.remove(Engine, "before_cursor_execute", count)
    with app.app_context(), kit.transaction() as session:
        session.execute(update(Delivery).where(Delivery.status == "pending")
                        .values(status="failed"))
    return share, rate


def request_times(apps: list[Any], count: int, over_http: bool, rounds: int = 40
                  ) -> tuple[list[float], float]:
    """Mean ms of a request that saves a booking note (and so fires an event), per app, and
    the ratio of the first app's time to the second's.

    ``over_http``: as a client sees it, through waitress (what `jomreskit serve` runs) on
    loopback with a keep-alive session; otherwise through Flask's test client, which leaves
    out the HTTP server and so shows the app's own work alone.
    The apps take turns in short rounds. A round's two times were taken moments apart, under
    the same load from elsewhere on the machine, so the ratio is the median of the rounds'
    ratios; the times are each app's median round.
    """
    if over_http:
        import waitress

        clients = []
        for app in apps:
            server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
            threading.Thread(target=server.run, daemon=True).start()
            session = requests.Session()
            url = f"http://127.0.0.1:{server.effective_port}/bench/note"
            clients.append(SimpleNamespace(post=lambda _path, s=session, u=url: s.post(u)))
    else:
        clients = [app.test_client() for app in apps]
    for client in clients:
        for _ in range(50):
            assert client.post("/bench/note").status_code == 200
    per_round = max(1, count // rounds)
    times: list[list[float]] = [[] for _ in apps]
    for r in range(rounds):
        # Each app goes first in every other round: neither gains from its place in the turn.
        for n in (range(len(clients)) if r % 2 == 0 else reversed(range(len(clients)))):
            client = clients[n]
            started = time.perf_counter()
            for _ in range(per_round):
                client.post("/bench/note")
            times[n].append((time.perf_counter() - started) * 1000 / per_round)
    ratio = statistics.median(a / b for a, b in zip(times[0], times[1], strict=True))
    return [statistics.median(each) for each in times], ratio


def run(name: str, database: str, args: argparse.Namespace, receiver: str) -> None:
    from jomreskit_webhooks_core import services

    workdir = Path(tempfile.mkdtemp(prefix=f"jomreskit-bench-{name}-"))
    drop = None
    if not database:
        database = f"sqlite:///{workdir / 'site.db'}"
    else:
        database, drop = postgres_schema(database)
    try:
        app, kit, config = make_site(database, workdir)
        with app.app_context(), kit.transaction():
            from jomreskit.core.domain import demo

            demo.seed(kit)
            hooks = [services.create_webhook(kit, "manager", f"{receiver}/hook{n}")[0]
                     for n in range(10)]
            ids = [h.id for h in hooks]
        print(f"\n== {name}")
        plain = plain_loop(f"{receiver}/plain", args.backlog)
        arrivals(receiver, reset=True)
        rate = drain_rate(kit, app, receiver, args.backlog, args.concurrency)
        print(f"throughput  {rate:8.0f} deliveries/s draining {args.backlog} with one worker "
              f"process ({args.concurrency} threads); plain requests.Session loop "
              f"{plain:.0f}/s; ratio {rate / plain:.2f}  (targets >= 1000/s, >= 0.70)")


        stalled_url, close_stalled = start_stalled()
        with app.app_context(), kit.transaction():
            stalled = services.create_webhook(kit, "manager", stalled_url)[0].id
        beside, took = drain_beside_stalled(kit, app, receiver, args.backlog, args.concurrency)
        close_stalled()
        print(f"            {beside:8.0f} deliveries/s to the others beside a stalled endpoint "
              f"(its attempts end at their 15 s deadline: stopped, the worker exited after "
              f"{took:.0f} s); ratio to the plain drain {beside / rate:.2f}")
        with app.app_context(), kit.transaction():
            services.delete_webhook(kit, stalled)
            for webhook_id in ids:
                services.update_webhook(kit, webhook_id, enabled=False)
            slow = [services.create_webhook(kit, "manager", f"{receiver}/slow{n}")[0].id
                    for n in range(10)]
        slow_backlog = args.concurrency * 100
        slow_rate = drain_rate(kit, app, receiver, slow_backlog, args.concurrency)
        allowed = args.concurrency / 0.05
        print(f"            {slow_rate:8.0f} deliveries/s draining {slow_backlog} to receivers "
              f"that take 50 ms each; the threads allow {allowed:.0f}/s; "
              f"ratio {slow_rate / allowed:.2f}")
        with app.app_context(), kit.transaction():
            for webhook_id in slow:
                services.delete_webhook(kit, webhook_id)
            for webhook_id in ids[:1]:
                services.update_webhook(kit, webhook_id, enabled=True)

        p50, p99, committed = latency(kit, app, receiver, args.samples, None)
        print(f"latency     p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  fire-to-receive, idle worker "
              f"thread in the site's process (targets p50 < 5, p99 < 25); "
              f"p50 {committed:.2f} ms from the commit")
        env = {k: str(v) for k, v in config.items()}
        p50, p99, committed = latency(kit, app, receiver, args.samples, env)
        print(f"            p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  fire-to-receive, idle worker "
              f"in a separate process; p50 {committed:.2f} ms from the commit")
        share, statements = idle_cost(kit, app, receiver, env)
        print(f"idle        {share:5.1f} % of a core for an idle worker process, "
              f"{statements:.1f} SQL statements/s by an idle worker, one retry due in 10 min"
              + ("; its watcher reads PRAGMA data_version every 10 ms once quiet"
                 if name == "sqlite" else ""))
        with app.app_context(), kit.transaction():
            for webhook_id in ids[1:]:
                services.update_webhook(kit, webhook_id, enabled=True)

        bench_route(app)
        bare_app, _bare_kit, _ = make_site(database, workdir, webhooks_core=False)
        bench_route(bare_app)
        for over_http, how, note in (
                (True, "over HTTP (waitress)", "target < 1.30"),
                (False, "in-process (test client)", "the app's own work, no HTTP server")):
            (with_core, without), ratio = request_times([app, bare_app], args.requests,
                                                        over_http)
            print(f"fire        {with_core:6.3f} ms per request firing an event to 10 webhooks, "
                  f"{how}; {without:6.3f} ms without webhooks_core; "
                  f"ratio {ratio:.2f}  ({note})")
        kit.engine.dispose()
    finally:
        if drop is not None:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver()
        return
    import logging

    logging.disable(logging.WARNING)
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{os.cpu_count()} cores; load average {load} (other work on the machine slows every "
          "figure, baselines included)")
    receiver_process, receiver = start_receiver()
    try:
        for name, database in database_urls(args.db):
            run(name, database, args, receiver)
    finally:
        receiver_process.terminate()
        receiver_process.wait()


if __name__ == "__main__":
    main()
