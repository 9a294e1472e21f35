"""Counts and times GraphQL operations, labelled by root field (bounded by the schema).

Client-chosen operation names would let anyone mint new label values, so
the label is the operation's root field names instead (e.g. "reserveTickets").
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
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
        document = self.execution_context.graphql_document
        for definition in document.definitions if document else ():
            if isinstance(definition, OperationDefinitionNode):
                fields = sorted(
                    {
                        s.name.value
                        for s in definition.selection_set.selections
                        if isinstance(s, FieldNode)
                    }
                )
                return ",".join(fields)[:MAX_LABEL] or "-", definition.operation.value
        return "invalid", "unknown"
