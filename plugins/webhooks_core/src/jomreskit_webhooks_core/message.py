"""What a webhook sends: the one place that builds the body and the request, and signs it.

The body is built once, when the event is fired, and stored with the delivery: every attempt
sends the same bytes under the same ``webhook-id``. Each attempt is signed afresh (Standard
Webhooks v1: HMAC-SHA256 over ``id.timestamp.body``) because its timestamp is new.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

import requests
from standardwebhooks import Webhook

from jomreskit.db import timestamp_text

SECRET_PREFIX = "whsec_"
USER_AGENT = "jomreskit-webhooks/0.1"

log = logging.getLogger("jomreskit.webhooks")


def new_signing_secret() -> str:
    """A fresh ``whsec_...`` secret: 24 random bytes in base64, as Standard Webhooks expects."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_msg_id() -> str:
    """A unique ``webhook-id`` for a new delivery."""
    return "msg_" + secrets.token_hex(12)


def body(event_type: str, timestamp: datetime, ids: Mapping[str, int], manager_id: int,
         callback_url: str | None, origin: str | None = None) -> str:
    """The JSON body of a notification (DESIGN §4 and §4a).

    ``data`` holds the event's ids, the receiving ``manager_id`` and, as Jomres sent it,
    ``task`` (the event's name); for a change written through the API, ``origin``:
    ``{"client_id": <the writing API key's>}``, so the service that wrote it can tell its own
    echo (absent for changes made on the site, whose body is as before). ``callback_url`` is
    null when no installed plugin offers one.
    """
    data: dict[str, object] = {**ids, "manager_id": manager_id, "task": event_type}
    if origin is not None:
        data["origin"] = {"client_id": origin}
    envelope = {
        "type": event_type,
        "timestamp": timestamp_text(timestamp),
        "data": data,
        "callback_url": callback_url,
    }
    return json.dumps(envelope, separators=(",", ":"))


RELATIVE_CALLBACK = '"callback_url":"/'  # as ``body`` writes a site-relative callback path


def with_site_address(payload: str, site_address: str | None) -> str:
    """``payload`` as it is sent: a site-relative ``callback_url`` (the event was fired where
    the site's address was not known) made absolute with ``site_address``, the address the
    sending process knows; null, with a warning, when that is unknown too."""
    if RELATIVE_CALLBACK not in payload:  # absolute or null already: nearly every payload
        return payload
    if site_address:
        address = json.dumps(site_address.rstrip("/"))[1:-1]
        return payload.replace(RELATIVE_CALLBACK, f'"callback_url":"{address}/', 1)
    _warn_no_site_address()
    envelope = json.loads(payload)
    envelope["callback_url"] = None
    return json.dumps(envelope, separators=(",", ":"))


@functools.cache
def _warn_no_site_address() -> None:
    # Once per process: every notification would repeat it.
    log.warning("JOMRESKIT_BASE_URL is not set and `jomreskit serve` has not recorded the "
                "site's address: notifications go out without a callback_url")


def sign(secret: str, msg_id: str, timestamp: int, payload: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt, by the Standard Webhooks
    reference library (receivers verify with the same code)."""
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), payload.decode())


def request(url: str, msg_id: str, payload: str, secret: str, timestamp: int
            ) -> requests.PreparedRequest:
    """The signed POST of ``payload`` to ``url``; the auth method adds its credentials after."""
    data = payload.encode()
    prepared = requests.PreparedRequest()
    prepared.prepare(
        method="POST",
        url=url,
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            # An uncompressed answer, so "at most 64 KiB read" means 64 KiB of text.
            "Accept-Encoding": "identity",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, data),
        },
        data=data,
    )
    return prepared
