"""A site builds on each database and knows the Jomres event catalog."""

# The 38 event names Jomres fires, which the core registers itself; plugins add their own.
JOMRES_NAMES = {
    "booking_added", "booking_modified", "booking_cancelled", "booking_marked_noshow",
    "guest_checkedin", "guest_checkedin_undone", "guest_checkedout", "guest_checkedout_undone",
    "blackbooking_created", "deposit_saved", "booking_note_saved", "booking_note_deleted",
    "guest_saved", "guest_updated", "guest_deleted", "invoice_created", "invoice_updated",
    "invoice_cancelled", "property_created", "property_updated", "property_deleted",
    "property_published", "property_unpublished", "room_added", "room_updated", "room_deleted",
    "review_saved", "review_published", "review_unpublished", "review_deleted", "extra_saved",
    "extra_deleted", "coupon_saved", "coupon_deleted", "manager_added", "manager_updated",
    "manager_deleted", "tariffs_updated",
}


def test_a_fresh_site_has_the_jomres_catalog(make_site):
    site = make_site()
    names = [t.name for t in site.kit.catalog]
    assert len(JOMRES_NAMES) == 38
    assert JOMRES_NAMES <= set(names)
    assert len(names) == len(set(names)), "an event name registered twice"


def test_plugins_add_their_own_events_beside_jomres(make_site):
    site = make_site()
    added = {t.name for t in site.kit.catalog} - JOMRES_NAMES
    # The installed plugins' own: the breaker's, restrictions', and the booking handover's.
    assert {"webhook_circuit_opened", "webhook_disabled", "restrictions_updated",
            "booking_unacknowledged"} <= added
