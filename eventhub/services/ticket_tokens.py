"""The QR token format, owned here and nowhere else: sign, parse, verify.

A token is base64url (no padding) of
    version (1 byte) | key id (4 bytes) | ticket id (8) | event id (8) | Ed25519 signature (64)
= 85 bytes → 114 characters, which fits a version-7 QR code at error
correction M. Ed25519 signatures are deterministic, so a ticket's token never
changes and need not be stored. The key id is the first 4 bytes of SHA-256
of the raw public key; scanners pick the verification key by it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = 1
_HEADER = struct.Struct(">B4sQQ")
SIGNATURE_LENGTH = 64
TOKEN_BYTES = _HEADER.size + SIGNATURE_LENGTH
MAX_TOKEN_CHARS = 200


class InvalidToken(Exception):
    """Forged, truncated, malformed or signed by a key we do not know."""


@dataclass(frozen=True)
class TicketClaims:
    ticket_id: int
    event_id: int
    key_id: str


def key_id_of(public_key: Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:4]


def split_public_pems(bundle: str) -> list[Ed25519PublicKey]:
    keys = []
    marker = "-----END PUBLIC KEY-----"
    for chunk in bundle.split(marker):
        if "-----BEGIN PUBLIC KEY-----" in chunk:
            public = serialization.load_pem_public_key((chunk.strip() + "\n" + marker).encode())
            if isinstance(public, Ed25519PublicKey):
                keys.append(public)
    return keys


def public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TicketSigner:
    """Signs with the newest key; verifies with any key still in the ring."""

    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        older_public_keys: list[Ed25519PublicKey] | None = None,
    ) -> None:
        self._signing_key = signing_key
        self._signing_kid = key_id_of(signing_key.public_key())
        self._verify: dict[bytes, Ed25519PublicKey] = {self._signing_kid: signing_key.public_key()}
        for key in older_public_keys or []:
            self._verify.setdefault(key_id_of(key), key)

    @classmethod
    def from_pem(cls, pem: str, verify_keys_pem: str = "") -> TicketSigner:
        """The signing key (PEM private) and any retired public keys (a PEM bundle)."""
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("EVENTHUB_TICKET_SIGNING_KEY must be an Ed25519 private key (PEM)")
        return cls(key, split_public_pems(verify_keys_pem))

    def without(self, retired: set[str]) -> TicketSigner:
        """The same ring minus retired keys (never the signing key: it signs what is sold now)."""
        signer = TicketSigner(self._signing_key)
        for kid, key in self._verify.items():
            if _b64(kid) not in retired:
                signer._verify.setdefault(kid, key)
        return signer

    @staticmethod
    def kid_text(kid: bytes) -> str:
        return _b64(kid)

    @property
    def key_ids(self) -> list[str]:
        return [_b64(kid) for kid in self._verify]

    def sign(self, ticket_id: int, event_id: int) -> str:
        header = _HEADER.pack(VERSION, self._signing_kid, ticket_id, event_id)
        return _b64(header + self._signing_key.sign(header))

    def verify(self, token: str) -> TicketClaims:
        """Signature first: nothing in a token is trusted before it verifies."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("malformed token")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidToken("malformed token") from None
        # One text per token: base64 decoding forgives padding, the other alphabet and
        # the last character's unused bits, so only the canonical encoding is accepted.
        if len(raw) != TOKEN_BYTES or _b64(raw) != token:
            raise InvalidToken("malformed token")
        header, signature = raw[: _HEADER.size], raw[_HEADER.size :]
        version, kid, ticket_id, event_id = _HEADER.unpack(header)
        key = self._verify.get(kid)
        if version != VERSION or key is None:
            raise InvalidToken("unknown token version or key")
        try:
            key.verify(signature, header)
        except InvalidSignature:
            raise InvalidToken("bad signature") from None
        return TicketClaims(ticket_id=ticket_id, event_id=event_id, key_id=_b64(kid))

    def jwks(self) -> str:
        """Every verification key as a JWKS (OKP / Ed25519), for offline scanners."""
        keys = []
        for kid, key in self._verify.items():
            raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            keys.append(
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64(raw),
                    "kid": _b64(kid),
                    "use": "sig",
                    "alg": "EdDSA",
                }
            )
        return json.dumps({"keys": keys})
