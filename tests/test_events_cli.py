"""`jomreskit events fire` and the ids every command takes: clear errors for ids that cannot
exist or are given twice, and a word on what firing did."""

from __future__ import annotations

import json

from jomreskit.console.testing import flashes, sign_in


def _webhook(site, manager="manager"):
    made = site.cli("webhooks", "create", "--manager", manager, "--url", "http://127.0.0.1:8001/",
                    "--authmethod", "basic", "--setting", "username=u", "--setting",
                    "password=p", "--json")
    assert made.exit_code == 0, made.output
    return json.loads(made.output)["id"]


def test_an_id_too_large_for_the_database_is_a_clear_error(site):
    fired = site.cli("events", "fire", "booking_modified", "property_uid=99999999999999999999",
                     "contract_uid=41")

    assert fired.exit_code == 1
    assert fired.output.strip() == (
        "Error: property_uid 99999999999999999999 is too large: ids go up to 2147483647")


def test_an_id_given_twice_is_refused_rather_than_the_last_one_taken(site):
    fired = site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41",
                     "contract_uid=42")

    assert fired.exit_code == 1
    assert fired.output.strip() == "Error: id contract_uid is given twice (41 and 42); give it once"


def test_firing_says_how_many_deliveries_it_queued(site):
    assert site.cli("events", "fire", "booking_modified", "property_uid=1",
                    "contract_uid=41").output.strip().endswith("; queued 0 webhook deliveries")
    _webhook(site)
    _webhook(site)

    said = site.cli("events", "fire", "booking_modified", "property_uid=1", "contract_uid=41")
    as_json = json.loads(site.cli("events", "fire", "booking_modified", "property_uid=1",
                                  "contract_uid=41", "--json").output)

    assert said.exit_code == 0, said.output
    assert said.output.strip().endswith("; queued 2 webhook deliveries")
    assert as_json["outcomes"] == ["queued 2 webhook deliveries"]


def test_ids_too_large_for_a_row_are_refused_by_every_command(site):
    huge = "99999999999999999999"
    for args in (("deliveries", "show", huge), ("webhooks", "delete", huge),
                 ("users", "create", "polly", "--property", huge)):
        result = site.cli(*args)
        assert result.exit_code == 2, args
        assert "is not in the range 1<=x<=2147483647" in result.output, args
    unknown = site.cli("users", "set-password", huge, "--password-stdin", input="x\n")
    assert unknown.output.strip() == f"Error: no manager '{huge}' (name one by username or by id)"


def test_the_console_answers_an_id_too_large_for_a_row_as_any_unknown_id(site):
    client = site.client()
    sign_in(client, "manager")
    huge = "99999999999999999999"

    edit = client.get(f"/console/webhooks/{huge}/edit", follow_redirects=True)
    listing = client.get(f"/console/webhooks/deliveries?webhook={huge}", follow_redirects=True)

    assert edit.status_code == 200
    assert f"no webhook {huge}" in flashes(edit)
    assert listing.status_code == 200
    assert f"no webhook {huge}" in flashes(listing)


def test_the_list_says_which_events_are_notices_to_the_manager_they_name(site):
    listed = {row["name"]: row for row in json.loads(site.cli("events", "list", "--json").output)}

    assert listed["webhook_circuit_opened"]["for_manager"] is True
    assert listed["manager_added"]["for_manager"] is False
    assert listed["booking_added"]["for_manager"] is False
