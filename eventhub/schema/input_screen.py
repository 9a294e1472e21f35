"""Refuses a NUL character in any string a request carries, before anything runs.

PostgreSQL cannot store U+0000 in text (asyncpg raises deep in a write, which
would surface as INTERNAL), and no name, code, token or search term needs one.
Checking here covers every argument at once: variables (nested inputs and
lists included) and string literals in the document, whichever field they feed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

NUL = "\x00"
MESSAGE = "a string argument contains a NUL character (U+0000), which is never accepted"


def variables_with_nul(variables: Any) -> bool:
    """Whether any string in the (JSON) variables, keys included, holds a NUL; no recursion."""
    pending = [variables]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if NUL in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


class _NulLiteralFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> Any:
        if NUL in node.value:
            self.found = True
            return Visitor.BREAK
        return None


def literals_with_nul(document: DocumentNode) -> bool:
    finder = _NulLiteralFinder()
    visit(document, finder)
    return finder.found


class InputScreen(SchemaExtension):
    """List it after validation (the caches): it only looks at valid documents."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if (
            not context.pre_execution_errors
            and document is not None
            and (variables_with_nul(context.variables) or literals_with_nul(document))
        ):
            context.pre_execution_errors = [
                GraphQLError(MESSAGE, extensions={"code": "BAD_USER_INPUT"})
            ]
        yield
