"""OAuth2 API keys per manager and the REST API framework.

Feature plugins register routes through ``register_api_routes(api)``::

    from jomreskit import hookimpl
    from jomreskit_api_core import Api, ApiError, Param, current_manager, require_property

    @hookimpl
    def register_api_routes(api: Api):
        @api.route("/things/<int:property_uid>", scope="things_get", summary="A property's things")
        def things(property_uid: int):
            require_property(property_uid)
            return {"property_uid": property_uid}
"""

from .api import (
    Api,
    ApiError,
    Param,
    Route,
    current_api_key,
    current_manager,
    current_params,
    get_api,
    require_property,
)

__all__ = [
    "Api",
    "ApiError",
    "Param",
    "Route",
    "current_api_key",
    "current_manager",
    "current_params",
    "get_api",
    "require_property",
]
