"""The Schema: root types merged from each domain, with caching, limits and error codes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionResult, Info
from strawberry.types.graphql import OperationType

from eventhub.live.execution import LiveExecutionContext
from eventhub.schema.accounts import AccountMutation, AccountQuery
from eventhub.schema.admin import AdminMutation, AdminQuery
from eventhub.schema.analytics import AnalyticsQuery
from eventhub.schema.audit import AuditEntry
from eventhub.schema.common import Node
from eventhub.schema.door import DoorMutation
from eventhub.schema.errors import classify_all
from eventhub.schema.event_types import Event, TicketType
from eventhub.schema.events import EventMutation, EventQuery
from eventhub.schema.input_screen import InputScreen, NumberLiteralScreen
from eventhub.schema.limits import Limits, QueryLimitsExtension
from eventhub.schema.live import Subscription
from eventhub.schema.nodes import find_node
from eventhub.schema.operation_metrics import OperationMetrics
from eventhub.schema.order_types import Order, Ticket
from eventhub.schema.orders import OrderMutation, OrderQuery
from eventhub.schema.persisted_documents import ParseOnce, PreparedDocuments, ValidateOnce
from eventhub.schema.public_reads import PublicReads
from eventhub.schema.scalars import SCALAR_MAP
from eventhub.schema.users import User
from eventhub.schema.webhooks import WebhookMutation, WebhookQuery
from eventhub.settings import Settings


@strawberry.type
class NodeQuery:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await find_node(info.context, id)

    @strawberry.field(
        description="JWKS JSON of the public keys that sign QR tokens, for offline scanners"
    )
    def ticket_verification_keys(self, info: Info) -> str:
        return str(info.context.app.signer.jwks())


Query = merge_types(
    "Query",
    (NodeQuery, AccountQuery, EventQuery, OrderQuery, AnalyticsQuery, AdminQuery, WebhookQuery),
)
Mutation = merge_types(
    "Mutation",
    (AccountMutation, EventMutation, OrderMutation, DoorMutation, AdminMutation, WebhookMutation),
)


class EventHubSchema(strawberry.Schema):
    """Every error leaves with an extensions.code, whichever path produced it."""

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        allowed = kwargs.get("allowed_operation_types")
        if allowed is not None:
            # Subscriptions stream over WebSocket; executed as a plain field they would
            # return null for a non-null type. Refused here: the view answers 400.
            kwargs["allowed_operation_types"] = set(allowed) - {OperationType.SUBSCRIPTION}
        result = await super().execute(*args, **kwargs)
        context = kwargs.get("context_value", args[2] if len(args) > 2 else None)
        result.errors = classify_all(result.errors, context)
        return result

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        """Subscriptions (and WebSocket operations) run here; classify each result too."""
        context = kwargs.get("context_value", args[2] if len(args) > 2 else None)
        source = await super().stream(*args, **kwargs)

        async def classified() -> AsyncIterator[Any]:
            async with contextlib.aclosing(source):
                async for result in source:
                    if isinstance(result, ExecutionResult):
                        result.errors = classify_all(result.errors, context)
                    yield result

        return classified()

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Unexpected errors are logged once, with the request id, by `classify`."""


def build_schema(settings: Settings) -> strawberry.Schema:
    limits = Limits(
        max_depth=settings.max_query_depth,
        max_cost=settings.max_query_cost,
        max_aliases=settings.max_query_aliases,
        max_tokens=settings.max_query_tokens,
        max_fields=settings.max_query_fields,
        max_directives=settings.max_query_directives,
        max_length=settings.max_query_length,
        max_repeats=settings.max_query_repeats,
    )
    return EventHubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, AuditEntry, Event, TicketType, Order, Ticket],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=LiveExecutionContext,
        # Factories, not instances: an extension holds its request's execution context.
        extensions=[
            PreparedDocuments,
            partial(ParseOnce, maxsize=512),
            partial(QueryLimitsExtension, limits),  # before validation: it must cost nothing
            NumberLiteralScreen,
            partial(ValidateOnce, maxsize=512),
            InputScreen,
            OperationMetrics,
            PublicReads,
        ],
    )
