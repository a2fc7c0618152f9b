"""``GET <api prefix>/webhooks/<property_uid>/<event>[/<id>]``: the callback a notified remote
service makes for the full record.

Who may read what:

- An event about a property (it carries ``property_uid``): the key's manager must be linked to
  the property (403 ``forbidden_property`` otherwise; super managers see every property), and
  the record must belong to it (404 otherwise, whatever other property it belongs to, so ids
  cannot be probed).
- Once a property is deleted nobody is linked to it any more; what is left of it are tombstones,
  which carry nothing but ids and a time, and answer any key with the scope.
- An event about no property (the manager events) is read with ``0`` as the property_uid: a
  manager may read their own account, a super manager any (403 ``forbidden_manager`` otherwise).
- An event about something a manager owns (a webhook: ``webhook_circuit_opened`` and the like)
  is read by that manager alone, whom the record names; to anyone else it is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jomreskit_api_core import Api, ApiError, Param, current_manager, require_property

from jomreskit import EventType, NotFound
from jomreskit.domain import Property

from .callbacks import ALIASES, Reader, Record, callback_id_field, read, resolve_event
from .urls import NO_PROPERTY

if TYPE_CHECKING:
    from jomreskit import Kit

DESCRIPTION = """\
The full, current record the event is about, as the remote service notified of it reads it:
a booking (contract) with its guest, rooms and nights, status, totals, deposits and notes; an
invoice with its lines; a guest, room, review, extra, coupon, property (with rooms), the
property's tariffs, or a manager's account. A deletion event answers a tombstone
(`{"<id field>": ..., "deleted": true, "deleted_at": ...}`), not a 404.

`<id>` is the event's last id field other than `property_uid` (`contract_uid`, `note_id`,
`deposit_id`, `guest_uid`, `invoice_uid`, `room_uid`, `review_uid`, `extra_uid`, `coupon_uid`,
`manager_id`). Property events and `tariffs_updated` take no `<id>`; the manager events, which
are about no property, take `0` as `property_uid`. Jomres' older names (invoice_saved,
property_added, property_saved, booking_note_save, blackbooking_added) are accepted.

The key's manager must be linked to the property (403), and the record must belong to it (404).
"""


def check_access(kit: Kit, event_type: EventType, property_uid: int, id: int | None) -> None:
    """Refuse the caller unless they may read this event's record (see the module's text)."""
    if "property_uid" in event_type.id_fields:
        try:
            require_property(property_uid)  # answered by the token check's own query
        except ApiError:
            # Nobody is linked to a property that is gone: its tombstones answer anyone.
            if kit.session().get(Property, property_uid) is not None:
                raise
        return
    if property_uid != NO_PROPERTY:
        raise NotFound(f"{event_type.name} is about no property: ask for "
                       f"/webhooks/{NO_PROPERTY}/{event_type.name}/<id>",
                       code="invalid_property_uid")
    if callback_id_field(event_type) != "manager_id":
        return  # about a manager's own thing (a webhook): ``answer`` checks its owner
    manager = current_manager()
    if not (manager.is_super or id == manager.manager_id):
        raise ApiError(403, "forbidden_manager",
                       f"this API key's manager may not read {event_type.name} {id}")


def check_owner(event_type: EventType, id: int | None, record: Record) -> None:
    """An event about a manager's own thing (a webhook's circuit, say) is read by that
    manager alone, whom its record names; anyone else is told there is no such thing."""
    field = callback_id_field(event_type)
    if "property_uid" in event_type.id_fields or field in (None, "manager_id"):
        return
    owner = record.get("manager_id") if isinstance(record, dict) else None
    if owner is None or owner != current_manager().manager_id:
        raise NotFound(f"no {field.removesuffix('_id')} {id}", code=f"invalid_{field}")


def answer(kit: Kit, readers: Mapping[str, Reader], property_uid: int, event: str,
           id: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record and meta of one callback."""
    event_type = resolve_event(kit, event)
    check_access(kit, event_type, property_uid, id)
    record = read(kit, readers, event_type, property_uid, id)
    check_owner(event_type, id, record)
    meta: dict[str, Any] = {"event": event_type.name}
    if event != event_type.name:
        meta["alias"] = event
    return record, meta


def register(api: Api, scope: str) -> None:
    """Add the callback routes, with and without ``<id>``."""
    readers: dict[str, Reader] = {}  # asked once: plugins are loaded
    for offered in api.kit.hooks.pm.hook.register_event_callbacks():
        for name, reader in (offered or {}).items():
            readers.setdefault(name, reader)  # for a name given twice the first wins
    catalog = list(api.kit.catalog)
    without_id = sorted({t.name for t in catalog if callback_id_field(t) is None}
                        | {old for old, new in ALIASES.items()
                           if new in api.kit.catalog
                           and callback_id_field(api.kit.catalog.get(new)) is None})
    with_id = sorted({t.name for t in catalog if callback_id_field(t) is not None}
                     | {old for old in ALIASES if old not in without_id})
    property_param = Param("property_uid", in_="path", type="integer", example=1,
                           description="The property the event is about (0 for manager events).")
    record = {"type": "object", "description": "The record, or a deletion's tombstone."}

    @api.route("/webhooks/<int:property_uid>/<event>/<int:id>", scope=scope,
               summary="The record an event is about", description=DESCRIPTION,
               tags=("webhooks",), response=record, params=[
                   property_param,
                   Param("event", in_="path", enum=with_id, example="booking_modified",
                         description="The event's name, as the notification's `type`."),
                   Param("id", in_="path", type="integer", example=41,
                         description="The event's last id field other than property_uid."),
               ])
    def webhook_callback(property_uid: int, event: str, id: int) -> Any:
        return answer(api.kit, readers, property_uid, event, id)

    @api.route("/webhooks/<int:property_uid>/<event>", scope=scope,
               summary="The property an event is about", description=DESCRIPTION,
               tags=("webhooks",), response=record, params=[
                   property_param,
                   Param("event", in_="path", enum=without_id, example="property_updated",
                         description="A property event, or tariffs_updated."),
               ])
    def webhook_property_callback(property_uid: int, event: str) -> Any:
        return answer(api.kit, readers, property_uid, event, None)
