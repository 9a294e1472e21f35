"""Short-lived HS256 access tokens (joserfc): `sub`, `roles`, `exp`, `iat`, `jti`."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

ALGORITHM = "HS256"
VERIFIED_CACHE_SIZE = 4096


class InvalidAccessToken(Exception):
    """Tampered, malformed or expired; the message is safe to show."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    roles: frozenset[str]
    issued_at: int
    expires_at: int
    token_id: str


class AccessTokenCodec:
    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self._key = OctKey.import_key(secret_key.encode())
        self._ttl = ttl_seconds
        # Tokens whose signature already verified: a client sends the same token with
        # every request (a door scanner, hundreds a minute), and the rate limiter and the
        # viewer both read it. Expiry is still checked on every use.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def issue(self, user_id: int, roles: frozenset[str]) -> tuple[str, datetime]:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "roles": sorted(roles),
            "iat": now,
            "exp": now + self._ttl,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode({"alg": ALGORITHM}, claims, self._key, algorithms=[ALGORITHM])
        return token, datetime.fromtimestamp(now + self._ttl, UTC)

    def decode(self, token: str) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        if claims.expires_at <= time.time():
            raise InvalidAccessToken("access token has expired")
        return claims

    def _decode(self, token: str) -> AccessClaims:
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
        except (JoseError, ValueError) as error:
            raise InvalidAccessToken("access token is invalid") from error
        claims = decoded.claims
        try:
            expires_at = int(claims["exp"])
            user_id = int(claims["sub"])
            roles = frozenset(str(r) for r in claims.get("roles", []))
            issued_at = int(claims["iat"])
            token_id = str(claims["jti"])
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidAccessToken("access token is invalid") from error
        return AccessClaims(user_id, roles, issued_at, expires_at, token_id)
