"""The core's own built-in plugin: the Jomres event catalog and the core migrations."""

from __future__ import annotations

from pathlib import Path

from .events import EventType
from .markers import hookimpl

BOOKING = ("property_uid", "contract_uid")

# name -> (id fields, description), with Jomres' names.
JOMRES_EVENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "booking_added": (BOOKING, "A booking was made."),
    "booking_modified": (BOOKING, "A booking's dates, rooms, guest or totals changed."),
    "booking_cancelled": (BOOKING, "A booking was cancelled."),
    "booking_marked_noshow": (BOOKING, "The guest of a booking did not turn up."),
    "guest_checkedin": (BOOKING, "The guest of a booking checked in."),
    "guest_checkedin_undone": (BOOKING, "A check-in was undone."),
    "guest_checkedout": (BOOKING, "The guest of a booking checked out."),
    "guest_checkedout_undone": (BOOKING, "A check-out was undone."),
    "blackbooking_created": (BOOKING, "Rooms were taken out of sale for some dates."),
    "deposit_saved": (BOOKING + ("deposit_id",), "A deposit payment was recorded on a booking."),
    "booking_note_saved": (BOOKING + ("note_id",), "A note was added to a booking."),
    "booking_note_deleted": (BOOKING + ("note_id",), "A note was removed from a booking."),
    "guest_saved": (("property_uid", "guest_uid"), "A guest was created."),
    "guest_updated": (("property_uid", "guest_uid"), "A guest's details changed."),
    "guest_deleted": (("property_uid", "guest_uid"), "A guest was deleted."),
    "invoice_created": (("property_uid", "invoice_uid"), "An invoice was created."),
    "invoice_updated": (("property_uid", "invoice_uid"), "An invoice or its lines changed."),
    "invoice_cancelled": (("property_uid", "invoice_uid"), "An invoice was cancelled."),
    "property_created": (("property_uid",), "A property was created."),
    "property_updated": (("property_uid",), "A property's details changed."),
    "property_deleted": (("property_uid",), "A property was deleted."),
    "property_published": (("property_uid",), "A property was published."),
    "property_unpublished": (("property_uid",), "A property was unpublished."),
    "room_added": (("property_uid", "room_uid"), "A room was added to a property."),
    "room_updated": (("property_uid", "room_uid"), "A room changed."),
    "room_deleted": (("property_uid", "room_uid"), "A room was deleted."),
    "review_saved": (("property_uid", "review_uid"), "A review was written."),
    "review_published": (("property_uid", "review_uid"), "A review was published."),
    "review_unpublished": (("property_uid", "review_uid"), "A review was unpublished."),
    "review_deleted": (("property_uid", "review_uid"), "A review was deleted."),
    "extra_saved": (("property_uid", "extra_uid"), "An optional extra was created or changed."),
    "extra_deleted": (("property_uid", "extra_uid"), "An optional extra was deleted."),
    "coupon_saved": (("property_uid", "coupon_uid"), "A coupon was created or changed."),
    "coupon_deleted": (("property_uid", "coupon_uid"), "A coupon was deleted."),
    "manager_added": (("manager_id",), "A manager account was created."),
    "manager_updated": (("manager_id",), "A manager's account or properties changed."),
    "manager_deleted": (("manager_id",), "A manager account was deleted."),
    "tariffs_updated": (("property_uid",), "A property's tariffs changed."),
}
# The first and last night a change covered, when it knows them (Jomres sent neither).
NIGHTS = ("valid_from", "valid_to")
DATE_FIELDS = {"tariffs_updated": NIGHTS}


@hookimpl
def register_events() -> list[EventType]:
    return [EventType(name, fields, text, date_fields=DATE_FIELDS.get(name, ()))
            for name, (fields, text) in JOMRES_EVENTS.items()]


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "migrations")
