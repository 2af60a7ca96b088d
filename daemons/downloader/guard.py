"""Which URLs and network addresses the downloader may fetch from.

A downloader that fetches whatever URL a message names could be pointed at the machine's own services
(a database on localhost, a cloud metadata address). So every URL must be http or https, and every
address a host name resolves to is checked before connecting: loopback, private, link-local, shared,
multicast and reserved addresses are refused unless the daemon's options allow them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")


class URLRefused(ValueError):
    """The URL is not one the downloader fetches (bad scheme, no host, forbidden address)."""


@dataclass(frozen=True)
class AddressPolicy:
    """Decides which resolved addresses a connection may go to."""

    allow_private_networks: bool = False
    # private networks allowed even when allow_private_networks is false (e.g. an intranet mirror)
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_options(cls, allow_private_networks: bool, allowed_networks: Iterable[str]) -> AddressPolicy:
        networks = []
        for text in allowed_networks:
            try:
                networks.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"downloader option allowed_networks: {text!r} is not a network ({exc}); "
                    f"write addresses or CIDR blocks such as 10.1.2.0/24, 192.0.2.7"
                ) from None
        return cls(bool(allow_private_networks), tuple(networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why a connection to `address` is refused, or None when it is allowed."""
        if self.allow_private_networks or not is_non_public(address):
            return None
        if any(address in network for network in self.allowed_networks if network.version == address.version):
            return None
        return (f"{address} is a {describe(address)} address; set allow_private_networks = true (or list it in "
                f"allowed_networks) in the downloader's [[[options]]] to allow it")


def unmapped(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:127.0.0.1), else the address itself."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_non_public(address: IPAddress) -> bool:
    address = unmapped(address)
    return not address.is_global or address.is_multicast


def describe(address: IPAddress) -> str:
    address = unmapped(address)
    for attribute, name in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                            ("is_multicast", "multicast"), ("is_unspecified", "unspecified"),
                            ("is_private", "private")):
        if getattr(address, attribute):
            return name
    return "non-public"


def check_url(url: object) -> SplitResult:
    """The parsed URL when it is an http(s) URL with a host; URLRefused naming the problem otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise URLRefused(f"url = {url!r}: expected an http:// or https:// URL")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise URLRefused(f"url = {url!r}: scheme {parts.scheme or '(none)'!r} is not supported; use http:// or https://")
    if not parts.hostname:
        raise URLRefused(f"url = {url!r}: the URL names no host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise URLRefused(f"url = {url!r}: the port is not a number from 0 to 65535") from None
    return parts


def resolve(host: str, port: int) -> list[tuple[int, IPAddress]]:
    """(address family, address) pairs the host name resolves to, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectionError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    seen: list[tuple[int, IPAddress]] = []
    for family, _, _, _, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if (family, address) not in seen:
            seen.append((family, address))
    return seen


def connect_checked(host: str, port: int, timeout: float, policy: AddressPolicy) -> socket.socket:
    """A TCP connection to the first allowed address of `host`, checked after resolving.

    Note: the address is checked and then connected to directly, so a host name that resolves to a
    public address at check time cannot switch to a private one at connect time (DNS rebinding).
    """
    candidates = resolve(host, port)
    refusals = []
    errors = []
    for family, address in candidates:
        why = policy.refusal(address)
        if why is not None:
            refusals.append(why)
            continue
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((str(address), port))
        except OSError as exc:
            sock.close()
            errors.append(f"{address}: {exc.strerror or exc}")
            continue
        return sock
    if errors:
        raise ConnectionError(f"cannot connect to {host} port {port}: {'; '.join(errors)}")
    raise URLRefused(f"host {host!r} refused: {'; '.join(refusals)}")
