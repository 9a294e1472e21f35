"""Where webhooks may go: https:// URLs of public addresses only.

Checked twice: the URL's shape when an endpoint is saved, and every address
its host resolves to right before each send, because DNS can change between
the two (or answer differently on purpose). The send then connects to the very
address that was checked. EVENTHUB_WEBHOOKS_ALLOW_PRIVATE=1 (development and
tests) allows http:// and private addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from eventhub.services.errors import ValidationFailed

MAX_URL_LENGTH = 2000


class UnsafeAddress(Exception):
    """The endpoint's host resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query string


def parse_url(url: str, allow_private: bool, field: str = "url") -> Target:
    """The URL's parts, or ValidationFailed: https only, no credentials, a host, no fragment."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise ValidationFailed("the URL is too long or contains spaces", field=field)
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 literal
        raise ValidationFailed("this is not a URL", field=field) from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise ValidationFailed("webhook URLs must start with https://", field=field)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationFailed("the URL's port is not a number", field=field) from None
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise ValidationFailed("the URL needs a host and no credentials or fragment", field=field)
    literal = _ip_literal(parts.hostname)
    if literal is not None and not allow_private and not is_public(literal):
        raise ValidationFailed("webhooks may only go to public addresses", field=field)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path)


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast: not loopback, private, link-local (cloud metadata),
    shared (CGNAT), reserved or multicast; an IPv4-mapped IPv6 address by its IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(target: Target, allow_private: bool) -> str:
    """One address of the target's host, after checking every address it resolves to."""
    literal = _ip_literal(target.host)
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise UnsafeAddress(f"{target.host} does not resolve: {error}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise UnsafeAddress(f"{target.host} has no address")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeAddress(f"{target.host} resolves to a non-public address {address}")
    return str(addresses[0])
