"""kit.fire: checked against the catalog, recorded, fanned out in the caller's transaction."""

import pytest
from sqlalchemy import select

from jomreskit import EventError, EventType
from jomreskit.core.events import EventCatalog
from jomreskit.domain import EventRecord

from .test_plugins import drop_plugin, restart

# A plugin that writes its own row whenever an event is fired, in the same session.
WITNESS = """
from jomreskit import hookimpl
from jomreskit.domain import EventRecord

@hookimpl
def event_fired(kit, event):
    kit.session().add(EventRecord(name="witnessed:" + event.name, ids=dict(event.ids)))
"""


def recorded(site):
    with site.kit.transaction() as session:
        return [
            (r.name, r.ids) for r in session.scalars(select(EventRecord).order_by(EventRecord.id))
        ]


@pytest.fixture
def witnessed(make_site):
    site = make_site()
    drop_plugin(site, "witness", WITNESS)
    site.cli("plugins", "rebuild")
    return restart(site)


def test_a_fired_event_is_recorded_and_seen_by_plugins_when_the_transaction_commits(witnessed):
    with witnessed.app.app_context(), witnessed.kit.transaction():
        event = witnessed.kit.fire("booking_modified", property_uid=1, contract_uid=41)

    assert event.name == "booking_modified"
    assert event.ids == {"property_uid": 1, "contract_uid": 41}
    assert event.timestamp.tzinfo is not None
    ids = {"property_uid": 1, "contract_uid": 41}
    assert recorded(witnessed) == [("booking_modified", ids), ("witnessed:booking_modified", ids)]


def test_a_rolled_back_transaction_leaves_no_event_and_nothing_plugins_did(witnessed):
    with pytest.raises(RuntimeError), witnessed.app.app_context(), witnessed.kit.transaction():
        witnessed.kit.fire("booking_modified", property_uid=1, contract_uid=41)
        raise RuntimeError("the booking change failed after the event was fired")

    assert recorded(witnessed) == []


@pytest.mark.parametrize(
    ("name", "ids", "code", "message"),
    [
        (
            "booking_modifed",
            {"property_uid": 1},
            "unknown_event",
            "unknown event 'booking_modifed'",
        ),
        ("booking_modified", {"property_uid": 1}, "missing_id_field", "needs contract_uid"),
        (
            "property_updated",
            {"property_uid": 1, "password": 5},
            "unexpected_id_field",
            "unexpected password",
        ),
        ("property_updated", {"property_uid": "1"}, "invalid_id_field", "positive whole number"),
        ("property_updated", {"property_uid": 0}, "invalid_id_field", "positive whole number"),
        ("property_updated", {"property_uid": 1, "valid_from": "2099-06-01"},
         "unexpected_id_field", "unexpected valid_from"),
        ("tariffs_updated", {"property_uid": 1, "valid_from": "2099-6-1"}, "invalid_id_field",
         "valid_from must be a date"),
        ("tariffs_updated", {"property_uid": 1, "valid_to": 20990601}, "invalid_id_field",
         "valid_to must be a date"),
    ],
)
def test_events_that_do_not_match_the_catalog_are_refused(make_site, name, ids, code, message):
    site = make_site()
    with site.app.app_context(), site.kit.transaction(), pytest.raises(EventError) as error:
        site.kit.fire(name, **ids)
    assert error.value.code == code
    assert message in error.value.message
    assert recorded(site) == []


def test_an_event_about_nights_may_name_them_and_need_not(witnessed):
    site = witnessed
    with site.app.app_context(), site.kit.transaction():
        named = site.kit.fire("tariffs_updated", property_uid=1, valid_from="2099-06-01",
                              valid_to="2099-09-30")
        bare = site.kit.fire("tariffs_updated", property_uid=1)
    assert dict(named.ids) == {"property_uid": 1, "valid_from": "2099-06-01",
                               "valid_to": "2099-09-30"}
    assert dict(bare.ids) == {"property_uid": 1}


def test_events_fire_on_the_command_line_with_whole_numbers_as_integers(make_site):
    site = make_site()
    result = site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    assert result.exit_code == 0, result.output
    assert recorded(site) == [("booking_modified", {"property_uid": 1, "contract_uid": 41})]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "Error: unknown event 'nope'; `jomreskit events list` shows them"),
        (
            ["booking_modified", "property_uid=1"],
            "Error: event 'booking_modified' needs contract_uid",
        ),
        (
            ["booking_modified", "property_uid"],
            "Error: id 'property_uid' is not of the form key=value",
        ),
    ],
)
def test_wrong_events_on_the_command_line_are_one_clear_line(make_site, args, message):
    result = make_site().cli("events", "fire", *args)
    assert result.exit_code == 1
    assert result.output.strip() == message


def test_events_fired_inside_kit_origin_carry_it_and_no_others(witnessed):
    kit = witnessed.kit
    with witnessed.app.app_context(), kit.transaction() as session:
        with kit.origin("cm_client_1"):
            marked = kit.fire("booking_modified", property_uid=1, contract_uid=41)
        unmarked = kit.fire("booking_modified", property_uid=1, contract_uid=41)

    assert (marked.origin, unmarked.origin) == ("cm_client_1", None)
    with witnessed.app.app_context(), kit.transaction() as session:
        origins = session.scalars(select(EventRecord.origin).where(
            EventRecord.name == "booking_modified").order_by(EventRecord.id)).all()
    assert origins == ["cm_client_1", None]


def test_a_notice_to_a_manager_must_name_the_manager():
    # ``for_manager``: the event feed shows it to the manager its manager_id names.
    notice = EventType("account_notice", ("manager_id",), for_manager=True)
    assert EventCatalog([notice]).get("account_notice").for_manager
    with pytest.raises(EventError, match="'lost_notice' is for a manager but carries no "
                                         "manager_id"):
        EventCatalog([EventType("lost_notice", ("property_uid",), for_manager=True)])
