"""A typed facade over ``pm.hook``: core code calls methods with signatures, not strings.

The hooks that run while a site starts (registrations, ``init_app``, commands, console pages,
API routes, background services) call each plugin's implementation once, on its own: one
that raises is handed to ``unload`` and the others still run, so a broken plugin is reported
and skipped instead of taking the site down. Hooks that run per event or request raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from datetime import date

    import click
    from flask import Flask

    from .authmethods import AuthMethod
    from .config import SiteSetting
    from .events import Event, EventType
    from .kit import Kit
    from .pages import ConsolePage
    from .scopes import Scope


def _flatten(results: list[Any]) -> Iterator[Any]:
    for result in results:
        if result:
            yield from result


class Hooks:
    """Calls into every loaded plugin's implementation of each hook."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        unload: Callable[[object, str, Exception], None] | None = None,
    ) -> None:
        self.pm = pm
        self.unload = unload

    def call_at_start(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of a start-up hook once, in pluggy's order, through pluggy
        (so tracing still shows each call); collect the results that are not None. For the
        start-up hooks a plugin offers (api_core's ``register_api_routes``), as for the core's."""
        results = []
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            others = [i.plugin for i in getattr(self.pm.hook, hook).get_hookimpls()
                      if i.plugin is not impl.plugin]
            try:
                results.extend(self.pm.subset_hook_caller(hook, others)(**kwargs))
            except Exception as exc:
                if self.unload is None:
                    raise
                self.unload(impl.plugin, hook, exc)
        return results

    def register_events(self) -> list[EventType]:
        return list(_flatten(self.call_at_start("register_events")))

    def event_fired(self, kit: Kit, event: Event) -> list[str]:
        return [note for note in self.pm.hook.event_fired(kit=kit, event=event) if note]

    def register_scopes(self) -> list[Scope]:
        return list(_flatten(self.call_at_start("register_scopes")))

    def register_settings(self) -> list[SiteSetting]:
        return list(_flatten(self.call_at_start("register_settings")))

    def register_authmethods(self) -> list[AuthMethod]:
        return list(_flatten(self.call_at_start("register_authmethods")))

    def register_commands(self, cli: click.Group) -> None:
        self.call_at_start("register_commands", cli=cli)

    def check_booking(self, kit: Kit, property_uid: int, arrival: date, departure: date,
                      room_uids: list[int]) -> None:
        """Called before a guest's booking takes its rooms' nights: any implementation may
        refuse it by raising."""
        self.pm.hook.check_booking(kit=kit, property_uid=property_uid, arrival=arrival,
                                   departure=departure, room_uids=room_uids)

    def bookable_room_conditions(self, arrival: date, departure: date) -> list[Any]:
        """Every plugin's SQL conditions on ``Room`` for a room offered for that stay."""
        return list(_flatten(self.pm.hook.bookable_room_conditions(
            arrival=arrival, departure=departure)))

    def register_migrations(self) -> list[tuple[str, str]]:
        """(plugin name, revisions folder) for each plugin that ships migrations."""
        found = []
        for impl in self.pm.hook.register_migrations.get_hookimpls():
            folder = impl.function()
            if folder:
                found.append((self.pm.get_name(impl.plugin), str(folder)))
        return found

    def init_app(self, kit: Kit, app: Flask) -> None:
        self.call_at_start("init_app", kit=kit, app=app)

    def event_callback_url(self, kit: Kit, event: Event) -> str | None:
        return self.pm.hook.event_callback_url(kit=kit, event=event)

    def background_services(self, kit: Kit) -> list[Any]:
        return list(_flatten(self.call_at_start("background_services", kit=kit)))

    def register_console_pages(self) -> list[ConsolePage]:
        return list(_flatten(self.call_at_start("register_console_pages")))
