"""Bounds on composed queries, measured in one linear pass before validation runs.

Why before validation: graphql-core's validation is not linear in the document
(overlapping-fields checks compare repeated selections pairwise), and neither
was a measure that expanded fragments at every spread. So the budgets are
measured first, in time proportional to the document's size, and an
over-budget document is refused before validation or execution does real work.

The pass walks each operation and fragment definition exactly once. A walk
yields the definition's own totals plus, per fragment spread, where it sits
(nesting depth, cost multiplier). Fragments are then combined in dependency
order, each spread reusing its fragment's memoised totals, so a fragment spread
a million times costs one visit; a fragment cycle is refused, never followed.
Every number saturates at its limit + 1, so none grows huge.

Measured, after fragment expansion: field selections and directives (in every
definition: validation visits them all), how often one response name with a
sub-selection is selected in one selection set (validation compares those
pairwise), and for the operation that runs its depth, aliases and cost.

Cost: each field costs its `@cost(weight)` (when unset: 1 for objects, 0 for
scalars and plain value types); a field with a `first` argument multiplies its
children's cost by `first` (variables included), any other list field but a
connection's edges by LIST_GUESS.
Introspection fields (and fields the schema does not have, which validation
refuses) count as selections but not towards depth or cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

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
    max_fields: int = 300
    max_directives: int = 50
    max_length: int = 65_536
    max_repeats: int = 16  # selections (with sub-selections) of one response name in a set


class GateStats:
    """Work done by the measure, for tests and `bench/abuse.py`: counted, never timed."""

    nodes_visited = 0
    documents_measured = 0


@dataclass
class Totals:
    """One definition's (or fragment's) measure, every number saturated at its cap."""

    fields: int = 0
    directives: int = 0
    aliases: int = 0
    depth: int = 0
    cost: int = 0


@dataclass(frozen=True)
class Spread:
    name: str
    depth: int  # priced fields enclosing the spread within its definition
    multiplier: int  # product of their list multipliers
    priced: bool  # False inside an introspection (or unknown) field


@dataclass
class Names:
    """One selection set's response names (inline fragments' included: validation merges
    them) and the fragments it spreads, whose top-level names add to it."""

    counts: Counter[str] = field(default_factory=Counter)
    spreads: list[str] = field(default_factory=list)


@dataclass
class Walked:
    """A definition walked once: its own totals and the spreads it still has to add."""

    totals: Totals = field(default_factory=Totals)
    spreads: list[Spread] = field(default_factory=list)
    top: Names = field(default_factory=Names)
    sets: list[Names] = field(default_factory=list)  # every selection set with fields


class Refused(Exception):
    """The document is refused; the message says why."""


def _is_list(definition: GraphQLField) -> bool:
    kind = definition.type
    kind = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    return isinstance(kind, GraphQLList)


def _weight(definition: GraphQLField) -> int:
    strawberry_field = (definition.extensions or {}).get("strawberry-definition")
    for directive in getattr(strawberry_field, "directives", ()) or ():
        weight = getattr(directive, "weight", None)
        if isinstance(weight, int):
            return weight
    named = get_named_type(definition.type)
    return 1 if is_composite_type(named) and named.name not in VALUE_TYPES else 0


class QueryMeasure:
    """Fields, directives, depth, cost and aliases of one document, in one linear pass."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.document = document
        self.variables = variables
        self.limits = limits
        self.caps = Totals(
            fields=limits.max_fields + 1,
            directives=limits.max_directives + 1,
            aliases=limits.max_aliases + 1,
            depth=limits.max_depth + 1,
            cost=limits.max_cost + 1,
        )
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments.setdefault(definition.name.value, definition)
        self.memo: dict[str, Totals] = {}
        self.order: list[str] = []  # fragments, each after those it spreads
        self.walked: list[Walked] = []  # every definition, walked once
        self.fragment_walks: dict[str, Walked] = {}
        self.visits = 0

    # --- saturating arithmetic ----------------------------------------------------------------

    def _add(self, total: Totals, part: Totals, multiplier: int, depth: int, priced: bool) -> None:
        caps = self.caps
        total.fields = min(caps.fields, total.fields + part.fields)
        total.directives = min(caps.directives, total.directives + part.directives)
        total.aliases = min(caps.aliases, total.aliases + part.aliases)
        if priced:
            total.depth = min(caps.depth, max(total.depth, depth + part.depth))
            total.cost = min(caps.cost, total.cost + min(caps.cost, multiplier * part.cost))

    # --- the walk -----------------------------------------------------------------------------

    def _first(self, node: FieldNode, definition: GraphQLField) -> int | None:
        if "first" not in definition.args:
            return None
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value: Any = None
                if isinstance(argument.value, IntValueNode):
                    digits = argument.value.value.lstrip("-")
                    # A huge literal is over any budget; never ask int() to read 5000 digits.
                    value = int(argument.value.value) if len(digits) < 10 else self.caps.cost
                elif isinstance(argument.value, VariableNode):
                    value = self.variables.get(argument.value.name.value)
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
                return DEFAULT_FIRST
        default = definition.args["first"].default_value
        return default if isinstance(default, int) else DEFAULT_FIRST

    def _multiplier(self, node: FieldNode, definition: GraphQLField) -> int:
        first = self._first(node, definition)
        if first is not None:
            return max(first, 1)
        if _is_list(definition) and not get_named_type(definition.type).name.endswith("Edge"):
            return LIST_GUESS
        return 1  # a connection's edges are already priced by its `first`

    def _walk(
        self,
        walked: Walked,
        parent: GraphQLNamedType | None,
        selections: SelectionSetNode | None,
        depth: int,
        multiplier: int,
        priced: bool,
        names: Names,
    ) -> None:
        """Adds one selection set's nodes (each visited once) to `walked`."""
        caps, totals = self.caps, walked.totals
        for node in selections.selections if selections else ():
            self.visits += 1
            totals.directives = min(caps.directives, totals.directives + len(node.directives or ()))
            if isinstance(node, FieldNode):
                if node.selection_set is not None:  # leaves compare cheaply: not counted
                    names.counts[(node.alias or node.name).value] += 1
                totals.fields = min(caps.fields, totals.fields + 1)
                totals.aliases = min(caps.aliases, totals.aliases + (node.alias is not None))
                fields = (
                    parent.fields
                    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                    else {}
                )
                definition = fields.get(node.name.value)
                if node.name.value.startswith("__") or definition is None:
                    child: GraphQLNamedType | None = None
                    if definition is not None:
                        child = get_named_type(definition.type)
                    inside = self._names(walked, node)
                    self._walk(walked, child, node.selection_set, depth, multiplier, False, inside)
                    continue
                if priced:
                    totals.depth = min(caps.depth, max(totals.depth, depth + 1))
                    cost = multiplier * _weight(definition)
                    totals.cost = min(caps.cost, totals.cost + min(caps.cost, cost))
                inner = min(caps.cost, multiplier * self._multiplier(node, definition))
                child_type = get_named_type(definition.type)
                inside = self._names(walked, node)
                self._walk(walked, child_type, node.selection_set, depth + 1, inner, priced, inside)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                self._walk(walked, target, node.selection_set, depth, multiplier, priced, names)
            elif isinstance(node, FragmentSpreadNode):
                walked.spreads.append(Spread(node.name.value, depth, multiplier, priced))
                names.spreads.append(node.name.value)

    @staticmethod
    def _names(walked: Walked, node: FieldNode) -> Names:
        """A new selection set's names, kept for the repeat check."""
        names = Names()
        if node.selection_set is not None:
            walked.sets.append(names)
        return names

    def _walk_definition(self, definition: Any) -> Walked:
        walked = Walked()
        walked.totals.directives = min(self.caps.directives, len(definition.directives or ()))
        if isinstance(definition, FragmentDefinitionNode):
            parent = self.schema.get_type(definition.type_condition.name.value)
        else:
            parent = self.schema.get_root_type(definition.operation)
        walked.sets.append(walked.top)
        self._walk(walked, parent, definition.selection_set, 0, 1, True, walked.top)
        self.walked.append(walked)
        return walked

    def _combine(self, walked: Walked) -> Totals:
        """A definition's totals: its own plus each spread's memoised fragment totals."""
        totals = Totals(**vars(walked.totals))
        for spread in walked.spreads:
            part = self.memo.get(spread.name)
            if part is not None:  # an unknown fragment adds nothing; validation refuses it
                self._add(totals, part, spread.multiplier, spread.depth, spread.priced)
        return totals

    def _fragment_totals(self) -> None:
        """Every fragment's totals, in dependency order, refusing cycles."""
        walked = {name: self._walk_definition(node) for name, node in self.fragments.items()}
        self.fragment_walks = walked
        done: set[str] = set()
        for start in walked:
            if start in done:
                continue
            path: list[str] = [start]
            on_path = {start}
            pending: list[Iterator[Spread]] = [iter(walked[start].spreads)]
            while pending:
                spread = next(pending[-1], None)
                if spread is None:
                    name = path.pop()
                    on_path.discard(name)
                    pending.pop()
                    self.memo[name] = self._combine(walked[name])
                    self.order.append(name)
                    done.add(name)
                elif spread.name in on_path:
                    raise Refused(f"fragment {spread.name} spreads itself through a fragment cycle")
                elif spread.name in walked and spread.name not in done:
                    path.append(spread.name)
                    on_path.add(spread.name)
                    pending.append(iter(walked[spread.name].spreads))

    def _repeated(self) -> str | None:
        """A response name selected more than `max_repeats` times in one selection set.

        Validation compares same-named selections of a set pairwise, their
        sub-selections included (overlapping fields), so their number, not only the
        total, must be bounded: 150 `me { id }` (300 fields) cost it ~100 ms, 16 of
        each of nine root fields ~15 ms. Leaves are not counted: comparing two is
        cheap. Run once the field counts are within budget: every merge below is
        then bounded by them.
        """
        tops: dict[str, Counter[str]] = {}

        def merged(names: Names) -> Counter[str]:
            if not names.spreads:
                return names.counts
            counts = Counter(names.counts)
            for spread in names.spreads:
                counts.update(tops.get(spread, {}))
            return counts

        for name in self.order:
            tops[name] = merged(self.fragment_walks[name].top)
        limit = self.limits.max_repeats
        for walked in self.walked:
            for names in walked.sets:
                for response, count in merged(names).items():
                    if count > limit:
                        return (
                            f"`{response}` is selected {count} times in one selection set;"
                            f" the limit is {limit}"
                        )
        return None

    def totals(self, definition: OperationDefinitionNode) -> Totals:
        return self._combine(self._walk_definition(definition))

    def problems(self, operation_name: str | None) -> list[str]:
        """Why the document is refused, or nothing: checks every budget in one pass."""
        GateStats.documents_measured += 1
        try:
            return self._problems(operation_name)
        except Refused as refused:
            return [str(refused)]
        finally:
            GateStats.nodes_visited += self.visits

    def _problems(self, operation_name: str | None) -> list[str]:
        limits = self.limits
        self._fragment_totals()
        found: list[str] = []
        fields = max((t.fields for t in self.memo.values()), default=0)
        directives = max((t.directives for t in self.memo.values()), default=0)
        for definition in self.document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            totals = self.totals(definition)
            fields, directives = max(fields, totals.fields), max(directives, totals.directives)
            if operation_name and definition.name and definition.name.value != operation_name:
                continue
            if totals.depth > limits.max_depth:
                found.append(f"query depth exceeds the limit of {limits.max_depth}")
            if totals.cost > limits.max_cost:
                found.append(f"query cost exceeds the budget of {limits.max_cost}")
            if totals.aliases > limits.max_aliases:
                found.append(f"aliases exceed the limit of {limits.max_aliases}")
        if fields > limits.max_fields:
            found.insert(0, f"field selections exceed the limit of {limits.max_fields}")
        if directives > limits.max_directives:
            found.insert(0, f"directives exceed the limit of {limits.max_directives}")
        if not found and (repeated := self._repeated()):
            found.append(repeated)
        return found


class QueryLimitsExtension(SchemaExtension):
    """Caps tokens at parse time and refuses over-budget documents before validation.

    List it before ValidateOnce (and after PreparedDocuments): a refusal sets the
    pre-execution errors, and validation is skipped when they are set.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        # Both go to graphql-core's `parse`: the length is checked before any lexing,
        # the tokens (comments included) while lexing. Strawberry's TypedDict only
        # names `max_tokens`.
        options = cast(dict[str, Any], self.execution_context.parse_options)
        options["max_source_length"] = self.limits.max_length
        options["max_tokens"] = self.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors and context.graphql_document is not None:
            measure = QueryMeasure(
                context.schema._schema,
                context.graphql_document,
                context.variables or {},
                self.limits,
            )
            problems = measure.problems(context.operation_name)
            if problems:
                context.pre_execution_errors = [
                    GraphQLError(p, extensions={"code": TOO_COMPLEX}) for p in problems
                ]
        yield
