"""__description__

An API feature: ``GET /api/__plugin__/<property_uid>/rooms`` lists a property's rooms to an API key
holding the scope ``__plugin___get``, whose manager runs that property (see register_api_routes
in jomreskit's docs/plugin_hooks.md and api_core's README).
"""

from typing import Any

from jomreskit_api_core import Api, Param, require_property
from sqlalchemy import select

from jomreskit import Scope, get_kit, hookimpl
from jomreskit.domain import Room

SCOPE = "__plugin___get"


@hookimpl
def register_scopes() -> list[Scope]:
    return [Scope(SCOPE, "__description__", granted_by="manager")]


@hookimpl
def register_api_routes(api: Api) -> None:
    @api.route("/__plugin__/<int:property_uid>/rooms", scope=SCOPE, summary="A property's rooms",
               params=[Param("property_uid", type="integer", description="The property.")])
    def rooms(property_uid: int) -> list[dict[str, Any]]:
        require_property(property_uid)  # 403 unless the key's manager runs it
        found = get_kit().session().scalars(
            select(Room).where(Room.property_uid == property_uid).order_by(Room.room_uid))
        return [{"room_uid": room.room_uid, "name": room.name} for room in found]
