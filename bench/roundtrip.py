"""The case study at load: notifications per second completed end to end, beside delivery alone.

    .venv/bin/python bench/roundtrip.py                        # SQLite, and PostgreSQL when
    JOMRESKIT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/roundtrip.py [--db both] [--services 4] [--events 250] [--rounds 3]

On loopback, each in a process of its own: the site (waitress, as `jomreskit serve` runs it,
without its worker thread), one `jomreskit worker`, and N simulated remote services (one process
serving N ports). Each service owns a webhook of manager ``manager`` and an API key with
``webhooks_get``. On each notification a service checks its Standard Webhooks signature,
answers 200, and then, in the whole loop, calls the notification's ``callback_url`` with its
cached token (keep-alive, two fetching threads per service) until the record comes back.

A round fires ``--events`` booking_modified events in one transaction (each goes to every
service) and times from its commit until the last notification is in (delivery alone: services
that only verify and answer) or until the last record is fetched (the whole loop: fired ->
delivered -> record fetched). The two modes take turns, so both see the same machine.
Target: the whole loop at >= 0.4x delivery alone on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402

FETCHERS_PER_SERVICE = 2

# -- the remote services -----------------------------------------------------------------------


def run_services(specs: list[dict[str, str]], control: Any) -> None:
    """Serve one port per service; obey ``control`` (a Pipe end): "fetch on|off", "stats",
    "reset", "stop"."""
    from jomreskit.responder import SignatureError, verify_signature

    fetch = threading.Event()
    counts = {"received": 0, "fetched": 0, "bad": 0, "last": 0.0}
    lock = threading.Lock()

    def count(what: str) -> None:
        with lock:
            counts[what] += 1
            counts["last"] = time.time()

    class Service:
        def __init__(self, spec: dict[str, str]) -> None:
            self.spec = spec
            self.token: str | None = None
            self.token_lock = threading.Lock()
            self.todo: queue.Queue[str] = queue.Queue()
            api = urlsplit(spec["api_url"])
            self.site = (api.hostname, api.port)
            for _ in range(FETCHERS_PER_SERVICE):
                threading.Thread(target=self.fetcher, daemon=True).start()

        def bearer(self, connection: http.client.HTTPConnection, renew: bool = False) -> str:
            with self.token_lock:
                if self.token is None or renew:
                    body = (f"grant_type=client_credentials&client_id={self.spec['client_id']}"
                            f"&client_secret={self.spec['client_secret']}")
                    connection.request("POST", self.spec["token_path"], body=body, headers={
                        "Content-Type": "application/x-www-form-urlencoded"})
                    self.token = json.loads(connection.getresponse().read())["access_token"]
                return self.token

        def fetcher(self) -> None:
            connection = http.client.HTTPConnection(*self.site, timeout=30)
            while True:
                url = self.todo.get()
                path = urlunsplit(("", "", *urlsplit(url)[2:]))
                for attempt in range(2):
                    headers = {"Authorization": f"Bearer {self.bearer(connection, attempt > 0)}"}
                    connection.request("GET", path, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                    if response.status != 401:
                        break
                if response.status == 200 and b'"contract_uid"' in data:
                    count("fetched")
                else:
                    count("bad")

    class Receiver(asyncio.Protocol):
        def __init__(self, service: Service) -> None:
            self.service = service
            self.buffer = b""

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].decode("latin-1").split("\r\n")
                headers = {}
                for line in head[1:]:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if len(self.buffer) < end + 4 + length:
                    return
                body = self.buffer[end + 4:end + 4 + length]
                self.buffer = self.buffer[end + 4 + length:]
                try:
                    verify_signature(self.service.spec["signing_secret"], headers, body)
                except SignatureError:
                    count("bad")
                    self.transport.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                    continue
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                count("received")
                if fetch.is_set():
                    self.service.todo.put(json.loads(body)["callback_url"])

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for spec in specs:
            service = Service(spec)
            sock = socket.socket()
            sock.bind(("127.0.0.1", int(spec["port"])))
            await loop.create_server(lambda s=service: Receiver(s), sock=sock)
        control.send("ready")
        await asyncio.Event().wait()

    def obey() -> None:
        while True:
            command = control.recv()
            if command == "stats":
                with lock:
                    control.send(dict(counts))
            elif command == "reset":
                with lock:
                    counts.update(received=0, fetched=0, bad=0, last=0.0)
                control.send("ok")
            elif command.startswith("fetch "):
                fetch.set() if command == "fetch on" else fetch.clear()
                control.send("ok")
            elif command == "stop":
                os._exit(0)

    threading.Thread(target=obey, daemon=True).start()
    asyncio.run(serve())


# -- the site --------------------------------------------------------------------------------


def build_site(folder: Path, url: str, site_port: int, services: int
               ) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A demo-seeded site; per service a port, a webhook to it and an API key."""
    from jomreskit_api_core import keys
    from jomreskit_webhooks_core import services as webhooks

    from jomreskit import create_app, get_kit
    from jomreskit.core.domain import demo

    base = f"http://127.0.0.1:{site_port}"
    config = {
        "JOMRESKIT_INSTANCE_PATH": str(folder / "instance"),
        "JOMRESKIT_DATABASE_URL": url,
        "JOMRESKIT_SECRET_KEY": "bench",
        "JOMRESKIT_BASE_URL": base,
        "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "JOMRESKIT_API_RATE_LIMIT": "100000000/minute",  # counted, never reached
    }
    app = create_app(config)
    kit = get_kit(app)
    specs = []
    with app.app_context():
        kit.upgrade_database(report=lambda _m: None)
        with kit.transaction():
            demo.seed(kit)
            for _ in range(services):
                port = harness.free_port()
                _webhook, signing_secret = webhooks.create_webhook(
                    kit, "manager", f"http://127.0.0.1:{port}/hook",
                    events=["booking_modified"])
                key, secret = keys.create_key(kit, "manager", ["webhooks_get"])
                specs.append({"port": str(port), "signing_secret": signing_secret,
                              "client_id": key.client_id, "client_secret": secret,
                              "api_url": f"{base}/api", "token_path": "/api/oauth/token"})
    kit.engine.dispose()
    return config, specs


def firing(config: dict[str, str]) -> Any:
    """A function firing ``n`` booking_modified events in one transaction, returning the time
    of its commit."""
    from jomreskit import create_app, get_kit

    app = create_app(config)
    kit = get_kit(app)

    def fire(events: int) -> float:
        with app.app_context():
            with kit.transaction():
                for _ in range(events):
                    kit.fire("booking_modified", property_uid=1, contract_uid=41)
            return time.time()

    return fire


def measure(database_url: str, args: argparse.Namespace) -> None:
    import sqlalchemy as sa

    spawn = multiprocessing.get_context("spawn")
    with harness.scratch_site_folder(database_url) as (folder, url):
        site_port = harness.free_port()
        config, specs = build_site(folder, url, site_port, args.services)
        here, there = spawn.Pipe()
        processes = [
            spawn.Process(target=harness.serve_site, args=(config, site_port, args.threads),
                          daemon=True),
            spawn.Process(target=run_services, args=(specs, there), daemon=True),
        ]
        for process in processes:
            process.start()
        env = {**os.environ, **config}
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "jomreskit"), "worker",
             "--concurrency", str(args.concurrency)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ask(command: str) -> Any:
            here.send(command)
            return here.recv()

        try:
            assert here.recv() == "ready"
            harness.wait_until_up(site_port, "/api/")
            fire = firing(config)
            expected = args.events * args.services

            def round_of(whole_loop: bool) -> float:
                ask("fetch on" if whole_loop else "fetch off")
                ask("reset")
                committed = fire(args.events)
                what = "fetched" if whole_loop else "received"
                deadline = time.time() + 300
                while True:
                    stats = ask("stats")
                    if stats[what] >= expected or time.time() > deadline:
                        break
                    time.sleep(0.01)
                if stats[what] < expected or stats["bad"]:
                    raise SystemExit(f"round incomplete: {stats} of {expected}")
                return expected / (stats["last"] - committed)

            round_of(True)  # warm up: connections, tokens, statement caches
            delivery: list[float] = []
            whole: list[float] = []
            for number in range(args.rounds):
                for whole_loop in ((False, True) if number % 2 == 0 else (True, False)):
                    (whole if whole_loop else delivery).append(round_of(whole_loop))
            ratio = statistics.median(w / d for w, d in zip(whole, delivery, strict=True))
            dialect = sa.make_url(url).get_backend_name()
            print(f"\n== {dialect}: {args.services} services, {args.events} events a round "
                  f"({expected} notifications); worker {args.concurrency} threads; site "
                  f"waitress {args.threads} threads; {args.rounds} rounds of each")
            print(f"delivery alone        {statistics.median(delivery):7.0f} notifications/s "
                  "(fired -> delivered, verified)")
            print(f"whole loop            {statistics.median(whole):7.0f} notifications/s "
                  "(fired -> delivered -> record fetched)")
            print(f"ratio whole / delivery   {ratio:.2f}  (target >= 0.4 on PostgreSQL)")
        finally:
            worker.terminate()
            worker.wait(30)
            here.send("stop")
            for process in processes:
                process.terminate()
                process.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--services", type=int, default=4)
    parser.add_argument("--events", type=int, default=250, help="events fired a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads")
    parser.add_argument("--threads", type=int, default=8, help="site waitress threads")
    args = parser.parse_args()
    harness.print_machine(" (site, worker, services and database share them)")
    harness.on_databases(args, measure)


if __name__ == "__main__":
    main()
