"""Managers on the command line: a password from stdin or a prompt, set later, and one rule
for naming a manager (username or id) in every command."""

from __future__ import annotations

import json

from jomreskit.console.testing import sign_in


def test_a_manager_created_with_password_stdin_signs_in_to_the_console(site):
    made = site.cli("users", "create", "polly", "--property", "1", "--password-stdin",
                    input="fawlty-towers-1975\n")

    assert made.exit_code == 0, made.output
    assert "fawlty" not in made.output
    assert sign_in(site.client(), "polly", "fawlty-towers-1975").status_code == 302


def test_a_manager_created_with_the_prompt_gives_the_password_twice(site):
    made = site.cli("users", "create", "polly", "--password-prompt",
                    input="fawlty-towers-1975\nfawlty-towers-1975\n")

    assert made.exit_code == 0, made.output
    assert sign_in(site.client(), "polly", "fawlty-towers-1975").status_code == 302


def test_a_manager_created_without_a_password_gets_one_later(site):
    assert site.cli("users", "create", "polly", "--property", "1").exit_code == 0
    assert sign_in(site.client(), "polly", "").status_code == 401

    asked = site.cli("users", "set-password", "polly", input="basil\nbasil\n")

    assert asked.exit_code == 0, asked.output
    assert "password set for polly" in asked.output
    assert sign_in(site.client(), "polly", "basil").status_code == 302


def test_set_password_refuses_an_empty_password_and_an_unknown_manager(site):
    empty = site.cli("users", "set-password", "manager", "--password-stdin", input="\n")
    unknown = site.cli("users", "set-password", "nobody", "--password-stdin", input="x\n")

    assert (empty.exit_code, empty.output.strip()) == (1, "Error: the password is empty")
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "Error: no manager 'nobody' (name one by username or by id)"


def test_the_help_of_users_create_names_only_options_that_exist(site):
    shown = site.cli("users", "create", "--help").output

    assert "--password-stdin" in shown and "--password-prompt" in shown
    assert "--prompt " not in shown and "if --prompt" not in shown


def test_a_username_cannot_be_a_whole_number(site):
    refused = site.cli("users", "create", "1975")

    assert refused.exit_code == 1
    assert "cannot be a whole number" in refused.output


def test_every_command_names_a_manager_by_username_or_by_id(site):
    manager_id = next(u["manager_id"] for u in json.loads(site.cli("users", "list",
                      "--json").output) if u["username"] == "manager")

    for name in ("manager", str(manager_id)):
        key = site.cli("keys", "create", "--manager", name, "--scope", "webhooks_get", "--json")
        assert key.exit_code == 0, key.output
        listed = site.cli("keys", "list", "--manager", name, "--json")
        assert listed.exit_code == 0, listed.output
        hook = site.cli("webhooks", "create", "--manager", name, "--url",
                        "http://127.0.0.1:8001/", "--authmethod", "basic", "--setting",
                        "username=u", "--setting", "password=p", "--json")
        assert hook.exit_code == 0, hook.output
        password = site.cli("users", "set-password", name, "--password-stdin", input="m\n")
        assert password.exit_code == 0, password.output
    assert len(json.loads(site.cli("keys", "list", "--manager", "manager", "--json").output)) == 2
