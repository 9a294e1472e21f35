"""Trusted documents: a persisted-documents manifest stored so the API can run them by id.

A manifest is what client build tools emit: a JSON object mapping each id to
its document (GraphQL Codegen's client preset `persisted-documents.json`,
Relay's `persisted_queries.json`), or Apollo's `persisted-query-manifest.json`
(`{"format": "apollo-persisted-query-manifest", "operations": [{"id", "body"}]}`).
An id that looks like a SHA-256 digest must be the digest of its document, so a
mislabelled manifest is refused rather than served under the wrong id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models.documents import TrustedDocument

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
MAX_ID = 128


class ManifestError(ValueError):
    """The manifest cannot be loaded; the message says which entry and why."""


@dataclass(frozen=True)
class Loaded:
    added: int
    unchanged: int


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def normalized_id(document_id: str) -> str:
    """`sha256:<hex>` (the GraphQL-over-HTTP `documentId` form) and `<hex>` are one id."""
    bare = document_id.removeprefix("sha256:").strip()
    return bare.lower() if SHA256_HEX.match(bare.lower()) else bare


def parse_manifest(text: str) -> dict[str, str]:
    """id -> document, from any of the manifest shapes above."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ManifestError(f"not JSON: {error}") from None
    if isinstance(data, Mapping) and isinstance(data.get("operations"), list):
        pairs = [
            (op.get("id"), op.get("body")) for op in data["operations"] if isinstance(op, dict)
        ]
    elif isinstance(data, Mapping):
        pairs = list(data.items())
    else:
        raise ManifestError("expected a JSON object of id -> document")
    documents: dict[str, str] = {}
    for raw_id, body in pairs:
        if not isinstance(raw_id, str) or not isinstance(body, str) or not body.strip():
            raise ManifestError(f"entry {raw_id!r}: id and document must be non-empty strings")
        document_id = normalized_id(raw_id)
        if not document_id or len(document_id) > MAX_ID:
            raise ManifestError(f"entry {raw_id!r}: an id is 1 to {MAX_ID} characters")
        if SHA256_HEX.match(document_id) and sha256_hex(body) != document_id:
            raise ManifestError(f"entry {raw_id!r}: the id is not the SHA-256 of its document")
        documents[document_id] = body
    if not documents:
        raise ManifestError("the manifest holds no documents")
    return documents


async def add_documents(session: AsyncSession, documents: Mapping[str, str]) -> Loaded:
    """Stores new ids; an id already stored with another document is refused (ids are forever)."""
    known = await _stored(session, list(documents))
    for document_id, body in documents.items():
        if document_id in known and known[document_id] != body:
            raise ManifestError(f"entry {document_id!r}: already stored with another document")
    fresh = {i: body for i, body in documents.items() if i not in known}
    session.add_all(TrustedDocument(document_id=i, body=body) for i, body in fresh.items())
    await session.commit()
    return Loaded(added=len(fresh), unchanged=len(documents) - len(fresh))


async def _stored(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await session.execute(
            select(col(TrustedDocument.document_id), col(TrustedDocument.body)).where(
                col(TrustedDocument.document_id).in_(chunk)
            )
        )
        found.update({row[0]: row[1] for row in rows})
    return found


async def find_document(session: AsyncSession, document_id: str) -> str | None:
    """The trusted document with this id, or None."""
    rows = await _stored(session, [normalized_id(document_id)])
    return next(iter(rows.values()), None)
