"""Webhooks go only to https:// URLs of public addresses, checked again after DNS at send time."""

from __future__ import annotations

import ipaddress

import pytest

from eventhub.services.errors import ValidationFailed
from eventhub.services.webhook_addresses import UnsafeAddress, is_public, parse_url, resolve
from eventhub.services.webhook_sender import WebhookSender


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # not https
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",  # credentials
        "https:///nohost",
        "https://127.0.0.1/hook",  # loopback
        "https://10.1.2.3/hook",  # private
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "https://[::1]/hook",
        "https://[fd00:ec2::254]/hook",  # AWS metadata over IPv6 (unique local)
        "https://[::ffff:10.0.0.1]/hook",  # IPv4-mapped private
        "https://100.64.0.1/hook",  # shared address space (CGNAT)
        "https://0.0.0.0/hook",
        "https://example.com/a b",
    ],
)
def test_unsafe_urls_are_refused_when_saved(url: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_url(url, allow_private=False)


def test_public_https_urls_pass_and_private_ones_only_when_allowed() -> None:
    target = parse_url("https://hooks.example.com:8443/in?x=1", allow_private=False)
    assert (target.host, target.port, target.path) == ("hooks.example.com", 8443, "/in?x=1")
    assert parse_url("http://127.0.0.1:9000/h", allow_private=True).port == 9000
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert not is_public(ipaddress.ip_address("224.0.0.1"))


async def test_a_name_that_resolves_to_loopback_is_refused_at_send_time() -> None:
    target = parse_url("https://localhost/hook", allow_private=False)  # a name passes the shape
    with pytest.raises(UnsafeAddress):
        await resolve(target, allow_private=False)
    assert await resolve(target, allow_private=True) in ("127.0.0.1", "::1")


async def test_the_sender_refuses_a_loopback_name_without_connecting() -> None:
    sender = WebhookSender(allow_private=False, timeout=2)
    try:
        result = await sender.post("https://localhost:1/hook", {}, b"{}")
    finally:
        await sender.close()
    assert result.status_code is None
    assert "non-public address" in (result.error or "")
