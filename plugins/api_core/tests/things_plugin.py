"""A plugin for api_core's tests: a scoped route on a property, as a feature plugin writes one."""

from jomreskit_api_core import Api, Param, current_manager, current_params, require_property

from jomreskit import NotFound, Scope, hookimpl
from jomreskit.domain import Property

requires = ["api_core"]


@hookimpl
def register_scopes():
    return [
        Scope("things_get", "Read a property's things."),
        Scope("gadgets_get", "Read gadgets."),
        Scope("everything_get", "Read everything (super managers only).", granted_by="super"),
    ]


@hookimpl
def register_api_routes(api: Api):
    @api.route("/things/<int:property_uid>", scope="things_get",
               summary="A property's things",
               params=[Param("property_uid", in_="path", description="The property.", example=1),
                       Param("limit", type="integer", minimum=1, maximum=50, default=10),
                       Param("since", format="date", description="Only things since then.")],
               response={"type": "object", "required": ["property_uid", "name"]})
    def property_things(property_uid: int):
        require_property(property_uid)
        prop = api.kit.session().get(Property, property_uid)
        if prop is None:
            raise NotFound(f"no property {property_uid}", code="invalid_property_uid")
        params = current_params()
        return {"property_uid": prop.property_uid, "name": prop.name,
                "manager": current_manager().username, "limit": params["limit"],
                "since": params.get("since")}, {"limit": params["limit"]}

    @api.route("/things/<int:property_uid>/beside/<int:other_uid>", scope="things_get",
               summary="Two properties' things, side by side")
    def things_beside(property_uid: int, other_uid: int):
        # The path's property is checked with the token; the other one on its own.
        require_property(property_uid)
        require_property(other_uid)
        return {"property_uids": [property_uid, other_uid]}
