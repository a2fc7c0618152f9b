"""`jomreskit demo`: the REST API & webhook case study, end to end, in one process.

A fresh site is set up and seeded; the manager gets an API key (scope ``webhooks_get``) and a
webhook (auth method ``basic``) pointing at the simulation responder; the API, its delivery
worker and the responder start on loopback; ``booking_modified`` is fired for Fawlty Towers
(property 1, contract 41) and the story is told as it happens: the notification sent, the
responder's credential and signature checks, its token, its callback and the booking it read.
When the site offers the event feed (api_feature_events), the key also gets ``events_get`` and
the responder then catches up on the feed as ``jomreskit responder --follow`` does: every event
since its key's acknowledged cursor, each callback read, the new cursor stored.

The core imports no plugin: keys and webhooks are made through the CLI commands their plugins
register (`keys create`, `webhooks create`), with the JSON output the design promises, and the
feed is read over HTTP, as a remote service reads it; whether the site has it is told by the
scope it registers.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from werkzeug.serving import BaseWSGIServer, make_server

from . import responder as remote
from .core.domain import demo as demo_data
from .core.errors import JomresKitError
from .core.kit import Kit, get_kit

SiteFactory = Callable[[dict[str, Any]], Any]  # jomreskit.create_app

MARKER = ".jomreskit-demo"
DEMO_TABLE = "jomreskit_demo"  # marks a database the demo made, as MARKER marks its folder
NEEDED_PLUGINS = {
    "api_core": "jomreskit-api-core",
    "api_feature_webhooks": "jomreskit-api-feature-webhooks",
    "webhooks_core": "jomreskit-webhooks-core",
    "authmethod_basic": "jomreskit-authmethod-basic",
}
FEED_SCOPE = "events_get"  # registered by api_feature_events, with GET /events
EVENT = "booking_modified"
IDS = {"property_uid": 1, "contract_uid": 41}
MANAGER = "manager"
TIME_LIMIT = 30.0


@dataclass
class Options:
    """How to run the case study."""

    folder: Path
    database_url: str | None = None  # None: SQLite in ``folder``
    host: str = "127.0.0.1"
    port: int = 8000
    responder_port: int = 0
    once: bool = False
    syslog: tuple[str, int] | None = None
    time_limit: float = TIME_LIMIT


@dataclass
class Outcome:
    """What the responder did with the notification, step by step."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    ok: bool = False
    problem: str = ""


class Narrator:
    """Numbers the story's lines; safe to call from the servers' threads."""

    def __init__(self, echo: Callable[[str], Any]) -> None:
        self.echo = echo
        self.count = 0
        self.lock = threading.Lock()

    def say(self, who: str, text: str, detail: str | None = None) -> None:
        with self.lock:
            self.count += 1
            self.echo(f"{self.count:>2}. {who:<10}{text}")
            if detail:
                for line in detail.splitlines():
                    self.echo(f"{'':14}{line}")


class LateApp:
    """A WSGI app filled in after its server is bound (the webhook needs the server's URL,
    the responder needs the webhook's secret)."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.app(environ, start_response)


def run(
    options: Options, create_app: SiteFactory, echo: Callable[[str], Any] = print
) -> bool:
    """Tell the case study on sites ``create_app`` builds. With ``options.once``, stop after the
    first round trip and return whether every step worked; otherwise serve until interrupted.

    The factory is handed in rather than imported: the case-study tools sit beside the site
    assembly, which offers them as commands, and import only the core.
    """
    started = time.monotonic()
    story = Narrator(echo)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the story says what happened
    echo("The case study: a booking changes at Fawlty Towers; the channel manager's gateway "
         "hears of it and reads the booking back.\n")
    folder = fresh_folder(options.folder)
    database_url = options.database_url or f"sqlite:///{folder / 'jomreskit.db'}"
    if options.database_url:
        fresh_database(database_url)
    app = set_up_site(create_app, {
        "JOMRESKIT_INSTANCE_PATH": str(folder),
        "JOMRESKIT_DATABASE_URL": database_url,
        "JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the responder is on loopback
    })
    kit = get_kit(app)
    with app.app_context(), contextlib.ExitStack() as cleanup:
        cleanup.callback(kit.engine.dispose)
        cleanup.callback(kit.session.remove)
        missing = [f"{name} (pip install {dist})" for name, dist in NEEDED_PLUGINS.items()
                   if name not in kit.loaded.names]
        if missing:
            raise JomresKitError("the case study needs the plugins " + ", ".join(missing))
        story.say("Site", f"set up in {folder}", f"database: {_shown_url(database_url)}")
        with kit.transaction():
            seeded = demo_data.seed(kit)
        contract = next(c for c in seeded["contracts"] if c["contract_uid"] == 41)
        story.say("Site", "seeded the demo: Fawlty Towers (property 1), Best West Hotel "
                  "(property 2), manager \"manager\" runs both",
                  f"contract 41 at Fawlty Towers: {_short_contract(contract)}")

        api_server = listen(options.host, options.port, app)
        responder_app = LateApp()
        responder_server = listen(options.host, options.responder_port, responder_app)
        site_url = f"http://{options.host}:{api_server.server_port}"
        responder_url = f"http://{options.host}:{responder_server.server_port}/"
        kit.settings["JOMRESKIT_BASE_URL"] = site_url
        api_url = site_url + kit.settings["JOMRESKIT_API_PREFIX"].rstrip("/")

        # The feed is optional: the demo shows it when the site offers it.
        feed = FEED_SCOPE in kit.scopes
        scopes = ["webhooks_get", FEED_SCOPE] if feed else ["webhooks_get"]
        key = run_command(kit, "keys", "create", "--manager", MANAGER,
                          *(arg for scope in scopes for arg in ("--scope", scope)), "--json")
        story.say("Manager", f"created an API key with scope {' and '.join(scopes)} (the "
                  "secret is shown once)", f"client_id {key['client_id']}\n"
                  f"client_secret {key['client_secret']}")
        username, password = "channel-manager", secrets.token_urlsafe(12)
        webhook = run_command(kit, "webhooks", "create", "--manager", MANAGER,
                              "--url", responder_url, "--authmethod", "basic",
                              "--setting", f"username={username}",
                              "--setting", f"password={password}", "--json")
        story.say("Manager", f"created webhook {webhook['id']} to the responder at "
                  f"{responder_url}", f"auth method basic (user {username}), signing secret "
                  f"{webhook['secret'][:12]}...")

        log_path = folder / "responder.jsonl"
        log = remote.StepLog(path=log_path, syslog=options.syslog)
        cleanup.callback(log.close)
        responder_config = remote.ResponderConfig(
            api_url=api_url, client_id=key["client_id"], client_secret=key["client_secret"],
            signing_secret=webhook["secret"], username=username, password=password)
        responder_app.app = remote.make_app(responder_config, log)
        outcome = Outcome()
        log.listeners.append(lambda record: follow(record, outcome, story))

        for server in (api_server, responder_server):
            cleanup.enter_context(serving(server))
        services = kit.hooks.background_services(kit=kit)
        for service in services:
            service.start()
            cleanup.callback(service.stop)
        story.say("Site", f"API on {api_url} with a delivery worker; responder on "
                  f"{responder_url} (log: {log_path})")

        with kit.transaction():
            event = kit.fire(EVENT, **IDS)
        story.say("Site", f"fired {EVENT} property_uid=1 contract_uid=41 (event {event.id}); "
                  "the worker delivers it")

        deadline = started + options.time_limit
        while not outcome.done and time.monotonic() < deadline:
            time.sleep(0.05)
        if outcome.ok:
            delivery = wait_for_delivery(kit, webhook["id"], deadline)
            if delivery:
                story.say("Site", f"delivery {delivery['id']} ({delivery.get('msg_id')}) "
                          f"{delivery['status']}: the responder answered "
                          f"{delivery.get('last_status_code')} at attempt "
                          f"{delivery.get('attempts')}")
            else:
                outcome.ok, outcome.problem = False, "the site never saw the delivery succeed"
        elif not outcome.done:
            outcome.problem = (f"no round trip within {options.time_limit:.0f} s "
                               f"(last step: {_last_step(outcome)})")
        if outcome.ok and feed:
            outcome.problem = catch_up(responder_config, log, story, event.id, deadline)
            outcome.ok = not outcome.problem

        echo("")
        if outcome.ok:
            echo(f"Round trip complete in {time.monotonic() - started:.1f} s: the responder "
                 "verified the notification, took a token and read booking 41"
                 + (", then caught up on the event feed." if feed else "."))
        else:
            echo(f"The round trip FAILED: {outcome.problem}")
        if options.once:
            return outcome.ok
        # Events fired by another process build their callback_url from the site's address.
        environment = {"JOMRESKIT_INSTANCE_PATH": str(folder), "JOMRESKIT_BASE_URL": site_url}
        if options.database_url:
            environment["JOMRESKIT_DATABASE_URL"] = database_url
        console = kit.settings.get("JOMRESKIT_CONSOLE_PREFIX")
        feed_env = None
        if feed:  # what `jomreskit responder --follow` reads from JOMRESKIT_RESPONDER_*
            feed_env = write_env_file(folder / "responder.env", {
                "JOMRESKIT_RESPONDER_API_URL": api_url,
                "JOMRESKIT_RESPONDER_CLIENT_ID": key["client_id"],
                "JOMRESKIT_RESPONDER_CLIENT_SECRET": key["client_secret"]})
        tell_how_to_go_on(echo, environment, api_url, responder_url, log_path,
                          console=f"{site_url}{console}/" if console else None,
                          feed_env=feed_env)
        wait_for_interrupt()
        echo("Stopping the site, its worker and the responder.")
    return outcome.ok


def set_up_site(create_app: SiteFactory, config: dict[str, Any]) -> Any:
    """Upgrade the database (which builds the plugin registry), then start the site from it,
    as `jomreskit db upgrade` followed by `jomreskit serve` would."""
    first = create_app(config)  # its start-up warnings are logged only if it serves: it does not
    kit = get_kit(first)
    with first.app_context():
        kit.upgrade_database(report=lambda _message: None)
    kit.session.remove()
    kit.engine.dispose()
    return create_app(config)


def follow(record: dict[str, Any], outcome: Outcome, story: Narrator) -> None:
    """Tell one responder step, and judge the round trip from the steps so far."""
    outcome.steps.append(record)
    step, ok = record["step"], record["ok"]
    if step == "received":
        story.say("Site", f"sent the notification: POST with "
                  f"{', '.join(record.get('headers', {}))}",
                  json.dumps(record.get("body"), indent=2))
        story.say("Responder", record["message"])
    elif step == "callback" and "answer" in record:
        story.say("Responder", record["message"] + ":", json.dumps(record["answer"], indent=2))
    else:
        story.say("Responder", ("" if ok else "FAILED: ") + record["message"])
    if outcome.done:
        return
    if not ok:
        outcome.done, outcome.problem = True, f"{step}: {record['message']}"
    elif step == "callback":
        data = (record.get("answer") or {}).get("data") or {}
        outcome.done = True
        outcome.ok = record.get("status") == 200 and data.get("contract_uid") == 41
        if not outcome.ok:
            outcome.problem = f"the callback did not return booking 41 ({record['message']})"


@dataclass
class FeedRead:
    """What the responder read from the event feed, as it goes, until it has read the event the
    demo fired and acknowledged it."""

    fired: int
    lines: list[str] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    pending: str = ""  # the event read last, told with its callback's answer
    cursor: str = ""
    problem: str = ""


def catch_up(config: remote.ResponderConfig, log: remote.StepLog, story: Narrator,
             fired: int, deadline: float) -> str:
    """The responder reads the event feed as `jomreskit responder --follow` does (the same
    code): every event since its key's acknowledged cursor, each callback fetched, then the new
    cursor acknowledged. Stops once the event the demo fired was read and acknowledged (on
    PostgreSQL another transaction on the server may hold it back for a moment); returns the
    problem, or "" when every step worked."""
    story.say("Responder", "follows the event feed too (jomreskit responder --follow): reads "
              "what happened since its key's acknowledged cursor (none yet: from the oldest "
              "event kept)")
    read = FeedRead(fired)
    stop = threading.Event()
    # The webhook round is over: for now the responder's log tells the feed's story.
    listeners, log.listeners = log.listeners, [lambda record: tell_feed(record, read, stop)]
    give_up = threading.Timer(max(0.0, deadline - time.monotonic()), stop.set)
    give_up.start()
    try:
        remote.follow(config, log, stop, wait=1)
    except remote.FeedRefused:
        pass  # told by its failed step, as read.problem
    finally:
        give_up.cancel()
        log.listeners = listeners
    if read.lines:
        story.say("Responder", f"read {len(read.event_ids)} events, oldest first, and fetched "
                  "each callback:", "\n".join(read.lines))
    if read.problem:
        story.say("Responder", f"FAILED: {read.problem}")
        return f"event feed: {read.problem}"
    if not read.cursor:
        return "event feed: nothing acknowledged in time"
    if fired not in read.event_ids:
        return f"event feed: event {fired} was not read in time"
    story.say("Responder", f"acknowledged cursor {read.cursor} (PUT /events/cursor): its key "
              "resumes from there after a restart")
    return ""


def tell_feed(record: dict[str, Any], read: FeedRead, stop: threading.Event) -> None:
    """Collect one step of the feed follower as a line of the story; stop it once it has
    acknowledged the fired event, or at its first failure."""
    step = record["step"]
    if not record["ok"]:
        read.problem = f"{step}: {record['message']}"
        stop.set()
    elif step == "received":
        event = record.get("body") or {}
        ids = " ".join(f"{k}={v}" for k, v in (event.get("ids") or {}).items())
        read.event_ids.append(event.get("id"))
        read.pending = f"event {event.get('id'):>3} {event.get('type')} {ids}"
        read.lines.append(read.pending + ": no callback")
    elif step == "callback":
        read.lines[-1] = f"{read.pending}: GET answered {record.get('status')}"
    elif step == "acknowledged":
        read.cursor = record.get("cursor", "")
        if read.fired in read.event_ids:
            stop.set()


def wait_for_delivery(kit: Kit, webhook_id: Any, deadline: float) -> dict[str, Any] | None:
    """The site's own record of the delivery, once it says the delivery succeeded."""
    while True:
        rows = run_command(kit, "deliveries", "list", "--json")
        for row in rows:
            if str(row.get("webhook_id")) == str(webhook_id) and row.get("status") == "succeeded":
                return row
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def run_command(kit: Kit, *args: str) -> Any:
    """Run a `jomreskit` command of this site (a plugin's, usually) and parse its JSON output."""
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            kit.cli.main(args=list(args), prog_name="jomreskit", standalone_mode=False)
    except click.ClickException as exc:
        raise JomresKitError(f"`jomreskit {' '.join(args[:2])}` failed: "
                             f"{exc.format_message()}") from None
    try:
        return json.loads(output.getvalue())
    except ValueError:
        raise JomresKitError(f"`jomreskit {' '.join(args[:2])}` did not print JSON: "
                             f"{output.getvalue()[:200]!r}") from None


def fresh_folder(folder: Path) -> Path:
    """An empty instance folder for the demo, wiping an earlier demo's (and nothing else)."""
    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise JomresKitError(f"{folder} is not empty and was not made by `jomreskit demo`; "
                                 "choose another --folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `jomreskit demo`; wiped by its next run\n")
    return folder


def fresh_database(url: str) -> None:
    """An empty database for the demo at ``url``, dropping an earlier demo's tables (and
    nothing else): each run is a fresh site, whose key file (made anew in the fresh folder)
    matches the secrets it stores. A database or schema holding other tables is refused, as a
    folder is."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        tables = sa.inspect(engine).get_table_names()
        if tables and DEMO_TABLE not in tables:
            raise JomresKitError(
                f"the database {_shown_url(url)} has tables not made by `jomreskit demo` "
                f"({', '.join(sorted(tables)[:3])}{', ...' if len(tables) > 3 else ''}); give "
                "the demo an empty database or schema in JOMRESKIT_DATABASE_URL")
        earlier = sa.MetaData()
        earlier.reflect(bind=engine)
        earlier.drop_all(bind=engine)
        marker = sa.MetaData()
        sa.Table(DEMO_TABLE, marker, sa.Column("note", sa.Text))
        marker.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(marker.tables[DEMO_TABLE].insert().values(
                note="made by `jomreskit demo`; its tables are dropped by its next run"))
    finally:
        engine.dispose()


def listen(host: str, port: int, app: Any) -> BaseWSGIServer:
    """A threaded server bound to ``host:port`` (0: any free port), not serving yet.

    A port in use ends the command with werkzeug's own clear message and exit status 1.
    """
    return make_server(host, port, app, threaded=True)


@contextlib.contextmanager
def serving(server: BaseWSGIServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def write_env_file(path: Path, variables: dict[str, str]) -> Path:
    """A shell file of ``export`` lines, readable by its owner only (it holds a secret)."""
    path.touch(mode=0o600)
    path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in variables.items()))
    return path


def tell_how_to_go_on(echo: Callable[[str], Any], environment: dict[str, str], api_url: str,
                      responder_url: str, log_path: Path, console: str | None = None,
                      feed_env: Path | None = None) -> None:
    command = "jomreskit"
    here = Path(sys.executable).parent / "jomreskit"
    if here.exists() and shutil.which("jomreskit") != str(here):
        command = str(here)  # the virtualenv is not activated: name the script in full
    console_line = (f"\n  console    {console} (sign in as manager, password manager)"
                    if console else "")
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in environment.items())
    echo(f"""
The site and the responder keep running (Ctrl-C to stop).
  API        {api_url}{console_line}
  responder  {responder_url}
  logs       {log_path} (one JSON object per responder step)

In another terminal, point the command line at the demo site:
  export {exports}
then fire more events (the story goes on here) and see what the site sent:
  {command} events fire booking_cancelled property_uid=1 contract_uid=41
  {command} events fire guest_updated property_uid=1 guest_uid=1
  {command} events fire booking_modified property_uid=1 contract_uid=999
  {command} deliveries list
and read the responder's log:
  tail -f {log_path}
""")
    if feed_env:
        echo(f"""Follow the event feed from where the responder left off, with the demo key's
client id and secret ({feed_env.name} holds them as JOMRESKIT_RESPONDER_* variables):
  . {shlex.quote(str(feed_env))}
  {command} responder --follow
""")


def wait_for_interrupt() -> None:
    """Until Ctrl-C or SIGTERM; then the caller stops the servers and the worker."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _shown_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _short_contract(contract: dict[str, Any]) -> str:
    keys = ("arrival", "departure", "contract_total")
    return ", ".join(f"{k} {contract[k]}" for k in keys if k in contract) or "booked"


def _last_step(outcome: Outcome) -> str:
    if not outcome.steps:
        return "nothing reached the responder"
    last = outcome.steps[-1]
    return f"{last['step']}: {last['message']}"


def default_folder(instance: str | os.PathLike[str]) -> Path:
    """Where the demo's site lives: ``<instance>/demo``."""
    return Path(instance) / "demo"


def parse_syslog(value: str | None) -> tuple[str, int] | None:
    return remote.parse_syslog_address(value) if value else None

