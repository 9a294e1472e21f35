"""Bounds on composed queries: depth, aliases and cost, refused before anything runs.

Cost: each field costs its `@cost(weight)` (when unset: 1 for objects, 0 for
scalars and plain value types); a field with a `first` argument multiplies its
children's cost by `first` (variables included), any other list field but a
connection's edges by LIST_GUESS.
Introspection fields are not counted; the token cap bounds them.

The check runs after (cached) validation, on a valid document, with the
request's variables, so `first: $n` is priced at the `n` actually sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from strawberry.extensions import SchemaExtension

LIST_GUESS = 10
VALUE_TYPES = frozenset({"Money", "PageInfo", "UserError"})  # plain data, no extra lookups
DEFAULT_FIRST = 20
TOO_COMPLEX = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_cost: int
    max_aliases: int
    max_tokens: int


def _is_list(field: GraphQLField) -> bool:
    kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return isinstance(kind, GraphQLList)


def _weight(field: GraphQLField) -> int:
    definition = (field.extensions or {}).get("strawberry-definition")
    for directive in getattr(definition, "directives", ()) or ():
        weight = getattr(directive, "weight", None)
        if isinstance(weight, int):
            return weight
    named = get_named_type(field.type)
    return 1 if is_composite_type(named) and named.name not in VALUE_TYPES else 0


def _multiplier(field: GraphQLField, first: int | None) -> int:
    if first is not None:
        return max(first, 1)
    if _is_list(field) and not get_named_type(field.type).name.endswith("Edge"):
        return LIST_GUESS
    return 1  # a connection's edges are already priced by its `first`


class QueryMeasure:
    """Depth, cost and alias count of one document."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.document = document
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def _fields(
        self,
        parent: GraphQLNamedType | None,
        selections: SelectionSetNode | None,
        seen: frozenset[str],
    ) -> Iterator[tuple[FieldNode, GraphQLField | None]]:
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                fields: dict[str, GraphQLField] = {}
                if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    fields = parent.fields
                yield selection, fields.get(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                yield from self._fields(target, selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self._fields(
                        target, fragment.selection_set, seen | {selection.name.value}
                    )

    def _first(self, node: FieldNode, field: GraphQLField) -> int | None:
        if "first" not in field.args:
            return None
        for arg in node.arguments or ():
            if arg.name.value == "first":
                if isinstance(arg.value, IntValueNode):
                    return int(arg.value.value)
                if isinstance(arg.value, VariableNode):
                    value = self.variables.get(arg.value.name.value)
                    return value if isinstance(value, int) else DEFAULT_FIRST
        default = field.args["first"].default_value
        return default if isinstance(default, int) else DEFAULT_FIRST

    def measure(
        self, parent: GraphQLNamedType | None, selections: SelectionSetNode | None
    ) -> tuple[int, int, int]:
        """(depth, cost, aliases) of a selection set."""
        depth = cost = aliases = 0
        for node, field in self._fields(parent, selections, frozenset()):
            aliases += node.alias is not None
            if node.name.value.startswith("__") or field is None:
                continue
            child_depth, child_cost, child_aliases = self.measure(
                get_named_type(field.type), node.selection_set
            )
            first = self._first(node, field)
            depth = max(depth, child_depth + 1)
            cost += _weight(field) + _multiplier(field, first) * child_cost
            aliases += child_aliases
        return depth, cost, aliases

    def problems(self, limits: Limits, operation_name: str | None) -> list[str]:
        found: list[str] = []
        for definition in self.document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            if operation_name and definition.name and definition.name.value != operation_name:
                continue
            root = self.schema.get_root_type(definition.operation)
            depth, cost, aliases = self.measure(root, definition.selection_set)
            if depth > limits.max_depth:
                found.append(f"query depth {depth} exceeds the limit of {limits.max_depth}")
            if cost > limits.max_cost:
                found.append(f"query cost {cost} exceeds the budget of {limits.max_cost}")
            if aliases > limits.max_aliases:
                found.append(f"{aliases} aliases exceed the limit of {limits.max_aliases}")
        return found


class QueryLimitsExtension(SchemaExtension):
    """Caps tokens at parse time and refuses over-budget documents after validation.

    List it after ValidationCache, so validation has already run when this checks.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors and context.graphql_document is not None:
            measure = QueryMeasure(
                context.schema._schema, context.graphql_document, context.variables or {}
            )
            problems = measure.problems(self.limits, context.operation_name)
            if problems:
                context.pre_execution_errors = [
                    GraphQLError(p, extensions={"code": TOO_COMPLEX}) for p in problems
                ]
        yield
