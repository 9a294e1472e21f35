"""Reads a GraphQL-over-HTTP request into operations, or a request-level error.

Request-level errors (bad JSON, no query, a mutation by GET, a batch too large)
are `RequestError`s: the handler answers them as JSON `{"errors": [...]}` with
an `extensions.code`, never as plain text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

BAD_REQUEST = "BAD_USER_INPUT"  # the contract's code for a malformed request
BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
JSON_TYPES = ("application/json", "application/graphql-response+json")


@dataclass
class RequestError(Exception):
    """A request the server cannot run; answered with `status` and one GraphQL error."""

    status: int
    message: str
    code: str = BAD_REQUEST
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


@dataclass
class Operation:
    """One operation's parameters, as the GraphQL-over-HTTP spec names them."""

    query: str | None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    extensions: dict[str, Any] | None = None
    document_id: str | None = None  # a persisted document's id, instead of `query`


def operation_from(data: object) -> Operation:
    """Checks each parameter's JSON type: a wrong one is the client's error, not ours."""
    if not isinstance(data, dict):
        raise RequestError(400, "each operation must be a JSON object")
    query, variables = data.get("query"), data.get("variables")
    name, extensions = data.get("operationName"), data.get("extensions")
    document_id = data.get("documentId")
    if not isinstance(query, str | None):
        raise RequestError(400, "`query` must be a string")
    if not isinstance(variables, dict | None):
        raise RequestError(400, "`variables` must be an object")
    if not isinstance(name, str | None):
        raise RequestError(400, "`operationName` must be a string")
    if not isinstance(extensions, dict | None):
        raise RequestError(400, "`extensions` must be an object")
    if not isinstance(document_id, str | None):
        raise RequestError(400, "`documentId` must be a string")
    return Operation(query, variables, name, extensions, document_id)


def _json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise RequestError(400, f"{what} is not valid JSON") from None


def from_query_string(request: Request) -> Operation:
    """GET: `query`, `operationName`, and `variables`/`extensions` as JSON text."""
    params = request.query_params
    data: dict[str, Any] = {
        name: params.get(name) for name in ("query", "operationName", "documentId")
    }
    for name in ("variables", "extensions"):
        if params.get(name):
            data[name] = _json(params[name], f"the `{name}` parameter")
    return operation_from(data)


def operations_from_json(body: bytes, max_batch: int) -> Operation | list[Operation | RequestError]:
    """One operation, or a batch (a JSON array) whose malformed entries become their errors."""
    data = _json(body, "the request body")
    if not isinstance(data, list):
        return operation_from(data)
    if not data:
        raise RequestError(400, "a batch must hold at least one operation")
    if len(data) > max_batch:
        message = f"a batch may hold at most {max_batch} operations; this one has {len(data)}"
        raise RequestError(400, message, BATCH_TOO_LARGE)
    batch: list[Operation | RequestError] = []
    for item in data:
        try:
            batch.append(operation_from(item))
        except RequestError as error:
            batch.append(error)
    return batch


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(request: Request) -> bool:
    return content_type(request) in JSON_TYPES
