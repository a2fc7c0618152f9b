"""The `jomreskit` command line (also `flask jomreskit`). Plugins add commands through
``register_commands``; errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import has_app_context
from flask.cli import ScriptInfo
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .core.db import timestamp_text
from .core.errors import JomresKitError, ValidationError
from .core.events import MAX_ID
from .core.kit import get_kit
from .core.metrics import serve_metrics as serve_metrics  # for plugins' long-running commands

if TYPE_CHECKING:
    from .core.kit import Kit

log = logging.getLogger("jomreskit")



class _WholeNumberRange(click.IntRange):
    """click's IntRange, named for what a user types ("'abc' is not a whole number."), not
    "is not a valid integer range"."""

    name = "whole number"

    def fail(self, message: str, param: click.Parameter | None = None,
             ctx: click.Context | None = None) -> Any:
        super().fail(message.replace("a valid whole number", "a whole number"), param, ctx)


# The type of every id a command takes: a whole number that can name a row (1 to MAX_ID).
ID = _WholeNumberRange(1, MAX_ID)
# A TCP port to listen on; 0 lets the system choose a free one.
PORT = _WholeNumberRange(0, 65535)


def pass_kit(f: Callable[..., Any] | None = None, *, before_setup: bool = False) -> Any:
    """Give a command the running Kit as its first argument.

    Under `jomreskit` the app context is already pushed; under `flask jomreskit` it is pushed
    here from Flask's ScriptInfo, as ``flask.cli.with_appcontext`` does. A command refuses
    to run, naming the command that sets the database up, until that is done
    (``before_setup=True``: it works before, as `db upgrade` itself does).
    """
    if f is None:
        return functools.partial(pass_kit, before_setup=before_setup)

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not has_app_context():
            ctx = click.get_current_context()
            ctx.with_resource(ctx.ensure_object(ScriptInfo).load_app().app_context())
        kit = get_kit()
        if kit.not_ready and not before_setup:
            raise JomresKitError(kit.not_ready)
        return f(kit, *args, **kwargs)

    return wrapper


def as_invoked(message: str) -> str:
    """``message`` with the commands it names written as this run was invoked: under
    `flask --app portal jomreskit ...`, "`jomreskit db upgrade`" becomes
    "`flask --app portal jomreskit db upgrade`"."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    if root is None or root.info_name != "flask":
        return message
    info = root.obj if isinstance(root.obj, ScriptInfo) else None
    app_path = info.app_import_path if info is not None else None
    prefix = f"flask --app {app_path} jomreskit" if app_path else "flask jomreskit"
    return message.replace("`flask jomreskit ", f"`{prefix} ").replace(
        "`jomreskit ", f"`{prefix} ")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def echo_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as aligned columns; lists are joined with commas."""

    def cell(value: Any) -> str:
        if isinstance(value, list | tuple):
            return ",".join(str(v) for v in value)
        if isinstance(value, datetime):
            return timestamp_text(value)
        return "" if value is None else str(value)

    table = [[c.upper() for c in columns]] + [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    for row in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def parse_pairs(pairs: Iterable[str], what: str = "argument") -> dict[str, Any]:
    """``k=v`` words as a dict; values that are whole numbers become integers."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"{what} {pair!r} is not of the form key=value")
        if key in result:
            raise ValidationError(f"{what} {key} is given twice ({result[key]} and {value}); "
                                  "give it once")
        result[key] = int(value) if value.lstrip("-").isdigit() else value
    return result


class KitGroup(click.Group):
    """The root group: turns known errors into one clear line, and says why plugin commands
    are missing while the database is not set up."""

    def __init__(self, kit: Kit, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.not_ready = kit.not_ready

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if self.not_ready and args and self.get_command(ctx, args[0]) is None:
            raise click.UsageError(as_invoked(
                f"no command {args[0]!r}: plugin commands (webhooks, keys, ...) are not "
                f"loaded because {self.not_ready}"
            ), ctx)
        return super().resolve_command(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        if self.not_ready:
            formatter.write_paragraph()
            formatter.write_text(as_invoked(
                f"Plugin commands (webhooks, keys, ...) are not loaded because "
                f"{self.not_ready}."
            ))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JomresKitError as exc:
            raise click.ClickException(as_invoked(exc.message)) from None
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(f"database error: {reason}") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`jomreskit ... | head`): stop quietly, as Unix tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:  # a bug: one line for the user, the traceback to the log
            log.debug("command failed", exc_info=True)
            raise click.ClickException(f"unexpected error: {type(exc).__name__}: {exc}") from None


def make_cli(kit: Kit) -> click.Group:
    """The `jomreskit` group with the core's commands and every loaded plugin's."""
    cli = KitGroup(kit, name="jomreskit",
                   help="jomreskit: REST API and webhooks for a booking portal.")
    click.version_option(_version(), "--version", prog_name="jomreskit",
                         message="%(prog)s %(version)s")(cli)
    for command in (db, plugins_group, users, events, demo, serve, responder, settings_command,
                    version):
        cli.add_command(command)
    kit.hooks.register_commands(cli=cli)
    return cli


def _version() -> str:
    from . import __version__

    return __version__


@click.command()
@click.pass_context
def version(ctx: click.Context) -> None:
    """The version of jomreskit (as --version), and of each loaded plugin."""
    click.echo(f"jomreskit {_version()}")
    kit = get_kit()
    if kit.not_ready:
        click.echo(as_invoked(f"plugins: not loaded because {kit.not_ready}"))
        return
    from .core import registry

    with kit.session() as session:
        rows = registry.read(session)
    for row in rows:
        if row["name"] in kit.loaded.names:
            click.echo(f"{row['name']} {row['version']}")


# -- db ------------------------------------------------------------------------------------


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_kit(before_setup=True)
def db_upgrade(kit: Kit) -> None:
    """Apply the core's and every enabled plugin's migrations; build the registry if new."""
    kit.upgrade_database(report=click.echo)


@db.command("revision")
@click.option("--plugin", "plugin_name", required=True, help="Whose migrations folder to write to.")
@click.option("-m", "--message", required=True)
@pass_kit(before_setup=True)
def db_revision(kit: Kit, plugin_name: str, message: str) -> None:
    """Write a migration with what the models have that the database lacks (for plugin authors)."""
    from .core import migrate

    folders = dict(kit.hooks.register_migrations())
    if plugin_name not in folders:
        raise ValidationError(f"plugin {plugin_name!r} is not loaded or ships no migrations")
    path = migrate.write_revision(kit.engine, folders[plugin_name], message)
    click.echo(path or "nothing to write: the database matches the models")


# -- plugins -------------------------------------------------------------------------------


@click.group("plugins")
def plugins_group() -> None:
    """Installed plugins and the registry."""


PLUGIN_COLUMNS = ("name", "version", "source", "enabled", "hooks", "error")
FOLLOWED = ("running sites and workers pick the change up within seconds (pages, API routes "
            "and request handlers of a newly loaded plugin appear after a restart)")


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def plugins_list(kit: Kit, as_json: bool) -> None:
    """Plugins in the registry: name, version, source, hooks, enabled, error."""
    from .core import registry

    if not registry.exists(kit.engine):
        raise JomresKitError("the database is not set up: run `jomreskit db upgrade`")
    with kit.session() as session:
        rows = registry.read(session)
    for row in rows:
        if row["enabled"] and not row["error"] and row["name"] in kit.loaded.problems:
            row["error"] = kit.loaded.problems[str(row["name"])]
        row["loaded"] = row["name"] in kit.loaded.names
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, PLUGIN_COLUMNS)
        for warning in kit.warnings:
            click.echo(as_invoked(f"warning: {warning}"), err=True)


@plugins_group.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit(before_setup=True)
def plugins_rebuild(kit: Kit, as_json: bool) -> None:
    """Discover, validate and record every installed plugin, then apply their migrations."""
    from .core import registry

    kit.upgrade_database(report=click.echo, rebuild=True)
    with kit.session() as session:
        rows = registry.read(session)
    if as_json:
        echo_json(rows)
        return
    echo_table(rows, PLUGIN_COLUMNS)
    broken = [r["name"] for r in rows if r["error"]]
    click.echo(
        f"{len(rows)} plugins found, {len(broken)} with errors"
        + (f" ({', '.join(map(str, broken))})" if broken else "")
    )
    click.echo(FOLLOWED[0].upper() + FOLLOWED[1:])


@plugins_group.command("enable")
@click.argument("name")
@pass_kit
def plugins_enable(kit: Kit, name: str) -> None:
    """Enable a plugin (its requirements must be enabled)."""
    kit.set_plugin_enabled(name, True)
    kit.upgrade_database(report=click.echo)
    click.echo(f"enabled {name}; {FOLLOWED}")


@plugins_group.command("disable")
@click.argument("name")
@pass_kit
def plugins_disable(kit: Kit, name: str) -> None:
    """Disable a plugin without uninstalling it (refused while an enabled plugin requires it)."""
    kit.set_plugin_enabled(name, False)
    click.echo(f"disabled {name}; {FOLLOWED}")


# -- users ---------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Managers and super managers."""


def read_password(from_stdin: bool, prompt: bool, given: str | None = None) -> str | None:
    """A password from one line of stdin, from a hidden prompt (asked twice), or as given."""
    if sum((from_stdin, prompt, given is not None)) > 1:
        raise ValidationError("give the password one way: --password, --password-stdin or a prompt")
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif prompt:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        return given
    if not password:
        raise ValidationError("the password is empty")
    return password


@users.command("create")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(["manager", "super"]), default="manager", show_default=True
)
@click.option(
    "--property",
    "property_uids",
    type=ID,
    multiple=True,
    help="A property the manager runs (repeat for more).",
)
@click.option("--email", default="")
@click.option("--password-stdin", is_flag=True,
              help="Read the console password from the first line of stdin.")
@click.option("--password-prompt", is_flag=True,
              help="Ask for the console password (hidden, twice).")
@click.option("--password", default=None,
              help="The console password itself (stays in shell history: prefer the above).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def users_create(
    kit: Kit,
    username: str,
    role: str,
    property_uids: tuple[int, ...],
    email: str,
    password_stdin: bool,
    password_prompt: bool,
    password: str | None,
    as_json: bool,
) -> None:
    """Create a manager (linked to --property UIDs) or a super manager.

    Without a password the user cannot sign in to the web console until
    `jomreskit users set-password` gives them one.
    """
    from .core.domain import services

    password = read_password(password_stdin, password_prompt, password)
    with kit.transaction():
        user = services.create_user(
            kit, username, role=role, email=email, password=password, property_uids=property_uids
        )
        result = user.record()
    if as_json:
        echo_json(result)
    else:
        click.echo(f"created {role} {username} (manager_id {result['manager_id']})")


@users.command("set-password")
@click.argument("manager")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin instead of asking.")
@pass_kit
def users_set_password(kit: Kit, manager: str, password_stdin: bool) -> None:
    """Set MANAGER's console password (a username or id); their open sessions end.

    Asks for it (hidden, twice) unless --password-stdin.
    """
    from .core.domain import services

    password = read_password(password_stdin, not password_stdin)
    with kit.transaction():
        user = services.find_manager(kit, manager)
        services.update_user(kit, user.manager_id, password=password)
        username = user.username
    click.echo(f"password set for {username}; their console sessions were ended")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def users_list(kit: Kit, as_json: bool) -> None:
    """Every user with the properties they run."""
    from .core.domain.models import User

    with kit.transaction() as session:
        rows = [u.record() for u in session.scalars(select(User).order_by(User.manager_id))]
    echo_json(rows) if as_json else echo_table(
        rows, ("manager_id", "username", "role", "email", "property_uids")
    )


# -- events --------------------------------------------------------------------------------


@click.group()
def events() -> None:
    """The event catalog, and firing events by hand."""


@events.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def events_list(kit: Kit, as_json: bool) -> None:
    """Every event type the loaded plugins can fire, with its id fields and whether it is a
    notice to the manager it names (the event feed shows it to them)."""
    rows = [
        {"name": t.name, "id_fields": list(t.id_fields), "for_manager": t.for_manager,
         "description": t.description}
        for t in kit.catalog
    ]
    echo_json(rows) if as_json else echo_table(
        rows, ("name", "id_fields", "for_manager", "description"))


@events.command("fire")
@click.argument("event")
@click.argument("ids", nargs=-1, metavar="K=V...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def events_fire(kit: Kit, event: str, ids: tuple[str, ...], as_json: bool) -> None:
    """Fire EVENT with its ids, as the site would (a fake webhook call).

    Example: jomreskit events fire booking_modified property_uid=1 contract_uid=41
    """
    with kit.transaction():
        fired = kit.fire(event, **parse_pairs(ids, "id"))
    result = {
        "id": fired.id,
        "name": fired.name,
        "ids": dict(fired.ids),
        "timestamp": timestamp_text(fired.timestamp),
        "outcomes": fired.outcomes,
    }
    if as_json:
        echo_json(result)
    else:
        said = "".join(f"; {outcome}" for outcome in fired.outcomes)
        click.echo(f"fired {fired.name} {dict(fired.ids)} (event {fired.id}){said}")


# -- demo ----------------------------------------------------------------------------------


@click.group(invoke_without_command=True)
@click.option(
    "--once",
    is_flag=True,
    help="Stop after the first round trip; exit 0 only if every step worked.",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=PORT,
    help="The API's port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--folder",
    type=click.Path(file_okay=False),
    help="The demo site's instance folder, wiped first [default: <instance>/demo]",
)
@click.option("--syslog", help="Also send the responder's log to syslog (HOST:PORT, UDP).")
@click.pass_context
def demo(ctx: click.Context, once: bool, port: int, folder: str | None, syslog: str | None) -> None:
    """The case study end to end, or (with a subcommand) the demo data set.

    Without a subcommand: set up a fresh site, seed it, give the manager an API key and a
    webhook to the simulation responder, start the API, a worker and the responder on
    loopback, fire booking_modified for Fawlty Towers and tell what happens.
    """
    if ctx.invoked_subcommand is not None:
        return
    from . import casestudy
    from .site import create_app

    kit = get_kit()
    instance = kit.settings["JOMRESKIT_INSTANCE_PATH"]
    configured = kit.settings["JOMRESKIT_DATABASE_URL"]
    # The site's own database when one was configured, else SQLite in the demo's folder.
    default = f"sqlite:///{os.path.join(instance, 'jomreskit.db')}"
    options = casestudy.Options(
        folder=casestudy.default_folder(instance) if folder is None else Path(folder),
        database_url=None if configured == default else configured,
        port=port,
        once=once,
        syslog=casestudy.parse_syslog(syslog),
    )
    if not casestudy.run(options, create_app, echo=click.echo):
        ctx.exit(1)


@demo.command("seed")
@click.option("--json", "as_json", is_flag=True, help="Print every id as JSON.")
@pass_kit
def demo_seed(kit: Kit, as_json: bool) -> None:
    """Create the demo data where missing: Fawlty Towers (1), Best West Hotel (2), their people."""
    from .core.domain import demo as demo_data

    with kit.transaction():
        result = demo_data.seed(kit)
    if as_json:
        echo_json(result)
        return
    for kind, rows in result.items():
        click.echo(f"{kind}: {len(rows)}")


# -- serve ---------------------------------------------------------------------------------


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=PORT, help="0: any free port.")
@click.option("--no-worker", is_flag=True, help="Leave deliveries to separate `jomreskit worker`s.")
@click.option("--threads", default=8, show_default=True, type=int)
@pass_kit(before_setup=True)
def serve(kit: Kit, host: str, port: int, no_worker: bool, threads: int) -> None:
    """Serve the site with waitress; background services (the webhook worker) run beside it.

    Refuses to start on a database that is not set up or cannot be reached: the site would
    have no tables to answer from and no plugins loaded.
    """
    import waitress.server

    from .core import site_address

    if kit.not_ready:
        raise JomresKitError(f"cannot serve: {kit.not_ready}")
    kit.secret_key  # noqa: B018  an unreadable key file is said now, not at the first request
    try:  # bind before announcing anything, so a taken port is the one thing said
        server = waitress.server.create_server(kit.app, host=host, port=port, threads=threads)
    except OSError as exc:
        reason = (f"port {port} is already in use" if exc.errno == errno.EADDRINUSE
                  else exc.strerror or str(exc))
        raise JomresKitError(f"cannot listen on {host}:{port}: {reason}") from None
    port = getattr(server, "effective_port", port)  # the port chosen, for --port 0
    if not kit.settings.get("JOMRESKIT_BASE_URL"):
        kit.settings["JOMRESKIT_BASE_URL"] = f"http://{host}:{port}"
    site_address.record(kit.engine, kit.settings["JOMRESKIT_BASE_URL"])  # for other processes
    for warning in kit.warnings:
        click.echo(as_invoked(f"warning: {warning}"), err=True)
    services = [] if no_worker else kit.hooks.background_services(kit=kit)
    for service in services:
        service.start()
    click.echo(f"serving on http://{host}:{port} (Ctrl-C to stop)")
    try:
        server.run()
    finally:
        server.close()
        for service in services:
            service.stop()


# -- settings ------------------------------------------------------------------------------


@click.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit(before_setup=True)
def settings_command(kit: Kit, as_json: bool) -> None:
    """Every JOMRESKIT_* setting of the core and the loaded plugins, with its default
    (docs/settings.md lists every installed plugin's)."""
    rows = [{"key": s.key, "default": s.default, "description": s.description}
            for s in kit.setting_catalog]
    if as_json:
        echo_json(rows)
    else:
        echo_table([{**r, "default": "(unset)" if r["default"] is None else
                     json.dumps(r["default"])} for r in rows], ("key", "default", "description"))


# -- responder -----------------------------------------------------------------------------


@click.command()
@click.option(
    "--api-url",
    required=True,
    envvar="JOMRESKIT_RESPONDER_API_URL",
    help="The site's API root, e.g. http://127.0.0.1:8000/api",
)
@click.option(
    "--client-id",
    required=True,
    envvar="JOMRESKIT_RESPONDER_CLIENT_ID",
    help="The API key's client id (`jomreskit keys create`).",
)
@click.option(
    "--client-secret",
    required=True,
    envvar="JOMRESKIT_RESPONDER_CLIENT_SECRET",
    help="The API key's client secret.",
)
@click.option(
    "--signing-secret",
    envvar="JOMRESKIT_RESPONDER_SIGNING_SECRET",
    help="The webhook's whsec_... signing secret (`jomreskit webhooks create`).",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Read the event feed (GET /events, scope events_get) instead of receiving webhooks, "
    "from the key's acknowledged cursor.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=PORT, help="0: any free port.")
@click.option(
    "--username",
    envvar="JOMRESKIT_RESPONDER_USERNAME",
    help="Require these credentials (auth methods basic and oauth).",
)
@click.option("--password", envvar="JOMRESKIT_RESPONDER_PASSWORD")
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False),
    help="The JSON-lines log file [default: <instance>/responder.jsonl]",
)
@click.option("--syslog", help="Also log to this syslog server, RFC 5424 over UDP (HOST:PORT).")
@pass_kit(before_setup=True)
def responder(
    kit: Kit,
    api_url: str,
    client_id: str,
    client_secret: str,
    signing_secret: str | None,
    follow: bool,
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    log_path: str | None,
    syslog: str | None,
) -> None:
    """Run the simulation webhook responder: the remote service's side of the case study.

    It verifies each notification's signature, takes a token with the API key, calls the
    notification's callback_url and logs every step. With --follow it reads the event feed
    instead (api_feature_events), from the key's acknowledged cursor, and acknowledges each
    page it handled. Secrets may also come from the
    JOMRESKIT_RESPONDER_* environment variables named in the options.
    """
    from . import responder as remote

    if not signing_secret and not follow:
        raise click.UsageError("give --signing-secret (or --follow to read the event feed)")
    config = remote.ResponderConfig(
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
        signing_secret=signing_secret or "",
        username=username,
        password=password,
    )
    path = log_path or f"{kit.settings['JOMRESKIT_INSTANCE_PATH']}/responder.jsonl"
    address = remote.parse_syslog_address(syslog) if syslog else None
    log = remote.console_log(path, address)
    if follow:
        click.echo(f"following the event feed of {api_url} (Ctrl-C to stop)")
        try:
            remote.follow(config, log)
        except KeyboardInterrupt:
            pass
        finally:
            log.close()
        return
    remote.run(config, host, port, log, announce=click.echo)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `jomreskit` script."""
    from .site import create_app

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Start-up warnings are for a serving site; commands that care print kit.warnings.
    log.setLevel(logging.ERROR)
    try:
        app = create_app()
    except Exception as exc:
        click.echo(f"Error: cannot start jomreskit: {exc}", err=True)
        sys.exit(1)
    log.setLevel(logging.NOTSET)
    with app.app_context():
        get_kit(app).cli.main(args=argv, prog_name="jomreskit")


if __name__ == "__main__":
    main()
