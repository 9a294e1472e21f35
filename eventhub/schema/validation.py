"""Checks documents against the schema before they are trusted (`eventhub documents add`)."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import GraphQLError, parse, validate

from eventhub.settings import Settings


def document_problems(settings: Settings, documents: Mapping[str, str]) -> list[str]:
    """One line per document that does not parse or validate, naming its id."""
    from eventhub.schema.schema import build_schema

    schema = build_schema(settings)._schema
    problems: list[str] = []
    for document_id, body in documents.items():
        try:
            errors = validate(schema, parse(body))
        except GraphQLError as error:
            errors = [error]
        problems.extend(f"entry {document_id!r}: {error.message}" for error in errors[:3])
    return problems
