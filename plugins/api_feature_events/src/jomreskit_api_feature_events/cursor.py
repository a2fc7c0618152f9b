"""Cursors: a position in the feed, handed out as an opaque, sealed string.

A position is ``(xid, event_id)``, the order the feed is read in: on PostgreSQL ``xid`` is the
id of the transaction that recorded the event, on SQLite always 0 (see ``horizon``). A cursor
holds the position sealed (AES-SIV, with a key derived from the site's secret key) and bound to
the API key's client id: a key can neither read a position nor make one, and another key's
cursor does not open. Sealing is either fresh (a random nonce: two cursors of one position look
unrelated, so a ``next`` at the feed's horizon tells a key nothing about what moved it) or
steady (the cursor of an event is the same on every read, as its id is).

Cursors handed out before were not sealed and named an event (``ev1_`` and its id, or
``xid.event_id``); they still read, by their event id (``feed.resolve``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from collections.abc import Callable
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED = "ev2_"
UNSEALED = "ev1_"  # handed out before: an event id, readable by anyone
MAX_LENGTH = 80  # characters: a fresh sealed cursor has 68; longer is none this feed handed out
_UNSEALED_BODY = re.compile(r"(?:(?:0|[1-9][0-9]{0,18})\.)?(0|[1-9][0-9]{0,18})")
_BASE64 = re.compile(r"[A-Za-z0-9_-]*")
_PLAIN = struct.Struct(">qq")  # xid, event id
_NONCE = 16
_TAG = 16
MAX = 2**63 - 1


class Position(NamedTuple):
    """Where a reader is: the last event it was handed (0, 0 before the first), or the feed's
    horizon when it has read everything settled."""

    xid: int
    event_id: int


START = Position(0, 0)


class Cursors:
    """Seals positions into cursors and opens them, for one site (its secret key)."""

    def __init__(self, secret_key: Callable[[], str]) -> None:
        # The key is read at the first cursor, not when the app is built: building one (for
        # `--help`, say) must not write the instance's key file.
        self._secret_key = secret_key
        self._cipher: AESSIV | None = None

    @property
    def _siv(self) -> AESSIV:
        if self._cipher is None:
            key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None,
                       info=b"jomreskit event feed cursors").derive(self._secret_key().encode())
            self._cipher = AESSIV(key)
        return self._cipher

    def seal(self, position: Position, client_id: str, fresh: bool = True) -> str:
        """The cursor of ``position`` for the key ``client_id``: fresh (never the same twice)
        or steady (the same for the same position and key)."""
        nonce = [os.urandom(_NONCE)] if fresh else []
        sealed = self._siv.encrypt(_PLAIN.pack(*position), [client_id.encode(), *nonce])
        raw = sealed + nonce[0] if fresh else sealed
        return SEALED + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def open(self, cursor: str, client_id: str) -> Position | int | None:
        """The position a sealed cursor holds, the event id an unsealed one names (0: before the
        first event), or None when it is not a cursor this feed handed out to ``client_id``."""
        if len(cursor) > MAX_LENGTH:
            return None
        if cursor.startswith(UNSEALED):
            return _unsealed(cursor[len(UNSEALED):])
        if not cursor.startswith(SEALED):
            return None
        raw = _unbase64(cursor[len(SEALED):])
        if raw is None or len(raw) not in (_TAG + _PLAIN.size, _TAG + _PLAIN.size + _NONCE):
            return None
        sealed, nonce = raw[:_TAG + _PLAIN.size], raw[_TAG + _PLAIN.size:]
        try:
            plain = self._siv.decrypt(sealed, [client_id.encode(), *([nonce] if nonce else [])])
        except InvalidTag:
            return None
        position = Position(*_PLAIN.unpack(plain))
        return position if position.xid >= 0 and position.event_id >= 0 else None


def _unbase64(text: str) -> bytes | None:
    if not _BASE64.fullmatch(text):  # the decoder would skip other characters, not refuse them
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _unsealed(text: str) -> int | None:
    raw = _unbase64(text)
    try:
        body = None if raw is None else raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    match = None if body is None else _UNSEALED_BODY.fullmatch(body)
    if match is None:
        return None
    event_id = int(match[1])
    return None if event_id > MAX else event_id
