"""The `jomreskit` command line (also `flask jomreskit`). Plugins add commands through
``register_commands``; errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import has_app_context
from flask.cli import ScriptInfo
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .core.errors import JomresKitError, ValidationError
from .core.kit import get_kit

if TYPE_CHECKING:
    from .core.kit import Kit

log = logging.getLogger("jomreskit")


def pass_kit(f: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the running Kit as its first argument.

    Under `jomreskit` the app context is already pushed; under `flask jomreskit` it is pushed
    here from Flask's ScriptInfo, as ``flask.cli.with_appcontext`` does.
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not has_app_context():
            ctx = click.get_current_context()
            ctx.with_resource(ctx.ensure_object(ScriptInfo).load_app().app_context())
        return f(get_kit(), *args, **kwargs)

    return wrapper


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def echo_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as aligned columns; lists are joined with commas."""

    def cell(value: Any) -> str:
        if isinstance(value, list | tuple):
            return ",".join(str(v) for v in value)
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
        result[key] = int(value) if value.lstrip("-").isdigit() else value
    return result


class KitGroup(click.Group):
    """The root group: turns known errors into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JomresKitError as exc:
            raise click.ClickException(exc.message) from None
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
    cli = KitGroup(name="jomreskit", help="jomreskit: REST API and webhooks for a booking portal.")
    for command in (db, plugins_group, users, events, demo, serve, responder):
        cli.add_command(command)
    kit.hooks.register_commands(cli=cli)
    return cli


# -- db ------------------------------------------------------------------------------------


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_kit
def db_upgrade(kit: Kit) -> None:
    """Apply the core's and every enabled plugin's migrations; build the registry if new."""
    kit.upgrade_database(report=click.echo)


@db.command("revision")
@click.option("--plugin", "plugin_name", required=True, help="Whose migrations folder to write to.")
@click.option("-m", "--message", required=True)
@pass_kit
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
            click.echo(f"warning: {warning}", err=True)


@plugins_group.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
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


@plugins_group.command("enable")
@click.argument("name")
@pass_kit
def plugins_enable(kit: Kit, name: str) -> None:
    """Enable a plugin (its requirements must be enabled)."""
    kit.set_plugin_enabled(name, True)
    kit.upgrade_database(report=click.echo)
    click.echo(f"enabled {name}; restart the site to load it")


@plugins_group.command("disable")
@click.argument("name")
@pass_kit
def plugins_disable(kit: Kit, name: str) -> None:
    """Disable a plugin without uninstalling it (refused while an enabled plugin requires it)."""
    kit.set_plugin_enabled(name, False)
    click.echo(f"disabled {name}; restart the site to unload it")


# -- users ---------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Managers and super managers."""


@users.command("create")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(["manager", "super"]), default="manager", show_default=True
)
@click.option(
    "--property",
    "property_uids",
    type=int,
    multiple=True,
    help="A property the manager runs (repeat for more).",
)
@click.option("--email", default="")
@click.option("--password", default=None, help="For the web console; prompted if --prompt.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def users_create(
    kit: Kit,
    username: str,
    role: str,
    property_uids: tuple[int, ...],
    email: str,
    password: str | None,
    as_json: bool,
) -> None:
    """Create a manager (linked to --property UIDs) or a super manager."""
    from .core.domain import services

    with kit.transaction():
        user = services.create_user(
            kit, username, role=role, email=email, password=password, property_uids=property_uids
        )
        result = user.record()
    if as_json:
        echo_json(result)
    else:
        click.echo(f"created {role} {username} (manager_id {result['manager_id']})")


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
    """Every event type the loaded plugins can fire, with its id fields."""
    rows = [
        {"name": t.name, "id_fields": list(t.id_fields), "description": t.description}
        for t in kit.catalog
    ]
    echo_json(rows) if as_json else echo_table(rows, ("name", "id_fields", "description"))


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
        "timestamp": fired.timestamp.isoformat(),
    }
    if as_json:
        echo_json(result)
    else:
        click.echo(f"fired {fired.name} {dict(fired.ids)} (event {fired.id})")


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
    type=int,
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
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Leave deliveries to separate `jomreskit worker`s.")
@click.option("--threads", default=8, show_default=True, type=int)
@pass_kit
def serve(kit: Kit, host: str, port: int, no_worker: bool, threads: int) -> None:
    """Serve the site with waitress; background services (the webhook worker) run beside it."""
    import waitress

    if not kit.settings.get("JOMRESKIT_BASE_URL"):
        kit.settings["JOMRESKIT_BASE_URL"] = f"http://{host}:{port}"
    for warning in kit.warnings:
        click.echo(f"warning: {warning}", err=True)
    services = [] if no_worker else kit.hooks.background_services(kit=kit)
    for service in services:
        service.start()
    click.echo(f"serving on http://{host}:{port} (Ctrl-C to stop)")
    try:
        waitress.serve(kit.app, host=host, port=port, threads=threads, _quiet=True)
    finally:
        for service in services:
            service.stop()


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
@click.option("--port", default=8001, show_default=True, type=int)
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
@pass_kit
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
