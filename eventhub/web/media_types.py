"""Content negotiation for GraphQL over HTTP (the GraphQL-over-HTTP spec's two media types)."""

from __future__ import annotations

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Preference when the client ranks several equally: the spec's own type first.
_RANK = {GRAPHQL_RESPONSE: 3, JSON: 2, "application/*": 1, "*/*": 1}


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def response_media_type(accept: str | None) -> str | None:
    """The media type to answer in, or None when the client accepts neither (406).

    No Accept header means a legacy client: application/json, as the spec says.
    A wildcard gets application/json too, which every client can read.
    """
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int] = (0.0, 0)
    chosen: str | None = None
    for part in accept.split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        rank = _RANK.get(media)
        quality = _quality(params)
        if rank is None or quality <= 0:
            continue
        if (quality, rank) > best:
            best = (quality, rank)
            chosen = GRAPHQL_RESPONSE if media == GRAPHQL_RESPONSE else JSON
    return chosen


def accepts_html(accept: str | None) -> bool:
    """A browser asking for a page (GraphiQL), not a client asking for JSON."""
    return bool(accept) and "text/html" in (accept or "").lower()
