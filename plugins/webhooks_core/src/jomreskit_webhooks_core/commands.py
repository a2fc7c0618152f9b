"""The `jomreskit webhooks`, `jomreskit deliveries` and `jomreskit worker` commands."""

from __future__ import annotations

import os
import re
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from jomreskit import JomresKitError, ValidationError
from jomreskit.cli import ID, echo_json, echo_table, parse_pairs, pass_kit, serve_metrics
from jomreskit.db import timestamp_text, utcnow

from . import config, services
from .worker import Worker, prune

if TYPE_CHECKING:
    from jomreskit import Kit

JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def register(cli: click.Group) -> None:
    cli.add_command(webhooks)
    cli.add_command(deliveries)
    cli.add_command(worker)


# -- webhooks ------------------------------------------------------------------------------


@click.group()
def webhooks() -> None:
    """Managers' webhooks: where events are sent and how."""


WEBHOOK_COLUMNS = ("id", "manager_id", "url", "authmethod", "enabled", "paused", "circuit",
                   "events", "property_uids", "disabled_reason")


@webhooks.command("create")
@click.option("--manager", required=True, help="The manager (username or id) it belongs to.")
@click.option("--url", required=True, help="Where events are POSTed.")
@click.option("--authmethod", default=None,
              help="How to sign in there (`none`, `basic`, `oauth`, or a plugin's) "
                   "[default: none, when installed]")
@click.option("--setting", "settings_", multiple=True, metavar="KEY=VALUE",
              help="An auth method setting (repeat for more).")
@click.option("--event", "events", multiple=True,
              help="Send only this event (repeat; default all).")
@click.option("--property", "property_uids", type=ID, multiple=True,
              help="Send only events of this property (repeat; default all the manager's).")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@JSON
@pass_kit
def webhooks_create(kit: Kit, manager: str, url: str, authmethod: str | None,
                    settings_: tuple[str, ...], events: tuple[str, ...],
                    property_uids: tuple[int, ...], disabled: bool, as_json: bool) -> None:
    """Create a webhook; prints its id and signing secret (shown only now)."""
    if authmethod is None:
        if "none" not in kit.authmethods:
            installed = ", ".join(sorted(kit.authmethods)) or "none installed"
            raise ValidationError(
                f"say how to sign in there with --authmethod (installed: {installed}); the "
                "default, none, comes with the jomreskit-authmethod-none plugin")
        authmethod = "none"
    with kit.transaction():
        webhook, secret = services.create_webhook(
            kit, manager, url, authmethod, _settings(settings_), events, property_uids,
            enabled=not disabled)
        result = services.webhook_json(kit, webhook)
    result["secret"] = secret
    refused = services.refused_address(kit, result["url"])
    if as_json:
        echo_json({**result, "warning": refused} if refused else result)
        return
    click.echo(f"created webhook {result['id']} -> {result['url']}")
    click.echo(f"signing secret (shown only now): {secret}")
    if refused:
        click.echo(f"warning: {refused}", err=True)


@webhooks.command("list")
@click.option("--manager", default=None, help="Only this manager's (username or id).")
@JSON
@pass_kit
def webhooks_list(kit: Kit, manager: str | None, as_json: bool) -> None:
    """Webhooks, with secret settings masked."""
    with kit.transaction():
        manager_id = services._manager(kit, manager).manager_id if manager else None
        rows = [services.webhook_json(kit, w) for w in services.list_webhooks(kit, manager_id)]
    if as_json:
        echo_json(rows)
    else:
        echo_table([{**row, "circuit": services.circuit_text(row["circuit"]),
                     "paused": services.paused_text(row["paused_at"])} for row in rows],
                   WEBHOOK_COLUMNS)


@webhooks.command("show")
@click.argument("webhook_id", type=ID)
@JSON
@pass_kit
def webhooks_show(kit: Kit, webhook_id: int, as_json: bool) -> None:
    """One webhook: its settings (secrets masked), whether it is sending, and why not."""
    with kit.transaction():
        result = services.webhook_json(kit, services.get_webhook(kit, webhook_id))
    if as_json:
        echo_json(result)
        return
    for key in ("id", "manager_id", "url", "authmethod", "settings", "events", "property_uids",
                "enabled", "disabled_reason", "paused_at", "failing_since", "created_at",
                "updated_at"):
        value = result[key]
        shown = timestamp_text(value) if isinstance(value, datetime) else value
        click.echo(f"{key}: {'' if value is None else shown}")
    circuit = result["circuit"]
    click.echo(f"circuit: {services.circuit_text(circuit)}")
    if circuit["reason"]:
        click.echo(f"circuit reason: {circuit['reason']}")


@webhooks.command("update")
@click.argument("webhook_id", type=ID)
@click.option("--url", default=None)
@click.option("--authmethod", default=None, help="A new auth method (its settings start afresh).")
@click.option("--setting", "settings_", multiple=True, metavar="KEY=VALUE",
              help="Set an auth method setting (KEY= clears it; others are kept).")
@click.option("--event", "events", multiple=True, help="Replace the event filter (repeat).")
@click.option("--all-events", is_flag=True, help="Clear the event filter.")
@click.option("--property", "property_uids", type=ID, multiple=True,
              help="Replace the property filter (repeat).")
@click.option("--all-properties", is_flag=True, help="Clear the property filter.")
@click.option("--enable/--disable", "enabled", default=None)
@JSON
@pass_kit
def webhooks_update(kit: Kit, webhook_id: int, url: str | None, authmethod: str | None,
                    settings_: tuple[str, ...], events: tuple[str, ...], all_events: bool,
                    property_uids: tuple[int, ...], all_properties: bool, enabled: bool | None,
                    as_json: bool) -> None:
    """Change a webhook."""
    with kit.transaction():
        webhook = services.update_webhook(
            kit, webhook_id, url=url, authmethod=authmethod,
            settings_values=_settings(settings_) if settings_ else None,
            events=[] if all_events else (events or None),
            property_uids=[] if all_properties else (property_uids or None),
            enabled=enabled)
        result = services.webhook_json(kit, webhook)
    if as_json:
        echo_json(result)
    else:
        click.echo(f"updated webhook {webhook_id}")


@webhooks.command("pause")
@click.argument("webhook_id", type=ID)
@JSON
@pass_kit
def webhooks_pause(kit: Kit, webhook_id: int, as_json: bool) -> None:
    """Stop sending to a webhook (its receiver is down for maintenance, say): events are still
    queued for it, and sent in order once it is resumed. Every worker sees the pause at once."""
    with kit.transaction():
        result = services.webhook_json(kit, services.pause_webhook(kit, webhook_id))
    if as_json:
        echo_json(result)
    else:
        click.echo(f"webhook {webhook_id} paused since {timestamp_text(result['paused_at'])}: "
                   f"its deliveries are queued, none is sent until `jomreskit webhooks resume "
                   f"{webhook_id}`")


@webhooks.command("resume")
@click.argument("webhook_id", type=ID)
@JSON
@pass_kit
def webhooks_resume(kit: Kit, webhook_id: int, as_json: bool) -> None:
    """Send to a paused webhook again: what was queued meanwhile goes out, oldest first."""
    with kit.transaction():
        result = services.webhook_json(kit, services.resume_webhook(kit, webhook_id))
        waiting = services.pending_count(kit, webhook_id)
    if as_json:
        echo_json({**result, "pending": waiting})
    else:
        click.echo(f"webhook {webhook_id} resumed: {waiting} pending "
                   f"deliver{'y' if waiting == 1 else 'ies'} go out, oldest first")


@webhooks.command("delete")
@click.argument("webhook_id", type=ID)
@pass_kit
def webhooks_delete(kit: Kit, webhook_id: int) -> None:
    """Delete a webhook with its deliveries."""
    with kit.transaction():
        services.delete_webhook(kit, webhook_id)
    click.echo(f"deleted webhook {webhook_id}")


@webhooks.command("rotate-secret")
@click.argument("webhook_id", type=ID)
@JSON
@pass_kit
def webhooks_rotate_secret(kit: Kit, webhook_id: int, as_json: bool) -> None:
    """Give a webhook a new signing secret (printed only now); the old one stops working."""
    with kit.transaction():
        secret = services.rotate_secret(kit, webhook_id)
    if as_json:
        echo_json({"id": webhook_id, "secret": secret})
    else:
        click.echo(f"new signing secret (shown only now): {secret}")


@webhooks.command("test")
@click.argument("webhook_id", type=ID)
@JSON
@pass_kit
def webhooks_test(kit: Kit, webhook_id: int, as_json: bool) -> None:
    """Send a signed `ping` to a webhook now and show what came back."""
    result = services.send_test(kit, webhook_id)
    if as_json:
        echo_json(result)
    else:
        attempt = result["attempt_log"][-1]
        answer = f"HTTP {attempt['status_code']}" if attempt["status_code"] else "no answer"
        click.echo(f"ping {result['status']}: {answer} in {attempt['duration_ms']} ms"
                   + (f" ({attempt['error']})" if attempt["error"] else ""))
    if result["status"] != "succeeded":
        raise SystemExit(1)


def _settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    return {k: str(v) for k, v in parse_pairs(pairs, "setting").items()}


# -- deliveries ----------------------------------------------------------------------------


@click.group()
def deliveries() -> None:
    """Webhook deliveries: their status, attempt log, and sending them again."""


DELIVERY_COLUMNS = ("id", "webhook_id", "event_type", "status", "attempts", "last_status_code",
                    "last_error", "created_at")


@deliveries.command("list")
@click.option("--webhook", "webhook_id", type=ID, default=None)
@click.option("--status", type=click.Choice(["pending", "succeeded", "failed"]), default=None)
@click.option("--limit", type=int, default=50, show_default=True)
@JSON
@pass_kit
def deliveries_list(kit: Kit, webhook_id: int | None, status: str | None, limit: int,
                    as_json: bool) -> None:
    """Deliveries, newest first."""
    with kit.transaction():
        rows = [services.delivery_json(d)
                for d in services.list_deliveries(kit, webhook_id, status, limit=limit)]
    echo_json(rows) if as_json else echo_table(rows, DELIVERY_COLUMNS)


@deliveries.command("show")
@click.argument("delivery_id", type=ID)
@JSON
@pass_kit
def deliveries_show(kit: Kit, delivery_id: int, as_json: bool) -> None:
    """One delivery with its body and every attempt."""
    with kit.transaction():
        result = services.delivery_json(services.get_delivery(kit, delivery_id), True)
    if as_json:
        echo_json(result)
        return
    for key in ("id", "webhook_id", "event_type", "msg_id", "status", "attempts",
                "next_attempt_at", "delivered_at", "created_at", "payload"):
        value = result[key]
        shown = timestamp_text(value) if isinstance(value, datetime) else value
        click.echo(f"{key}: {'' if value is None else shown}")
    click.echo("attempt log:")
    for a in result["attempt_log"]:
        line = f"  {timestamp_text(a['attempted_at'])}  {a['duration_ms']:>5} ms  "
        line += f"HTTP {a['status_code']}" if a["status_code"] else "no answer"
        if a["error"]:
            line += f"  {a['error']}"
        click.echo(line)


@deliveries.command("redeliver")
@click.argument("delivery_id", type=ID)
@pass_kit
def deliveries_redeliver(kit: Kit, delivery_id: int) -> None:
    """Queue a delivery again now (same webhook-id, fresh retries)."""
    with kit.transaction():
        services.redeliver(kit, delivery_id)
    click.echo(f"delivery {delivery_id} queued again")


@deliveries.command("recover")
@click.option("--since", required=True,
              help="An ISO 8601 time (UTC unless it says) or an age such as 90m, 12h, 3d.")
@click.option("--webhook", "webhook_id", type=ID, default=None)
@pass_kit
def deliveries_recover(kit: Kit, since: str, webhook_id: int | None) -> None:
    """Queue again every failed delivery created since a time."""
    when = parse_time(since)
    with kit.transaction():
        total = services.recover_count(kit, when, webhook_id)
        with click.progressbar(length=total, label="queueing failed deliveries",
                               file=sys.stderr) as bar:
            count = services.recover(kit, when, webhook_id, progress=bar.update)
    click.echo(f"{count} deliveries queued again")


@deliveries.command("prune")
@click.option("--days", type=float, default=None,
              help="Keep this many days (default JOMRESKIT_WEBHOOK_RETENTION_DAYS).")
@pass_kit
def deliveries_prune(kit: Kit, days: float | None) -> None:
    """Delete finished deliveries and attempt logs older than the retention (workers do this
    hourly)."""
    if days is None:
        days = config.number(kit, "JOMRESKIT_WEBHOOK_RETENTION_DAYS")
    count = prune(kit, timedelta(days=days))
    click.echo(f"{count} finished deliveries older than {days:g} days deleted")


def parse_time(value: str) -> datetime:
    """``2025-06-01``, ``2025-06-01T12:00``, ``...+02:00`` or an age: ``90m``, ``12h``, ``3d``."""
    value = value.strip()
    age = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", value)
    if age:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[age.group(2)]
        return utcnow() - timedelta(**{unit: float(age.group(1))})
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"--since {value!r} is neither an ISO 8601 time nor an age "
                              "such as 12h") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# -- worker --------------------------------------------------------------------------------


@click.command()
@click.option("--once", "mode", flag_value="once", help="One claim-and-send round, then exit.")
@click.option("--drain", "mode", flag_value="drain",
              help="Send everything due now, then exit (later retries stay queued).")
@click.option("--concurrency", type=int, default=None,
              help="Sending threads (default JOMRESKIT_WEBHOOK_CONCURRENCY, 8).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve this worker's Prometheus metrics at http://HOST:PORT/metrics.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="The address the metrics port listens on (loopback: this machine only).")
@JSON
@pass_kit
def worker(kit: Kit, mode: str | None, concurrency: int | None, metrics_port: int | None,
           metrics_host: str, as_json: bool) -> None:
    """Send webhook deliveries. Runs until SIGTERM or Ctrl-C: the first stops claiming, hands
    back what is not yet sent and lets the attempts under way finish (each within the
    timeout); a second exits at once, handing back everything."""
    runner = Worker(kit, concurrency)
    problem = runner.problem()
    if problem:
        raise JomresKitError(problem)
    metrics_server = None
    if metrics_port is not None:
        try:
            metrics_server = serve_metrics(kit, metrics_port, metrics_host)
        except OSError as exc:
            raise JomresKitError(f"cannot serve metrics on {metrics_host}:{metrics_port}: "
                                 f"{exc.strerror or exc}") from None
        click.echo(f"metrics on http://{metrics_host}:{metrics_server.server_port}/metrics",
                   err=True)

    def _stop(_signum: int, _frame: Any) -> None:
        if runner.stopping:
            handed_back = runner.abandon()
            click.echo(f"stopped at once; {handed_back} deliveries handed back", err=True)
            os._exit(1)
        click.echo("stopping: finishing the attempts under way (Ctrl-C again to exit now)",
                   err=True)
        runner.stop()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if mode is None:
            click.echo(f"delivering with {runner.concurrency} threads (Ctrl-C to stop)", err=True)
        stats = runner.run(mode or "forever")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if metrics_server is not None:
            metrics_server.shutdown()
    if as_json:
        echo_json(stats.as_dict())
    else:
        click.echo(f"{stats.attempts} attempts: {stats.succeeded} succeeded, "
                   f"{stats.retrying} to retry, {stats.failed} failed")
