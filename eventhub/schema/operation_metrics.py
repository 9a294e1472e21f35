"""Counts and times GraphQL operations, labelled by root field (bounded by the schema).

Client-chosen operation names would let anyone mint new label values, so
the label is the operation's root field names instead (e.g. "reserveTickets").
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import FieldNode, get_operation_ast
from strawberry.extensions import SchemaExtension

from eventhub.metrics import GRAPHQL_LATENCY, GRAPHQL_OPERATIONS

MAX_LABEL = 80


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        label, kind = self._describe()
        errors = getattr(context.result, "errors", None)
        GRAPHQL_OPERATIONS.labels(label, kind, "error" if errors else "ok").inc()
        GRAPHQL_LATENCY.labels(label, kind).observe(time.perf_counter() - started)

    def _describe(self) -> tuple[str, str]:
        """(root fields, operation kind) of the operation that ran; "invalid" otherwise.

        Only names the schema defines become labels: an unknown field (a document
        that failed validation) must not mint a new time series.
        """
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document else None
        if operation is None:
            return "invalid", "unknown"
        kind = operation.operation.value
        root = context.schema._schema.get_root_type(operation.operation)
        names = {
            s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)
        }
        known = set(root.fields) | {"__typename", "__schema", "__type"} if root else set()
        if not names <= known:
            return "invalid", kind
        return ",".join(sorted(names))[:MAX_LABEL] or "-", kind
