"""Persisted documents skip parsing and validation after their first use.

A persisted document (a trusted document, or an automatic persisted query whose
hash was checked against its text) is named by an id that always means the same
text. Once it has parsed and validated, its parsed document is kept under that id,
so later requests neither parse nor validate it again, however many other
documents pass through the text-keyed caches in between. The request-dependent
checks (the query budget with its variables) still run every time.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache

PREPARED_SIZE = 2000  # persisted documents are a bounded set: the store's and the trusted ones

_prepared: OrderedDict[str, DocumentNode] = OrderedDict()


def _document_id(extension: SchemaExtension) -> str | None:
    document_id = getattr(extension.execution_context.context, "document_id", None)
    return document_id if isinstance(document_id, str) else None


class PreparedDocuments(SchemaExtension):
    """List it first: it hands on a known document before the caches would parse or validate."""

    def on_parse(self) -> Iterator[None]:
        document_id = _document_id(self)
        document = _prepared.get(document_id) if document_id else None
        if document is not None:
            _prepared.move_to_end(document_id)  # type: ignore[arg-type]
            self.execution_context.graphql_document = document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document_id = _document_id(self)
        known = document_id in _prepared if document_id else False
        if known:
            context.pre_execution_errors = []  # validated on its first use
        yield
        valid = context.graphql_document is not None and context.pre_execution_errors == []
        if document_id and not known and valid:
            _prepared[document_id] = context.graphql_document  # type: ignore[assignment]
            while len(_prepared) > PREPARED_SIZE:
                _prepared.popitem(last=False)


class ParseOnce(ParserCache):
    """Strawberry's parse cache, unless the document is already known.

    A document that does not parse (a syntax error, or over the gate's length,
    token or nesting caps) is left unparsed here: Strawberry's own parse then
    raises the same error where it answers it as a GraphQL error, on HTTP and
    WebSocket alike, instead of an exception escaping a stream.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
        yield


class ValidateOnce(ValidationCache):
    """Strawberry's validation cache, unless the document was validated already."""

    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors is None:
            yield from super().on_validate()
        else:
            yield
