"""The SSRF guard refuses internal addresses, checked on the address actually connected to."""

from __future__ import annotations

import ipaddress
import json
import socket

import pytest
from jomreskit_webhooks_core.guard import Guard, parse_networks

from .test_delivery import create, deliveries, drain, fire


@pytest.fixture
def closed_site(make_webhook_site):
    """A site as deployed: no network opened to deliveries (the test default opens loopback)."""
    return make_webhook_site(JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS="")


@pytest.fixture
def listener():
    """A loopback socket that accepts nothing by itself: afterwards, we ask it who connected."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def nobody_connected(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return True
    return False


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_loopback_is_refused_before_connecting(closed_site, listener, host):
    port = listener.getsockname()[1]
    create(closed_site, f"http://{host}:{port}/hook")
    fire(closed_site)
    assert drain(closed_site) == {"attempts": 1, "succeeded": 0, "retrying": 0, "failed": 1}

    assert nobody_connected(listener)
    [delivery] = deliveries(closed_site)
    assert delivery.status == "failed"  # not retried: the address will not become allowed
    assert "loopback" in delivery.last_error
    assert delivery.last_error.startswith("refused to connect")


@pytest.mark.parametrize("url, reason", [
    ("http://10.1.2.3/hook", "a private address"),
    ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
    ("http://[::1]/hook", "a loopback address"),
    ("http://100.64.0.1/hook", "a shared (CGNAT) address"),
    ("https://192.168.1.1/hook", "a private address"),
])
def test_internal_addresses_are_refused_with_the_reason(closed_site, url, reason):
    create(closed_site, url)
    fire(closed_site)
    drain(closed_site)
    detail = json.loads(closed_site.cli("deliveries", "show", "1", "--json").output)
    assert detail["status"] == "failed"
    assert reason in detail["last_error"]
    assert detail["attempt_log"][0]["status_code"] is None


def test_an_oauth_token_url_goes_through_the_guard_too(closed_site, listener):
    port = listener.getsockname()[1]
    create(closed_site, "http://10.9.9.9/hook", "--authmethod", "oauth",
           "--setting", "client_id=a", "--setting", "client_secret=b",
           "--setting", f"token_url=http://127.0.0.1:{port}/token")
    fire(closed_site)
    drain(closed_site)
    [delivery] = deliveries(closed_site)
    assert "loopback" in delivery.last_error
    assert nobody_connected(listener)


def test_allowed_networks_open_chosen_ranges(make_webhook_site, listener):
    site = make_webhook_site(JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS="10.0.0.0/8, 127.0.0.1/32")
    port = listener.getsockname()[1]
    create(site, f"http://127.0.0.1:{port}/hook")
    listener.setblocking(True)
    listener.settimeout(0.2)
    site.kit.settings["JOMRESKIT_WEBHOOK_TIMEOUT"] = 0.2  # our listener never answers
    fire(site)
    drain(site)
    conn, _ = listener.accept()  # it did connect this time
    conn.close()


@pytest.mark.parametrize("address, refused", [
    ("8.8.8.8", False),
    ("2606:4700:4700::1111", False),
    ("127.0.0.1", True),
    ("127.8.9.10", True),
    ("10.0.0.1", True),
    ("172.16.5.4", True),
    ("192.168.0.1", True),
    ("169.254.169.254", True),
    ("100.64.0.1", True),
    ("100.127.255.254", True),
    ("224.0.0.1", True),
    ("239.255.255.250", True),
    ("0.0.0.0", True),
    ("240.0.0.1", True),
    ("255.255.255.255", True),
    ("::1", True),
    ("::", True),
    ("fe80::1", True),
    ("fc00::1", True),
    ("fd12:3456::1", True),
    ("ff02::1", True),
    ("::ffff:127.0.0.1", True),
    ("::ffff:10.0.0.1", True),
    ("::ffff:169.254.169.254", True),
    ("2002:7f00:1::", True),  # 6to4 wrapping 127.0.0.1
])
def test_the_guard_knows_internal_addresses(address, refused):
    assert (Guard().refusal(ipaddress.ip_address(address)) is not None) is refused


def test_an_opened_range_covers_its_ipv4_mapped_form():
    guard = Guard(parse_networks("127.0.0.0/8"))
    assert guard.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert guard.refusal(ipaddress.ip_address("::1")) is not None


def test_a_bad_allowed_network_is_named():
    with pytest.raises(Exception, match="'nonsense' is not a network"):
        parse_networks("10.0.0.0/8,nonsense")
