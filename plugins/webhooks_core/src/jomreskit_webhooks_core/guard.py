"""The SSRF guard: deliveries only connect to public addresses, unless a range is opened.

The check is made on the address actually connected to: each new connection resolves the
host, checks every address it got, and connects to a checked address itself, so a name that
resolves to a public address at one moment and to 127.0.0.1 the next (DNS rebinding) gains
nothing. TLS still verifies the certificate against the host name.

Refused by default: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
(169.254/16 including cloud metadata, fe80::/10), shared CGNAT space (100.64/10), multicast,
reserved, unspecified, and IPv6 forms that embed such an IPv4 address (``::ffff:127.0.0.1``,
6to4, Teredo). ``JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS`` (comma list of CIDRs) opens ranges.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError

from jomreskit import ValidationError

from . import deadline

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(Exception):
    """A delivery's host resolves only to addresses the guard refuses; nothing was sent."""


def parse_networks(value: str | Iterable[str] | None) -> tuple[Network, ...]:
    """``JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS`` as networks; a clear error for a bad entry."""
    if not value:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for part in (str(p).strip() for p in parts):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValidationError(
                f"JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS: {part!r} is not a network (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def _why_refused(address: Address) -> str | None:
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a shared (CGNAT) address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class Guard:
    """Decides whether an address may be connected to."""

    def __init__(self, allowed: Iterable[Network] = ()) -> None:
        self.allowed = tuple(allowed)

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` is refused, or None when it may be connected to."""
        embedded = _embedded_ipv4(address)
        for candidate in (address, embedded) if embedded else (address,):
            if any(candidate in network for network in self.allowed
                   if network.version == candidate.version):
                return None
        reason = _why_refused(embedded or address)
        if reason is None and embedded is not None:
            reason = _why_refused(address)
        return f"{address} is {reason}" if reason else None

    def resolve(self, host: str, port: int) -> list[tuple[Any, ...]]:
        """getaddrinfo results for ``host`` that may be connected to; AddressRefused if none."""
        results = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        allowed, refusals = [], []
        for result in results:
            address = ipaddress.ip_address(result[4][0].split("%", 1)[0])
            reason = self.refusal(address)
            if reason is None:
                allowed.append(result)
            elif reason not in refusals:
                refusals.append(reason)
        if not allowed:
            raise AddressRefused(f"refused to connect to {host}: {'; '.join(refusals)} "
                                 "(JOMRESKIT_WEBHOOK_ALLOWED_NETWORKS opens chosen ranges)")
        return allowed


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return None


class _Guarded:
    """Mixed into urllib3's connections: connect only to addresses the guard allows."""

    guard: Guard

    def _new_conn(self) -> socket.socket:
        host = self._dns_host  # type: ignore[attr-defined]
        last: Exception | None = None
        try:
            results = self.guard.resolve(host.strip("[]"), self.port)  # type: ignore[attr-defined]
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined,arg-type]
        for result in results:
            # Connect to the checked address itself, not to the name resolved again.
            self._dns_host = result[4][0]
            try:
                sock = super()._new_conn()  # type: ignore[misc]
                deadline.watch(sock)
                return sock
            except NewConnectionError as exc:
                last = exc
            finally:
                self._dns_host = host
        assert last is not None
        raise last

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline.watch(self.sock)  # type: ignore[attr-defined]  # a kept-alive connection
        super().request(*args, **kwargs)  # type: ignore[misc]


def adapter(guard: Guard, pool_maxsize: int = 4) -> HTTPAdapter:
    """A requests adapter whose every connection goes through ``guard``."""

    class GuardedHTTPConnection(_Guarded, HTTPConnection):
        pass

    class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
        pass

    GuardedHTTPConnection.guard = guard
    GuardedHTTPSConnection.guard = guard

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": GuardedHTTPPool, "https": GuardedHTTPSPool}

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            # A proxy would make the guard check the proxy, not the destination.
            raise AddressRefused("webhook deliveries do not go through proxies")

    return GuardedAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
