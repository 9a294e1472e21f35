"""The codec remembers verified tokens, but never past their expiry or for another text."""

from __future__ import annotations

import time

import pytest

from eventhub.auth import access_tokens
from eventhub.auth.access_tokens import AccessTokenCodec, InvalidAccessToken

SECRET = "a-test-secret-that-is-long-enough-for-hs256-0123456789"


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = AccessTokenCodec(SECRET, ttl_seconds=60)
    token, _ = codec.issue(7, frozenset({"CUSTOMER"}))
    assert codec.decode(token).user_id == 7
    assert codec.decode(token).user_id == 7  # now from the cache

    later = time.time() + 120
    monkeypatch.setattr(access_tokens.time, "time", lambda: later)
    with pytest.raises(InvalidAccessToken, match="expired"):
        codec.decode(token)


def test_remembering_one_token_accepts_no_altered_copy() -> None:
    codec = AccessTokenCodec(SECRET, ttl_seconds=60)
    token, _ = codec.issue(7, frozenset({"CUSTOMER"}))
    codec.decode(token)
    header, payload, signature = token.split(".")
    altered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(InvalidAccessToken):
        codec.decode(altered)
    with pytest.raises(InvalidAccessToken):
        AccessTokenCodec("another-secret-of-enough-length-0123456789abcdef", 60).decode(token)


def test_the_cache_is_bounded() -> None:
    codec = AccessTokenCodec(SECRET, ttl_seconds=60)
    for user_id in range(access_tokens.VERIFIED_CACHE_SIZE + 10):
        codec.decode(codec.issue(user_id, frozenset())[0])
    assert len(codec._verified) == access_tokens.VERIFIED_CACHE_SIZE
