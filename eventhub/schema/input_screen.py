"""Screens a request's inputs before anything runs: absurd numbers, NUL characters.

A number literal is refused by its length before validation converts it:
graphql-core's Int turns the literal's text into an int first, and a
5,000-digit literal raised deep in validation (INTERNAL). No Int (32 bits) or
Decimal we accept needs more than MAX_NUMBER_CHARS characters.

PostgreSQL cannot store U+0000 in text (asyncpg raises deep in a write, which
would surface as INTERNAL), and no name, code, token or search term needs one.
Checking here covers every argument at once: variables (nested inputs and
lists included) and string literals in the document, whichever field they feed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    StringValueNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension

NUL = "\x00"
MESSAGE = "a string argument contains a NUL character (U+0000), which is never accepted"
MAX_NUMBER_CHARS = 40  # the Decimal scalar's own bound; an Int needs at most 11


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


class _LongNumberFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def _check(self, node: IntValueNode | FloatValueNode) -> Any:
        if len(node.value) > MAX_NUMBER_CHARS:
            self.found = True
            return Visitor.BREAK
        return None

    def enter_int_value(self, node: IntValueNode, *_args: Any) -> Any:
        return self._check(node)

    def enter_float_value(self, node: FloatValueNode, *_args: Any) -> Any:
        return self._check(node)


def has_long_number(document: DocumentNode) -> bool:
    finder = _LongNumberFinder()
    visit(document, finder)
    return finder.found


class NumberLiteralScreen(SchemaExtension):
    """List it before validation (the caches): it stands in for validation when it refuses."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if (
            context.pre_execution_errors is None  # not yet validated (nor known)
            and document is not None
            and has_long_number(document)
        ):
            message = f"a number literal is longer than {MAX_NUMBER_CHARS} characters"
            context.pre_execution_errors = [
                GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})
            ]
        yield


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
