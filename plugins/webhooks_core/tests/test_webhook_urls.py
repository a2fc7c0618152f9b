"""A webhook URL that could never be sent to is refused when it is saved, with one clear
message, whether from the command line, the console or an auth method's settings."""

from __future__ import annotations

import json

import pytest

from jomreskit.console.testing import flashes, sign_in, token_in
from jomreskit.core.errors import ValidationError
from jomreskit.core.urls import check_http_url

REFUSED = {
    "http://exa mple.com/": "it has a space or a control character in it",
    "http://127.0.0.1:99999/": "the port must be between 1 and 65535",
    "http://[::1/": "the address in [brackets] is not a valid IPv6 address",
    "http://[zz]/": "the address in [brackets] is not a valid IPv6 address",
    "http://example.com:http/": "the port must be a number",
    "http://example.com:0/": "port 0 cannot be sent to",
    "http://a..b/": "'a..b' is not a valid host name",
    "http://exa%mple.com/": "'exa%mple.com' is not a valid host name",
    "ftp://example.com/": "it must start with http:// or https://",
    "example.com/hook": "it must start with http:// or https://",
    "http:///hook": "it has no host name",
    "http://user:pw@example.com/": "credentials belong in the auth method's settings, not in "
                                   "the URL",
}
ACCEPTED = ("http://127.0.0.1:8001/", "https://hooks.example.com/in?x=1", "http://[::1]:80/",
            "https://bücher.example/", "http://my_service:8080/")


@pytest.mark.parametrize("url", sorted(REFUSED))
def test_a_url_that_cannot_be_sent_to_is_refused_with_the_reason(url):
    with pytest.raises(ValidationError) as refused:
        check_http_url(url, "the webhook URL")
    assert refused.value.message == (
        f"the webhook URL {url!r} is not a usable http(s) URL: {REFUSED[url]}")


@pytest.mark.parametrize("url", ACCEPTED)
def test_urls_that_can_be_sent_to_are_kept(url):
    assert check_http_url(f"  {url} ") == url


def test_webhooks_create_and_update_refuse_a_bad_url_in_one_line(site):
    for url in ("http://exa mple.com/", "http://127.0.0.1:99999/", "http://[::1/"):
        made = site.cli("webhooks", "create", "--manager", "manager", "--url", url,
                        "--authmethod", "basic", "--setting", "username=u",
                        "--setting", "password=p")
        assert made.exit_code == 1, url
        assert made.output.startswith(f"Error: the webhook URL {url!r} is not a usable"), url
        assert "unexpected error" not in made.output
        assert len(made.output.strip().splitlines()) == 1
    good = site.cli("webhooks", "create", "--manager", "manager", "--url",
                    "http://127.0.0.1:8001/", "--authmethod", "basic", "--setting",
                    "username=u", "--setting", "password=p", "--json")
    webhook_id = str(json.loads(good.output)["id"])

    changed = site.cli("webhooks", "update", webhook_id, "--url", "http://127.0.0.1:99999/")

    assert changed.exit_code == 1
    assert "the port must be between 1 and 65535" in changed.output


def test_the_console_form_refuses_a_bad_url_with_the_reason(site):
    client = site.client()
    sign_in(client, "manager")
    form = client.get("/console/webhooks/new")

    answer = client.post("/console/webhooks/new", data={
        "csrf_token": token_in(form), "url": "http://127.0.0.1:99999/", "authmethod": "basic",
        "setting-basic-username": "u", "setting-basic-password": "p"})

    assert answer.status_code == 422
    assert flashes(answer) == ["the webhook URL 'http://127.0.0.1:99999/' is not a usable "
                               "http(s) URL: the port must be between 1 and 65535"]


def test_a_url_setting_of_an_auth_method_is_checked_the_same_way(site):
    made = site.cli("webhooks", "create", "--manager", "manager", "--url",
                    "http://127.0.0.1:8001/", "--authmethod", "oauth",
                    "--setting", "client_id=c", "--setting", "client_secret=s",
                    "--setting", "token_url=http://[::1/token")

    assert made.exit_code == 1
    assert made.output.strip() == (
        "Error: setting token_url 'http://[::1/token' is not a usable http(s) URL: the address "
        "in [brackets] is not a valid IPv6 address")
