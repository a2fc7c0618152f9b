"""The console's Missed bookings page shows a manager the alarms of their own properties."""

from __future__ import annotations

from jomreskit.console.testing import sign_in

from .test_alarm import NOW, check


def missed_page(site, username: str) -> str:
    client = site.client()
    sign_in(client, username)
    page = client.get("/console/handover/")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_manager_sees_the_bookings_missed_at_their_properties(make_handover):
    handover = make_handover(**NOW)
    key = handover.key()
    missed, taken = handover.book(days=200), handover.book(days=210)
    [(_, missed_revision, _), (_, taken_revision, _)] = key.pending()
    key.acknowledge(1, taken, taken_revision)
    check(handover)
    key.acknowledge(1, missed, missed_revision)  # taken late: still shown, as acknowledged

    page = missed_page(handover.site, "manager")

    assert f'id="alarm-{missed_revision}"' in page
    assert f'id="alarm-{taken_revision}"' not in page
    row = page.split(f'id="alarm-{missed_revision}"', 1)[1].split("</tr>", 1)[0]
    assert "Fawlty Towers" in row and "booking_added" in row
    assert '<td data-label="Acknowledged since">yes</td>' in row
    assert "Missed bookings" in missed_page(handover.site, "super")
    assert f'id="alarm-{missed_revision}"' in missed_page(handover.site, "super")
    assert f'id="alarm-{missed_revision}"' not in missed_page(handover.site, "manager2")


def test_no_missed_bookings_says_so(handover):
    assert "No missed bookings" in missed_page(handover.site, "manager")
