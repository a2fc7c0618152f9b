"""Fake webhook calls: fire one chosen event on every page load, for developing a remote service.

As Jomres' j00005fake_webhook_calls did, this fires an event regardless of what the page does,
so whoever writes the remote side (a channel manager's gateway, say) gets a notification each
time they reload a page, without booking anything. Never leave it on a live site.

To use it:

1. Copy this file into the site's plugins folder (``JOMRESKIT_PLUGINS_DIR``, by default
   ``<instance>/plugins``; the instance folder is ``./instance`` unless
   ``JOMRESKIT_INSTANCE_PATH`` says otherwise).
2. Run ``jomreskit plugins rebuild`` and restart the site (``jomreskit serve``).
3. Load any page of the site, e.g. ``curl http://127.0.0.1:8000/``: the event is recorded and
   webhooks_core delivers it to every matching webhook.

Remove the file (and rebuild), or ``jomreskit plugins disable fake_webhook_calls``, to stop it
(a running site notices within seconds).
To fire a single event by hand instead: ``jomreskit events fire booking_modified
property_uid=1 contract_uid=41``.
"""

from __future__ import annotations

import logging

from flask import Flask, request

from jomreskit import JomresKitError, Kit, hookimpl

log = logging.getLogger(__name__)

# Pick the event and its ids here. `jomreskit events list` shows every event with the id
# fields it needs; the ids are those of the demo data (`jomreskit demo seed --json` lists them):
# Fawlty Towers is property 1 with contract 41, guest 1, rooms 1-3, invoice 1 and review 1.
# Ids that do not exist are useful too: the callback must answer them with a clear 404.
# A few examples (uncomment one pair, comment out the other):
#
#   EVENT, IDS = "booking_cancelled", {"property_uid": 1, "contract_uid": 41}
#   EVENT, IDS = "booking_modified", {"property_uid": 1, "contract_uid": 999999}  # no such booking
#   EVENT, IDS = "guest_updated", {"property_uid": 1, "guest_uid": 1}
#   EVENT, IDS = "invoice_updated", {"property_uid": 1, "invoice_uid": 1}
#   EVENT, IDS = "room_updated", {"property_uid": 1, "room_uid": 2}
#   EVENT, IDS = "review_published", {"property_uid": 1, "review_uid": 1}
#   EVENT, IDS = "property_updated", {"property_uid": 1}
#   EVENT, IDS = "tariffs_updated", {"property_uid": 2}
EVENT, IDS = "booking_modified", {"property_uid": 1, "contract_uid": 41}
PLUGIN_NAME = __name__.rpartition(".")[2]  # the file's name, as the registry knows it


@hookimpl
def init_app(kit: Kit, app: Flask) -> None:
    api_prefix = kit.settings["JOMRESKIT_API_PREFIX"].rstrip("/") + "/"

    @app.before_request
    def fire_fake_webhook_call() -> None:
        # API calls are not page loads: the remote service calling the API back must not
        # fire another notification, or each one would cause the next (as Jomres skipped
        # its AJAX calls).
        if (request.path + "/").startswith(api_prefix) or request.endpoint == "static":
            return
        if PLUGIN_NAME not in kit.loaded.names:  # disabled since the site started
            return
        try:
            # Its own transaction: the event and the deliveries it queues are committed
            # before the page is handled, whatever the page then does.
            with kit.transaction():
                event = kit.fire(EVENT, **IDS)
        except JomresKitError as exc:  # a typo in EVENT or IDS: say so, keep the page working
            log.warning("fake webhook call not fired: %s", exc.message)
            return
        log.info("fake webhook call: fired %s %s (event %s)", EVENT, IDS, event.id)
