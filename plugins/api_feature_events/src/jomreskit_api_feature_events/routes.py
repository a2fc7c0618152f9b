"""``GET /events`` (the feed, with long polling) and ``PUT /events/cursor`` (acknowledge)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

from jomreskit_api_core import (
    Api,
    ApiError,
    Body,
    Param,
    current_params,
    current_token,
    require_property,
)

from . import feed, settings, wakeup
from .cursor import MAX_LENGTH, Cursors, Position

ACKNOWLEDGED = "acknowledged"
MAX_ID = 2**31 - 1  # property ids are 32-bit: a larger one would overflow the query

EVENT = {
    "type": "object",
    "required": ["id", "type", "ids", "timestamp", "callback_url", "cursor"],
    "properties": {
        "id": {"type": "integer"},
        "type": {"type": "string", "description": "The event's name, e.g. booking_added."},
        "ids": {"type": "object", "additionalProperties": {"type": "integer"},
                "description": "The ids the event carries, as in a notification's data."},
        "timestamp": {"type": "string", "format": "date-time"},
        "callback_url": {"type": ["string", "null"],
                         "description": "Where to read the record, as a notification says."},
        "cursor": {"type": "string", "description": "The position just after this event."},
        "origin": {"type": "object", "required": ["client_id"],
                   "properties": {"client_id": {"type": "string"}},
                   "description": "Only for a change written through the API: the client id "
                                  "of the API key that wrote it, as in a notification's "
                                  "data (a service can skip its own changes)."},
    },
}

FEED_DESCRIPTION = f"""\
The events of the properties this key's manager runs and the notices to that manager (a
webhook of theirs whose circuit opened; a super manager's key: every event), oldest first,
each with the fields a webhook notification carries. Pass `meta.next` back as `after` to read
on: the feed never skips an event and never hands one out twice, because it only hands out
events that nothing can still commit before.

`after` is a cursor from `meta.next` or an event's `cursor`, or `acknowledged` for the position
this key stored with `PUT /events/cursor`; without it the feed starts at the oldest event kept.
Events are kept as long as webhook deliveries (`JOMRESKIT_WEBHOOK_RETENTION_DAYS`); a cursor
from before that answers 410 `cursor_expired` with the oldest cursor still available.

`wait` (seconds, at most {settings.MAX_WAIT}) holds the request until an event arrives or the
time is up. Waiting requests are capped per key and per server process; beyond the caps the
answer is 429 `too_many_waiting` with Retry-After (events already there are answered at once
all the same)."""

TOO_MANY_WAITING = {429: {
    "description": "Over the rate limit (see api_core), or `too_many_waiting`: this key, or the "
                   "server process, has as many long polls waiting as it allows "
                   "(JOMRESKIT_EVENTS_WAITING_PER_KEY, default "
                   f"{settings.WAITING_PER_KEY}; JOMRESKIT_EVENTS_WAITING, default "
                   f"{settings.WAITING}). Come back after Retry-After seconds, or read without "
                   "`wait`.",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}}

EXPIRED = {410: {
    "description": "The cursor is older than the retention (`cursor_expired`); the message and "
                   "the `X-Oldest-Cursor` header give the oldest cursor still available.",
    "headers": {"X-Oldest-Cursor": {"schema": {"type": "string"}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}}

CURSOR_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["cursor"],
        "additionalProperties": False,
        "properties": {"cursor": {"type": "string", "maxLength": MAX_LENGTH}},
    }, "example": {"cursor": "ev2_OhtYPPxM6XiE3A3qDCX71owCSIHTTrtPlN2hdkvRd7I"}}},
}


def register(api: Api, scope: str) -> None:
    """Add the feed's routes."""
    kit = api.kit
    cursors = Cursors(lambda: kit.secret_key)

    @api.route("/events", scope=scope, tags=("events",), summary="Events since a cursor",
               description=FEED_DESCRIPTION, response={"type": "array", "items": EVENT},
               responses={**EXPIRED, **TOO_MANY_WAITING},
               params=(
                   Param("after", description="A cursor, or `acknowledged`."),
                   Param("limit", type="integer", minimum=1, maximum=settings.MAX_LIMIT,
                         default=settings.DEFAULT_LIMIT, example=10,
                         description="Events per page."),
                   Param("types", type="array",
                         description="Only these event types (e.g. booking_added)."),
                   Param("property_uid", type="integer", minimum=1, maximum=MAX_ID, example=1,
                         description="Only this property's events."),
                   Param("wait", type="integer", minimum=0, maximum=settings.MAX_WAIT,
                         default=0, description="Seconds to wait for an event when there is "
                                                "none yet."),
               ))
    def events_feed() -> Any:
        params = current_params()
        token = current_token()
        session = kit.session()
        after = _after(session, cursors, token, params.get("after"))
        unknown = [name for name in params.get("types", ()) if name not in kit.catalog]
        if unknown:
            raise ApiError(422, "invalid_types", f"types: unknown event {unknown[0][:100]!r}; "
                                                 "`jomreskit events list` shows them")
        if "property_uid" in params:
            require_property(params["property_uid"])
        reader = feed.Reader(token.manager_id, token.is_super)
        deadline = time.monotonic() + params["wait"]
        waker = wakeup.waker(kit)
        with ExitStack() as waiting:
            placed = False  # the first wait takes a place for waiting readers, kept till the end
            while True:
                seen = waker.generation
                try:
                    page = feed.read(kit, reader, after, params["limit"],
                                     params.get("types", ()), params.get("property_uid"))
                except feed.CursorExpired as expired:
                    raise _gone(cursors, token.client_id, expired) from None
                left = deadline - time.monotonic()
                if page.events or left <= 0:
                    break
                if not placed:
                    try:
                        waiting.enter_context(waker.room(token.api_key_id))
                    except wakeup.NoRoomToWait as full:
                        raise _no_room(full) from None
                    placed = True
                after = page.next
                session.close()  # no connection held while waiting
                # Events committed but held behind a running transaction (page.held_back): its
                # end sends no wake-up when it fired nothing, so the waker watches the horizon.
                waker.wait(seen, left, held=page.held_back)
                kit.autocommit()
        # An event's cursor is steady (the same on every read, as the event's id is); ``next``
        # is fresh, so a key cannot tell whether the horizon it names has moved.
        data = [feed.as_json(kit, position, event,
                             cursors.seal(position, token.client_id, fresh=False))
                for position, event in page.events]
        return data, {"next": cursors.seal(page.next, token.client_id), "count": len(data),
                      "more": page.more_coming}

    @api.route("/events/cursor", methods=("PUT",), scope=scope, tags=("events",),
               summary="Acknowledge a position in the feed",
               description="Store `cursor` as this key's acknowledged position, so that "
                           "`GET /events?after=acknowledged` resumes from it (after a restart, "
                           "say). The position only moves on: a cursor before it leaves it "
                           "where it is, and the answer's `cursor` is the position stored. A "
                           "cursor older than the retention answers 410.",
               request_body=CURSOR_BODY, responses=EXPIRED,
               exempt={"access": "a key's own position in its own feed: the request names no "
                                 "property or record, so no other manager's to refuse"},
               response={"type": "object", "required": ["cursor", "acknowledged_at"],
                         "properties": {"cursor": {"type": "string"},
                                        "acknowledged_at": {"type": "string",
                                                            "format": "date-time"}}})
    def acknowledge_cursor() -> Any:
        # api_core's one body reader: malformed or deeply nested JSON, a member given twice
        # and an unknown member all answer 422, as on every other write.
        given = Body.of_request(("cursor",)).text("cursor", MAX_LENGTH, required=True)
        token = current_token()
        with kit.transaction() as session:
            try:
                position = _position(session, cursors, token.client_id, given)
                record = feed.acknowledge(session, token.api_key_id, position)
            except feed.UnknownCursor:
                raise ApiError(422, "invalid_cursor", "cursor: not a cursor this feed handed "
                                                      "out to this key") from None
            except feed.CursorExpired as expired:
                raise _gone(cursors, token.client_id, expired) from None
            stored = Position(record.xid, record.event_id)
            if stored == position:
                cursor = given
            else:  # a racing acknowledgement went further: name its position as steadily as
                # the feed named it (an event of the key's), else freshly
                reader = feed.Reader(token.manager_id, token.is_super)
                steady = feed.shows(kit, session, reader, stored)
                cursor = cursors.seal(stored, token.client_id, fresh=not steady)
            acknowledged_at = record.acknowledged_at
        return {"cursor": cursor, "acknowledged_at": acknowledged_at}


def _position(session: Any, cursors: Cursors, client_id: str, given: str) -> Position:
    """The position of a cursor handed out to ``client_id``; raises feed.UnknownCursor or
    feed.CursorExpired (an unsealed cursor of a pruned event)."""
    opened = cursors.open(given, client_id)
    if opened is None:
        raise feed.UnknownCursor(given)
    return opened if isinstance(opened, Position) else feed.resolve(session, opened)


def _after(session: Any, cursors: Cursors, token: Any, given: str | None) -> Position:
    if given == ACKNOWLEDGED:
        record = feed.acknowledged(session, token.api_key_id)
        if record is not None:
            return Position(record.xid, record.event_id)
        given = None
    if given is None:
        return feed.start_of_kept(session)
    try:
        return _position(session, cursors, token.client_id, given)
    except feed.UnknownCursor:
        raise ApiError(422, "invalid_after", "after: not a cursor this feed handed out to "
                                             "this key (or `acknowledged`)") from None
    except feed.CursorExpired as expired:
        raise _gone(cursors, token.client_id, expired) from None


def _no_room(full: wakeup.NoRoomToWait) -> ApiError:
    retry = str(settings.WAITING_RETRY_AFTER)
    return ApiError(429, "too_many_waiting",
                    f"{full}: read without wait, or wait again after {retry} seconds "
                    "(JOMRESKIT_EVENTS_WAITING_PER_KEY, JOMRESKIT_EVENTS_WAITING)",
                    {"Retry-After": retry})


def _gone(cursors: Cursors, client_id: str, expired: feed.CursorExpired) -> ApiError:
    oldest = cursors.seal(expired.oldest, client_id)
    return ApiError(410, "cursor_expired",
                    "events after this cursor were deleted (older than the retention); "
                    f"read on from the oldest cursor still available, {oldest}, and catch up "
                    "on what was missed through the API's other endpoints",
                    {"X-Oldest-Cursor": oldest})
