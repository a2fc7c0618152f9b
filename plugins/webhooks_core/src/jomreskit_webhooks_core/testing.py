"""Testing an auth method without a site: the delivery it would be handed, after it acted.

    from jomreskit_webhooks_core.testing import authenticate

    def test_it_adds_the_partner_headers():
        request = authenticate(HomeAwayPartnerKey(), {"advertiser_id": "A-1", "api_key": "k"})
        assert request.headers["Authorization"] == "HomeAway-Key k"

The request is built and signed by the same code as every delivery (``message``); the
settings are cleaned by the method first, as webhooks_core stores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from jomreskit import AuthMethod

from . import message

TEST_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # any 24 bytes in base64 will do


def authenticate(
    method: AuthMethod,
    settings: Mapping[str, Any],
    *,
    url: str = "https://receiver.example/webhooks",
    event: str = "booking_modified",
    ids: Mapping[str, int] | None = None,
    manager_id: int = 1,
    callback_url: str | None = None,
    secret: str = TEST_SECRET,
    http: requests.Session | None = None,
) -> requests.PreparedRequest:
    """Build a signed delivery of ``event`` to ``url``, let ``method`` add its credentials with
    ``settings``, and return the request as it would be sent.

    ``request.headers`` holds the Standard Webhooks headers and the method's own;
    ``request.body`` is the exact bytes that were signed (the JSON notification). ``http`` is
    what the method may fetch credentials with (default: a plain ``requests.Session``; a site
    hands it one bound by the SSRF guard and timeouts).
    """
    ids = dict(ids or {"property_uid": 1, "contract_uid": 41})
    payload = message.body(event, datetime.now(UTC), ids, manager_id, callback_url)
    request = message.request(url, message.new_msg_id(), payload, secret,
                              int(datetime.now(UTC).timestamp()))
    cleaned = method.clean_settings(settings)
    if http is not None:
        method.authenticate(request, cleaned, http)
    else:
        with requests.Session() as session:
            method.authenticate(request, cleaned, session)
    return request
