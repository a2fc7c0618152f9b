"""Event types, fired events and the catalog that checks one against the other."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import date, datetime
from typing import Any

from .errors import EventError

MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL


@dataclass(frozen=True)
class EventType:
    """Something that can happen on the site: its name and the id fields it carries.

    Events carry ids only, never a record's content and never a secret: the remote
    service calls the API back for the rest. An event about a span of nights (prices pushed
    for a season, say) may also carry the first and last of them in its ``date_fields``, as
    ISO dates, so the receiver reads back only those nights; they are never required.

    ``for_manager``: a notice to the manager its ``manager_id`` names, about something of
    theirs (a webhook's circuit opening, say). Who may see an event in the event feed: the
    managers of the property it carries; the manager it names, when it is for that manager;
    super managers, every event. Any other event without a property (``manager_added``, say)
    only super managers see.
    """

    name: str
    id_fields: tuple[str, ...]
    description: str = ""
    _: KW_ONLY  # the flags are named at every call, so adding one never shifts another
    for_manager: bool = False
    date_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Event:
    """An event as recorded: its row id, name, ids, when it was fired, and by whose API write
    (``origin``, when one fired it)."""

    id: int
    name: str
    ids: Mapping[str, int | str]  # the id fields, and the date fields given (ISO dates)
    timestamp: datetime
    type: EventType = field(repr=False, compare=False)
    # What plugins did about it, one line each ("queued 2 webhook deliveries").
    outcomes: list[str] = field(default_factory=list, repr=False, compare=False)
    # The client id of the API key whose write fired it (``Kit.origin``); None for a change
    # made on the site itself.
    origin: str | None = None

    @property
    def property_uid(self) -> int | None:
        found = self.ids.get("property_uid")
        return found if isinstance(found, int) else None


class EventCatalog:
    """The event types registered by all loaded plugins, by name."""

    def __init__(self, types: Iterable[EventType] = ()) -> None:
        self._types: dict[str, EventType] = {}
        for event_type in types:
            self.add(event_type)

    def add(self, event_type: EventType) -> None:
        known = self._types.get(event_type.name)
        if known is not None and known != event_type:
            raise EventError(f"event {event_type.name!r} is registered twice with different fields")
        if event_type.for_manager and "manager_id" not in event_type.id_fields:
            raise EventError(f"event {event_type.name!r} is for a manager but carries no "
                             "manager_id")
        self._types[event_type.name] = event_type

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self):
        return iter(sorted(self._types.values(), key=lambda t: t.name))

    def __len__(self) -> int:
        return len(self._types)

    def get(self, name: str) -> EventType:
        """The event type called ``name``, or a clear error naming the close matches."""
        try:
            return self._types[name]
        except KeyError:
            raise EventError(
                f"unknown event {name!r}; `jomreskit events list` shows them", code="unknown_event"
            ) from None

    def check(self, name: str, ids: Mapping[str, Any]) -> EventType:
        """Check ``ids`` against the event type: every id field, each a whole number, and
        any of its date fields, each an ISO date; no other."""
        event_type = self.get(name)
        known = (*event_type.id_fields, *event_type.date_fields)
        missing = [f for f in event_type.id_fields if f not in ids]
        extra = sorted(set(ids) - set(known))
        if missing:
            raise EventError(f"event {name!r} needs {', '.join(missing)}", code="missing_id_field")
        if extra:
            raise EventError(
                f"event {name!r} takes only {', '.join(known)}; unexpected {', '.join(extra)}",
                code="unexpected_id_field",
            )
        for key in event_type.date_fields:
            if key in ids and not _is_iso_date(ids[key]):
                raise EventError(f"{key} must be a date as 2099-06-01, not {ids[key]!r}",
                                 code="invalid_id_field")
        for key in event_type.id_fields:
            value = ids[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EventError(
                    f"{key} must be a positive whole number, not {value!r}", code="invalid_id_field"
                )
            if value > MAX_ID:
                raise EventError(
                    f"{key} {value} is too large: ids go up to {MAX_ID}", code="invalid_id_field"
                )
        return event_type


def _is_iso_date(value: object) -> bool:
    try:
        return isinstance(value, str) and date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False
