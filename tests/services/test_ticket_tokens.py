"""The QR token format: what a signed ticket looks like and what a verifier accepts.

A token is base64url (no padding) of version | key id | ticket id | event id |
Ed25519 signature: 85 bytes, 114 characters. Anything but the exact issued
token of a key still in the ring is InvalidToken.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import string
from urllib.parse import quote

import pytest
import segno
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from eventhub.services.ticket_tokens import (
    TOKEN_BYTES,
    InvalidToken,
    TicketClaims,
    TicketSigner,
    public_pem,
)

TOKEN_CHARS = 114  # documented in eventhub/services/ticket_tokens.py
QR_VERSION_LIMIT = 10
BASE64URL = string.ascii_letters + string.digits + "-_"
TICKET, EVENT = 4_200_017, 913


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kid_of(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return b64(hashlib.sha256(raw).digest()[:4])


def assert_invalid(signer: TicketSigner, token: str) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(token)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def signer(key: Ed25519PrivateKey) -> TicketSigner:
    return TicketSigner(key)


@pytest.fixture
def token(signer: TicketSigner) -> str:
    return signer.sign(TICKET, EVENT)


def test_a_signed_token_verifies_back_to_its_ticket_event_and_key(
    signer: TicketSigner, key: Ed25519PrivateKey, token: str
) -> None:
    claims = signer.verify(token)
    assert claims == TicketClaims(ticket_id=TICKET, event_id=EVENT, key_id=kid_of(key))
    raw = unb64(token)
    assert (raw[0], raw[1:5], raw[5:13], raw[13:21]) == (
        1,
        unb64(kid_of(key)),
        TICKET.to_bytes(8, "big"),
        EVENT.to_bytes(8, "big"),
    )
    assert signer.sign(TICKET, EVENT) == token  # Ed25519 is deterministic: nothing to store
    assert signer.sign(TICKET + 1, EVENT) != token


def test_the_same_key_loaded_from_pem_verifies_tokens_of_another_process(
    key: Ed25519PrivateKey, token: str
) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert TicketSigner.from_pem(pem).verify(token).ticket_id == TICKET


def test_the_token_is_url_safe_and_of_the_documented_length(token: str) -> None:
    print(f"\ntoken length: {len(token)} characters ({TOKEN_BYTES} bytes)")
    assert (len(token), TOKEN_BYTES) == (TOKEN_CHARS, 85)
    assert set(token) <= set(BASE64URL)
    assert quote(token, safe="") == token


@pytest.mark.parametrize(
    ("ticket_id", "event_id"), [(1, 1), (TICKET, EVENT), (2**63, 2**64 - 1)], ids=str
)
def test_the_qr_code_of_any_token_is_small_at_error_correction_m(
    signer: TicketSigner, ticket_id: int, event_id: int
) -> None:
    token = signer.sign(ticket_id, event_id)
    code = segno.make(token, error="m", micro=False)
    print(f"\nQR of a {len(token)}-character token at M: version {code.version}")
    assert len(token) == TOKEN_CHARS
    assert code.error == "M"
    assert code.version <= QR_VERSION_LIMIT
    assert code.version == 7  # as documented in ticket_tokens.py


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_flipping_any_byte_of_the_token_makes_it_invalid(
    signer: TicketSigner, token: str, mask: int
) -> None:
    raw = unb64(token)
    for index in range(len(raw)):
        tampered = raw[:index] + bytes([raw[index] ^ mask]) + raw[index + 1 :]
        assert_invalid(signer, b64(tampered))


def test_another_ticket_id_under_the_same_signature_is_invalid(
    signer: TicketSigner, token: str
) -> None:
    raw = bytearray(unb64(token))
    raw[5:13] = (TICKET + 1).to_bytes(8, "big")
    assert_invalid(signer, b64(bytes(raw)))


def test_only_the_exact_issued_text_verifies(signer: TicketSigner, token: str) -> None:
    accepted = []
    for index in range(len(token)):
        for character in BASE64URL.replace(token[index], ""):
            altered = token[:index] + character + token[index + 1 :]
            try:
                signer.verify(altered)
            except InvalidToken:
                continue
            accepted.append(altered)
    variants = [token + "==", token.replace("-", "+").replace("_", "/"), token + "A"]
    for altered in variants:
        if altered == token:
            continue
        try:
            signer.verify(altered)
        except InvalidToken:
            continue
        accepted.append(altered)
    assert accepted == []


@pytest.mark.parametrize("keep", [0, 1, 4, 20, 60, 113])
def test_a_truncated_token_is_invalid(signer: TicketSigner, token: str, keep: int) -> None:
    assert_invalid(signer, token[:keep])


def test_a_token_with_extra_bytes_is_invalid(signer: TicketSigner, token: str) -> None:
    assert_invalid(signer, b64(unb64(token) + b"\x00"))
    assert_invalid(signer, token + token)


@pytest.mark.parametrize(
    "garbage",
    ["", " ", "not-a-token", "!!!!", "A" * TOKEN_CHARS, "=" * TOKEN_CHARS, "é" * 60, "A" * 10_000],
    ids=["empty", "space", "words", "symbols", "zeros", "padding", "unicode", "huge"],
)
def test_garbage_is_invalid(signer: TicketSigner, garbage: str) -> None:
    assert_invalid(signer, garbage)


def test_a_token_signed_by_an_unknown_key_is_invalid(signer: TicketSigner) -> None:
    stranger = TicketSigner(Ed25519PrivateKey.generate())
    assert_invalid(signer, stranger.sign(TICKET, EVENT))


def test_a_forgery_that_claims_our_key_id_is_invalid(
    signer: TicketSigner, key: Ed25519PrivateKey
) -> None:
    forger = Ed25519PrivateKey.generate()
    header = bytes([1]) + unb64(kid_of(key)) + TICKET.to_bytes(8, "big") + EVENT.to_bytes(8, "big")
    assert_invalid(signer, b64(header + forger.sign(header)))


def test_an_unknown_version_is_invalid_even_when_signed(key: Ed25519PrivateKey) -> None:
    signer = TicketSigner(key)
    header = bytes([2]) + unb64(kid_of(key)) + TICKET.to_bytes(8, "big") + EVENT.to_bytes(8, "big")
    assert_invalid(signer, b64(header + key.sign(header)))


def test_after_rotation_old_tokens_verify_until_their_key_is_retired(
    key: Ed25519PrivateKey, token: str
) -> None:
    new_key = Ed25519PrivateKey.generate()
    rotated = TicketSigner.from_pem(
        new_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        public_pem(key),
    )
    assert rotated.key_ids == [kid_of(new_key), kid_of(key)]  # signing key first
    assert rotated.verify(token) == TicketClaims(TICKET, EVENT, kid_of(key))
    fresh = rotated.sign(TICKET, EVENT)
    assert fresh != token
    assert rotated.verify(fresh).key_id == kid_of(new_key)

    retired = TicketSigner(new_key)  # the old public key dropped from the ring
    assert retired.verify(fresh).ticket_id == TICKET
    assert_invalid(retired, token)


def test_the_jwks_lists_every_verification_key_as_okp_ed25519(key: Ed25519PrivateKey) -> None:
    older = Ed25519PrivateKey.generate()
    signer = TicketSigner(key, [older.public_key()])
    document = json.loads(signer.jwks())
    assert [jwk["kid"] for jwk in document["keys"]] == [kid_of(key), kid_of(older)]
    for jwk, private in zip(document["keys"], [key, older], strict=True):
        assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
        assert (jwk["use"], jwk["alg"]) == ("sig", "EdDSA")
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", jwk["x"])  # 32 bytes, unpadded base64url
        assert "d" not in jwk  # never the private part
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert unb64(jwk["x"]) == raw


def test_a_token_verifies_with_its_jwks_key_and_nothing_else(
    signer: TicketSigner, token: str
) -> None:
    """What an offline scanner does: pick the JWK by the token's key id, verify the signature."""
    raw = unb64(token)
    keys = {jwk["kid"]: jwk for jwk in json.loads(signer.jwks())["keys"]}
    jwk = keys[b64(raw[1:5])]
    public = Ed25519PublicKey.from_public_bytes(unb64(jwk["x"]))
    public.verify(raw[21:], raw[:21])  # raises InvalidSignature if it does not verify
    assert int.from_bytes(raw[5:13], "big") == TICKET
