"""The callback URL of an event: where the notified remote service reads the record.

``<JOMRESKIT_BASE_URL><JOMRESKIT_API_PREFIX>/webhooks/<property_uid>/<event>[/<id>]``, where
``<id>`` is the event's callback id field (see ``callbacks.callback_id_field``). Events that
carry only ``property_uid`` (property and tariff events) have no ``<id>``. Events that carry no
``property_uid`` at all (the manager events) use ``0`` in its place:
``/webhooks/0/manager_updated/7``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import has_request_context, request

from jomreskit import EventType

from .callbacks import callback_id_field

NO_PROPERTY = 0


def callback_path(prefix: str, event_type: EventType, ids: Mapping[str, int]) -> str:
    """The callback's path below the site's address, for an event with ``ids``."""
    path = f"{prefix.rstrip('/')}/webhooks/{ids.get('property_uid', NO_PROPERTY)}/{event_type.name}"
    field = callback_id_field(event_type)
    return path if field is None else f"{path}/{ids[field]}"


def base_url(settings: Mapping[str, Any]) -> str | None:
    """The site's public address: JOMRESKIT_BASE_URL, else the address of the current request."""
    configured = settings.get("JOMRESKIT_BASE_URL")
    if configured:
        return str(configured).rstrip("/")
    if has_request_context():
        return request.url_root.rstrip("/")
    return None


def callback_url(settings: Mapping[str, Any], event_type: EventType,
                 ids: Mapping[str, int]) -> str:
    """The absolute callback URL, or its site-relative path when the site's address is not
    known here (an event fired by a command or script): webhooks_core completes it with the
    address the sending worker knows."""
    path = callback_path(settings.get("JOMRESKIT_API_PREFIX") or "/api", event_type, ids)
    base = base_url(settings)
    return path if base is None else base + path
