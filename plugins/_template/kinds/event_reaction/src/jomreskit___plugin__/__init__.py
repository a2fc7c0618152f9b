"""__description__

An event reaction: when a booking is cancelled, a note saying so is added to it. The note is
written in the transaction of the change that fired the event, so it commits or rolls back
with it (see event_fired in jomreskit's docs/plugin_hooks.md); no network I/O happens here.
The plugin also registers an event of its own, which it or the site may fire.
"""

from jomreskit import Event, EventType, Kit, hookimpl
from jomreskit.domain import services

NOTE = "Cancelled: the room is free again."


@hookimpl
def register_events() -> list[EventType]:
    """The events this plugin fires."""
    return [EventType("__plugin___checked", ("property_uid",), "__description__")]


@hookimpl
def event_fired(kit: Kit, event: Event) -> str | None:
    """React to a cancelled booking; the line returned is what `events fire` prints."""
    if event.name != "booking_cancelled":
        return None
    services.save_note(kit, event.ids["contract_uid"], NOTE)
    return f"__plugin__ noted the cancellation on booking {event.ids['contract_uid']}"
