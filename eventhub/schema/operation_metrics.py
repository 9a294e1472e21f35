"""Counts and times GraphQL operations, labelled only by names the server knows.

Client-chosen operation names would let anyone mint new label values, so the
label is the operation's one root field (e.g. "reserveTickets"), or a trusted
document's operation name; everything else is "other".
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import FieldNode, get_operation_ast
from strawberry.extensions import SchemaExtension

from eventhub.metrics import GRAPHQL_LATENCY, GRAPHQL_OPERATIONS

MAX_LABEL = 80
OTHER = "other"


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        label, kind = self._describe()
        if hasattr(context.context, "operation_label"):
            context.context.operation_label = label  # a cached answer is counted under it too
        errors = getattr(context.result, "errors", None)
        GRAPHQL_OPERATIONS.labels(label, kind, "error" if errors else "ok").inc()
        GRAPHQL_LATENCY.labels(label, kind).observe(time.perf_counter() - started)

    def _describe(self) -> tuple[str, str]:
        """(label, operation kind): a name the server knows, else "other".

        A label is the one root field the operation selects (the schema's names),
        or the operation name of a trusted document (the operator's manifest).
        Anything a client invents (operation names, unknown fields, combinations
        of root fields) counts as "other", so no request can mint a time series.
        """
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document else None
        if operation is None:
            return OTHER, "unknown"
        kind = operation.operation.value
        trusted = bool(getattr(context.context, "trusted_document", False))
        if trusted and operation.name is not None:
            return operation.name.value[:MAX_LABEL], kind
        root = context.schema._schema.get_root_type(operation.operation)
        names = {
            s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)
        }
        if root is None or len(names) != 1 or len(operation.selection_set.selections) != 1:
            return OTHER, kind
        [name] = names
        return (name if name in root.fields else OTHER), kind
