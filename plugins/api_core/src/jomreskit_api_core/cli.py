"""`jomreskit keys ...`: API keys from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jomreskit.cli import echo_json, echo_table, pass_kit

from . import keys

if TYPE_CHECKING:
    from jomreskit import Kit

KEY_COLUMNS = ("client_id", "name", "manager", "scopes", "active", "created_at")


@click.group("keys")
def keys_group() -> None:
    """API keys: OAuth2 client credentials that act for one manager."""


@keys_group.command("create")
@click.option("--manager", "manager", required=True, help="The key's manager (username or id).")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="A scope the key holds (repeat for more).")
@click.option("--name", default="", help="What the key is for, e.g. 'channel manager'.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def keys_create(kit: Kit, manager: str, scopes: tuple[str, ...], name: str, as_json: bool) -> None:
    """Create an API key for a manager; its secret is shown this once."""
    with kit.transaction():
        key, secret = keys.create_key(kit, manager, scopes, name=name)
        shown = keys.key_json(key, secret)
    if as_json:
        echo_json(shown)
        return
    click.echo(f"client_id:     {shown['client_id']}")
    click.echo(f"client_secret: {secret}")
    click.echo(f"scopes:        {' '.join(shown['scopes'])}")
    click.echo("Store the secret now: it is kept only as a hash and cannot be shown again.")


@keys_group.command("list")
@click.option("--manager", default=None, help="Only this manager's keys (username or id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def keys_list(kit: Kit, manager: str | None, as_json: bool) -> None:
    """API keys (never their secrets)."""
    with kit.transaction():
        rows = [keys.key_json(k) for k in keys.list_keys(kit, manager)]
    echo_json(rows) if as_json else echo_table(rows, KEY_COLUMNS)


@keys_group.command("revoke")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def keys_revoke(kit: Kit, client_id: str, as_json: bool) -> None:
    """Revoke a key: no more tokens, and every token it holds stops working now."""
    with kit.transaction():
        shown = keys.key_json(keys.revoke_key(kit, client_id))
    echo_json(shown) if as_json else click.echo(f"revoked {client_id}")


@keys_group.command("rotate")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_kit
def keys_rotate(kit: Kit, client_id: str, as_json: bool) -> None:
    """Give a key a new secret (shown this once); the old secret and its tokens stop working."""
    with kit.transaction():
        key, secret = keys.rotate_key(kit, client_id)
        shown = keys.key_json(key, secret)
    if as_json:
        echo_json(shown)
        return
    click.echo(f"client_id:     {shown['client_id']}")
    click.echo(f"client_secret: {secret}")
    click.echo("Store the secret now: it is kept only as a hash and cannot be shown again.")


@keys_group.command("purge-tokens")
@pass_kit
def keys_purge_tokens(kit: Kit) -> None:
    """Delete expired access tokens now (the token endpoint also does so as it issues new ones)."""
    with kit.transaction():
        count = keys.purge_expired_tokens(kit)
    click.echo(f"deleted {count} expired access tokens")
