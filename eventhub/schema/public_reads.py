"""Which operations read only the public catalogue, for the web layer's response cache.

A query qualifies when every root selection is a field in PUBLIC_ROOT_FIELDS:
no fragment spread or inline fragment at the root (they could reach any root
field), nothing viewer-specific (`me`, orders, analytics, anything under
@requiresRole). The web layer still caches such an answer only for a request
that sent no credentials (web/response_cache.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode, OperationType, get_operation_ast
from strawberry.extensions import SchemaExtension

PUBLIC_ROOT_FIELDS = frozenset({"events", "event", "__typename"})


def is_public_read(operation: OperationDefinitionNode | None) -> bool:
    if operation is None or operation.operation != OperationType.QUERY:
        return False
    return all(
        isinstance(selection, FieldNode) and selection.name.value in PUBLIC_ROOT_FIELDS
        for selection in operation.selection_set.selections
    )


class PublicReads(SchemaExtension):
    """Marks the request context `public_read` when the operation about to run qualifies."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        document, context = execution.graphql_document, execution.context
        if document is not None and hasattr(context, "public_read"):
            context.public_read = is_public_read(
                get_operation_ast(document, execution.operation_name)
            )
        yield
