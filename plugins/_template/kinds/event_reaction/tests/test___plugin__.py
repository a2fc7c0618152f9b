"""The __plugin__ plugin on a real site (jomreskit's fixtures: `site` is set up and seeded,
Fawlty Towers is property 1 and contract 41 one of its bookings)."""

import json

import pytest
from jomreskit___plugin__ import NOTE
from sqlalchemy import select

from jomreskit.domain import ContractNote


def notes(site, contract_uid):
    with site.app.app_context():
        try:
            return site.kit.session().scalars(select(ContractNote.text).where(
                ContractNote.contract_uid == contract_uid)).all()
        finally:
            site.kit.session.remove()


def test_its_event_is_registered_and_fires(site):
    assert "__plugin__" in site.kit.loaded.names

    result = site.cli("events", "fire", "__plugin___checked", "property_uid=1", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ids"] == {"property_uid": 1}


def test_a_cancelled_booking_gets_a_note(site):
    result = site.cli("events", "fire", "booking_cancelled", "property_uid=1", "contract_uid=41",
                      "--json")

    assert result.exit_code == 0, result.output
    outcomes = json.loads(result.output)["outcomes"]
    assert "__plugin__ noted the cancellation on booking 41" in outcomes
    assert NOTE in notes(site, 41)


def test_the_note_rolls_back_with_the_change_that_fired_the_event(site):
    with site.app.app_context(), pytest.raises(RuntimeError):
        with site.kit.transaction():
            site.kit.fire("booking_cancelled", property_uid=1, contract_uid=41)
            raise RuntimeError("the cancellation failed after the event")

    assert NOTE not in notes(site, 41)
