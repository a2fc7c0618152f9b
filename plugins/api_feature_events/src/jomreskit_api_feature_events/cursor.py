"""Cursors: a position in the feed, handed out as an opaque string.

A position is ``(xid, event_id)``, the order the feed is read in: on PostgreSQL ``xid`` is the
id of the transaction that recorded the event, on SQLite always 0 (see ``horizon``). A cursor
names the event only (its id, which the feed hands out anyway): the xid is the server's
transaction counter, nothing a key should learn, and is looked up again when the cursor comes
back (``feed.resolve``). Cursors handed out before carried ``xid.event_id``; they still read,
by their event id.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

PREFIX = "ev1_"
_BODY = re.compile(r"(?:(?:0|[1-9][0-9]{0,18})\.)?(0|[1-9][0-9]{0,18})")
MAX = 2**63 - 1


class Position(NamedTuple):
    """Where a reader is: the last event it was handed (0, 0 before the first)."""

    xid: int
    event_id: int


START = Position(0, 0)


def encode(position: Position) -> str:
    """The opaque cursor of ``position``: its event's id, not its xid."""
    raw = str(position.event_id).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> int | None:
    """The id of the event a cursor names (0: before the first event), or None when it is not
    one this feed handed out."""
    if not cursor.startswith(PREFIX) or len(cursor) > 64:
        return None
    text = cursor[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _BODY.fullmatch(raw)
    if match is None:
        return None
    event_id = int(match[1])
    return None if event_id > MAX else event_id
