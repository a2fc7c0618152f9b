"""__description__"""

from jomreskit import EventType, hookimpl


@hookimpl
def register_events() -> list[EventType]:
    """The events this plugin fires (replace or add hooks: see jomreskit's docs/plugin_hooks.md)."""
    return [EventType("__name___checked", ("property_uid",), "__description__")]
