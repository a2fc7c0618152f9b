"""``GET /handover/bookings`` (what the key has still to take) and
``POST /handover/bookings/<property_uid>/<contract_uid>/<revision>/acknowledge``."""

from __future__ import annotations

from typing import Any

from jomreskit_api_core import (
    Api,
    ApiError,
    Param,
    current_api_key,
    current_params,
    current_token,
    require_property,
)

from . import revisions

MAX_ID = 2**31 - 1
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000

REVISION = {
    "type": "object",
    "required": ["property_uid", "contract_uid", "revision", "type", "recorded_at"],
    "properties": {
        "property_uid": {"type": "integer"},
        "contract_uid": {"type": "integer"},
        "revision": {"type": "integer",
                     "description": "The id of the event that made this revision (the `id` "
                                    "the event feed shows); a later change is a higher one."},
        "type": {"type": "string", "enum": list(revisions.REVISING),
                 "description": "What happened to the booking."},
        "recorded_at": {"type": "string", "format": "date-time"},
    },
}
ACKNOWLEDGED = {**REVISION, "required": [*REVISION["required"], "acknowledged_at"],
                "properties": {**REVISION["properties"],
                               "acknowledged_at": {"type": "string", "format": "date-time",
                                                   "description": "When this key first "
                                                                  "acknowledged it."}}}

LIST_DESCRIPTION = """\
The revisions of bookings (new, modified, cancelled, no-show) at the properties this key's
manager runs (a super manager's key: every property), recorded since the key was made, that
this key has not acknowledged: oldest first. Take each booking (read it through the bookings
API or its callback), then acknowledge its revision. A revision acknowledged is never listed
again for this key; a later change to the booking is a new revision, listed anew. There is no
cursor: list again after acknowledging, and what is left comes first.

A revision that no key with `bookings_handover` acknowledged within
`JOMRESKIT_HANDOVER_ALARM_MINUTES` (default 30) fires `booking_unacknowledged` once."""


def register(api: Api, scope: str) -> None:
    """Add the handover's routes."""
    kit = api.kit

    @api.route("/handover/bookings", scope=scope, tags=("handover",),
               summary="Booking revisions this key has not acknowledged",
               description=LIST_DESCRIPTION, response={"type": "array", "items": REVISION},
               params=(
                   Param("limit", type="integer", minimum=1, maximum=MAX_LIMIT,
                         default=DEFAULT_LIMIT, example=10, description="Revisions per page."),
                   Param("property_uid", type="integer", minimum=1, maximum=MAX_ID, example=1,
                         description="Only this property's bookings."),
               ))
    def unacknowledged_bookings() -> Any:
        params = current_params()
        if "property_uid" in params:
            require_property(params["property_uid"])
        reader = _reader()
        found, more = revisions.unacknowledged(kit.session(), reader, params["limit"],
                                               params.get("property_uid"))
        return [revisions.as_json(r) for r in found], {"count": len(found), "more": more}

    @api.route("/handover/bookings/<int:property_uid>/<int:contract_uid>/<int:revision>"
               "/acknowledge", methods=("POST",), scope=scope, tags=("handover",),
               summary="Acknowledge a revision of a booking",
               description="Record that this key took this revision of the booking: it is "
                           "never listed again for this key, and no alarm fires for it. "
                           "Revisions may be acknowledged in any order; acknowledging one "
                           "again answers the same (the time it was first acknowledged). "
                           "404 `invalid_revision` when the booking has no such revision.",
               response=ACKNOWLEDGED)
    def acknowledge(property_uid: int, contract_uid: int, revision: int) -> Any:
        require_property(property_uid)
        reader = _reader()
        with kit.transaction() as session:
            found = revisions.find(session, property_uid, contract_uid, revision)
            if found is None:
                raise ApiError(404, "invalid_revision",
                               f"booking {contract_uid} of property {property_uid} has no "
                               f"revision {revision}")
            at = revisions.acknowledge(session, reader, revision)
            return {**revisions.as_json(found), "acknowledged_at": at}


def _reader() -> revisions.Reader:
    """The calling key, as the revisions it may see are chosen by."""
    token = current_token()
    return revisions.Reader(token.api_key_id, token.manager_id, token.is_super,
                            current_api_key().created_at)
