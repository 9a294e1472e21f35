"""Every GraphQL error leaves with an `extensions.code`; unexpected ones are masked.

An unexpected exception is logged with the request id and replaced by an
INTERNAL error that carries the id and nothing else: no message, no trace.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from eventhub.models.outage import is_outage
from eventhub.resolvers.outcomes import BadUserInput, SessionExpired, SubscriptionExpired
from eventhub.services.errors import DomainError, LoginThrottled, PermissionDenied

logger = logging.getLogger("eventhub.graphql")
KNOWN_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "QUERY_TOO_COMPLEX",
    "RATE_LIMITED",
    "UNAVAILABLE",
    "INTERNAL",
}
PARSER_CAPS = ("Document contains more than", "Source contains more than", "nested too deeply")


def classify(error: GraphQLError, request_id: str) -> GraphQLError:
    code = (error.extensions or {}).get("code")
    if code in KNOWN_CODES:
        return error
    original = error.original_error
    if isinstance(original, GraphQLError) and original is not error:
        return classify(original, request_id)
    if isinstance(original, LoginThrottled):
        limited = _with_code(error, "RATE_LIMITED", str(original))
        limited.extensions = {**(limited.extensions or {}), "retryAfter": original.retry_after}
        return limited
    if isinstance(original, SessionExpired):
        return _with_code(error, "UNAUTHENTICATED", str(original))
    if isinstance(original, SubscriptionExpired):
        return _with_code(error, "SUBSCRIPTION_EXPIRED", str(original))
    if isinstance(original, PermissionDenied):
        return _with_code(error, "FORBIDDEN", str(original) or "not allowed")
    if isinstance(original, (BadUserInput, DomainError)):
        return _with_code(error, "BAD_USER_INPUT", str(original))
    if original is not None and is_outage(original):
        # One line per outage is logged by the gate; no trace per request.
        return _with_code(error, "UNAVAILABLE", "the database is unreachable; retry shortly")
    if original is None:
        # graphql-core's caps, set by the query gate (schema/limits.py): "Syntax Error:
        # Document contains more than N tokens…", "Source contains more than N code points…",
        # "Document is nested too deeply…"
        complex_ = any(cap in error.message for cap in PARSER_CAPS)
        return _with_code(
            error, "QUERY_TOO_COMPLEX" if complex_ else "BAD_USER_INPUT", error.message
        )
    logger.error("request %s failed", request_id, exc_info=original)
    return _with_code(error, "INTERNAL", f"internal error (request id {request_id})")


def _with_code(error: GraphQLError, code: str, message: str) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code},
    )


def classify_all(errors: list[GraphQLError] | None, context: Any) -> list[GraphQLError] | None:
    if not errors:
        return errors
    request_id = getattr(context, "request_id", "-")
    return [classify(e, request_id) for e in errors]
