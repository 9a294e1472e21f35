"""EVENTHUB_CORS_ORIGINS: which browser origins may call the API (Starlette's CORSMiddleware).

Tokens travel in the Authorization header, never in cookies, so credentials
mode stays off. `*` lets any page call the API, but only anonymously: the
Authorization header is then not among the allowed request headers, so a
browser will not send a token to the API from an arbitrary page.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

# What Apollo Client, urql, graphql-request and GraphiQL send.
CLIENT_HEADERS = [
    "accept",
    "content-type",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-client-name",
    "graphql-client-version",
]
PREFLIGHT_CACHE_SECONDS = 600


def cors_middleware(origins: list[str]) -> list[Middleware]:
    """No middleware at all when no origin is configured: no CORS headers, as the contract says."""
    if not origins:
        return []
    anonymous_only = "*" in origins
    headers = CLIENT_HEADERS if anonymous_only else [*CLIENT_HEADERS, "authorization"]
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=["*"] if anonymous_only else origins,
            allow_methods=["GET", "POST"],
            allow_headers=headers,
            expose_headers=["retry-after"],
            max_age=PREFLIGHT_CACHE_SECONDS,
        )
    ]
