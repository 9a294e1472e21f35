"""GraphQL over HTTP: one operation or a batch, JSON errors, the spec's media types and codes.

Every answer is JSON. Status codes follow the GraphQL-over-HTTP spec: a
malformed request is 4xx (a mutation by GET is 405); a document that fails to
parse or validate is 400 under `application/graphql-response+json` and 200
under legacy `application/json`; once execution starts the answer is 200.
Each operation of a batch runs in turn with its own context (and database
session), so one operation's failure cannot poison the next.
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException, StarletteRequestAdapter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from eventhub.resolvers.context import RequestContext
from eventhub.web.app_state import AppState
from eventhub.web.graphiql import graphiql_page
from eventhub.web.graphql_requests import (
    Operation,
    RequestError,
    content_type,
    from_query_string,
    is_json,
    operation_from,
    operations_from_json,
)
from eventhub.web.media_types import GRAPHQL_RESPONSE, JSON, accepts_html, response_media_type
from eventhub.web.outage import retry_headers, says_unavailable
from eventhub.web.persisted_queries import PersistedQueries
from eventhub.web.rate_limit import CHARGE_KEY, rate_limited_error
from eventhub.web.response_cache import HEADER, ResponseCache

Answer = tuple[dict[str, Any], int, dict[str, str]]  # body, status, headers
READS = frozenset({OperationType.QUERY})
WRITES = frozenset({OperationType.QUERY, OperationType.MUTATION})


def encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class GraphQLHTTP:
    """The ASGI app behind `GET`/`POST /graphql` (WebSockets stay with Strawberry's view)."""

    def __init__(
        self,
        view: Any,
        state: AppState,
        persisted: PersistedQueries,
        cache: ResponseCache | None = None,
    ) -> None:
        self.view = view  # reads multipart uploads
        self.schema = view.schema
        self.state = state
        self.persisted = persisted
        self.cache = cache if cache is not None else ResponseCache(0, 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        accept = request.headers.get("accept")
        if request.method == "GET" and accepts_html(accept) and self._no_operation(request):
            await graphiql_page()(scope, receive, send)
            return
        media = response_media_type(accept)
        try:
            if media is None:
                raise RequestError(406, f"accept {GRAPHQL_RESPONSE} or {JSON}")
            body, status, headers = await self.answer(request, media)
        except RequestError as error:
            body, status, headers = error.body(), error.status, error.headers
        if says_unavailable(body):  # the database is unreachable: 503, so clients retry
            status, headers = 503, {**headers, **retry_headers()}
            self.state.gate.refused()
        content = body if isinstance(body, bytes) else encode(body)  # bytes: from the cache
        response = Response(content, status, headers, media or JSON)
        await response(scope, receive, send)

    @staticmethod
    def _no_operation(request: Request) -> bool:
        params = request.query_params
        return not any(name in params for name in ("query", "extensions", "documentId"))

    async def answer(self, request: Request, media: str) -> tuple[Any, int, dict[str, str]]:
        parsed = await self.read(request)
        if not isinstance(parsed, list):
            return await self.run_cached(request, parsed, media)
        charge = request.scope.get("state", {}).get(CHARGE_KEY)
        results = []
        for index, item in enumerate(parsed):
            wait = await charge() if charge is not None and index > 0 else None  # first is paid
            if wait is not None:
                results.append({"errors": [rate_limited_error(wait)]})
            elif isinstance(item, RequestError):
                results.append(item.body())
            else:
                results.append((await self.run(request, item, media))[0])
        return results, 200, {}

    async def read(self, request: Request) -> Operation | list[Operation | RequestError]:
        if request.method == "GET":
            return from_query_string(request)
        if request.method != "POST":
            raise RequestError(405, "use GET or POST", headers={"allow": "GET, POST"})
        if is_json(request):
            return operations_from_json(await request.body(), self.state.settings.max_batch)
        if content_type(request) == "multipart/form-data":
            try:
                data = await self.view.parse_multipart(StarletteRequestAdapter(request))
            except HTTPException as error:
                raise RequestError(400, error.reason) from None
            return operation_from(data)
        raise RequestError(415, "send application/json (multipart/form-data for uploads)")

    async def run_cached(
        self, request: Request, operation: Operation, media: str
    ) -> tuple[dict[str, Any] | bytes, int, dict[str, str]]:
        """One operation, answered from the public-read cache when it may be
        (web/response_cache.py): its encoded body then."""
        key = self.cache.key(request, operation)
        if key is None:
            return await self.run(request, operation, media)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, 200, {HEADER: "hit"}
        generation = self.cache.generation  # before any read: a change since voids this answer
        context = RequestContext(app=self.state, request=request)
        body, status, headers = await self.run(request, operation, media, context)
        if not (context.public_read and status == 200 and "errors" not in body):
            return body, status, headers
        encoded = encode(body)
        self.cache.put(key, generation, encoded, context.operation_label)
        return encoded, status, {**headers, HEADER: "miss"}

    async def run(
        self,
        request: Request,
        operation: Operation,
        media: str,
        context: RequestContext | None = None,
    ) -> Answer:
        """One operation's body and status; a request-level error becomes its JSON error."""
        try:
            result = await self.execute(request, operation, context)
        except RequestError as error:
            return error.body(), error.status, error.headers
        body: dict[str, Any] = dict(process_result(result))
        if isinstance(result, PreExecutionError):
            body.pop("data", None)  # nothing ran: a request error has no `data`
            return body, 400 if media == GRAPHQL_RESPONSE else 200, {}
        return body, 200, {}

    async def execute(
        self, request: Request, operation: Operation, context: RequestContext | None = None
    ) -> ExecutionResult:
        context = context or RequestContext(app=self.state, request=request)
        try:
            resolved = await self.persisted.resolve(operation, context)
            context.document_id = resolved.document_id
            context.trusted_document = resolved.trusted  # its operation name may label metrics
            result: ExecutionResult = await self.schema.execute(
                resolved.query,
                variable_values=operation.variables,
                context_value=context,
                operation_name=operation.operation_name,
                allowed_operation_types=READS if request.method == "GET" else WRITES,
                operation_extensions=operation.extensions,
            )
            if not isinstance(result, PreExecutionError):
                await self.persisted.remember(resolved)
            return result
        except MissingQueryError:
            raise RequestError(400, "no GraphQL query in the request") from None
        except InvalidOperationTypeError as error:
            raise _refused(error.operation_type, request.method) from None
        except CannotGetOperationTypeError as error:
            raise RequestError(400, error.as_http_error_reason()) from None
        finally:
            await context.close()


def _refused(kind: OperationType, method: str) -> RequestError:
    if kind == OperationType.SUBSCRIPTION:
        return RequestError(400, "subscriptions run over WebSocket (graphql-transport-ws)")
    if method == "GET":
        return RequestError(405, "a mutation must be sent by POST", headers={"allow": "POST"})
    return RequestError(400, f"{kind.value} operations are not allowed here")
