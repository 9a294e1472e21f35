"""Persisted queries: Apollo's automatic persisted queries (v1) and trusted documents.

A request names a document by `extensions.persistedQuery.sha256Hash` (Apollo,
GraphQL Codegen) or by `documentId` (the GraphQL-over-HTTP persisted-documents
form, `sha256:<hex>` or a manifest's own id). Without its text the id must be a
trusted document or a hash registered earlier; otherwise the answer is the
GraphQL error PersistedQueryNotFound (HTTP 200), and Apollo's link resends the
operation with its text, which registers it once the document validates.
With EVENTHUB_TRUSTED_DOCUMENTS_ONLY=1 only trusted documents run, except for admins.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from eventhub.resolvers.context import RequestContext
from eventhub.services import trusted_documents
from eventhub.web.document_store import DocumentStore
from eventhub.web.graphql_requests import Operation, RequestError

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
TRUSTED_CACHE_SIZE = 5000


@dataclass(frozen=True)
class Resolved:
    """The document to run; `register` is the hash to remember once it validates."""

    query: str | None
    document_id: str | None = None
    register: str | None = None
    trusted: bool = False


def requested_id(operation: Operation) -> str | None:
    persisted = (operation.extensions or {}).get("persistedQuery")
    if persisted is None:
        return operation.document_id
    if not isinstance(persisted, dict) or persisted.get("version", 1) != 1:
        raise RequestError(400, "extensions.persistedQuery must be {version: 1, sha256Hash}")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not digest:
        raise RequestError(400, "extensions.persistedQuery.sha256Hash must be a string")
    return digest.lower()


class PersistedQueries:
    def __init__(
        self, store: DocumentStore, trusted_only: bool, builtin: dict[str, str] | None = None
    ) -> None:
        self.store = store
        self.trusted_only = trusted_only
        self.builtin = builtin or {}  # the package's own apps (the dashboard): always trusted
        self._trusted: OrderedDict[str, str] = OrderedDict()  # ids are forever: safe to keep

    async def resolve(self, operation: Operation, context: RequestContext) -> Resolved:
        document_id = requested_id(operation)
        query = operation.query
        if document_id is None:
            trusted = query is not None and await self._is_trusted_text(query, context)
            await self._allowed(trusted, context)
            return Resolved(query, trusted=trusted)
        if query is not None:
            return await self._with_text(document_id, query, context)
        return await self._by_id(document_id, context)

    async def _by_id(self, document_id: str, context: RequestContext) -> Resolved:
        """Hash only: the APQ store first (no database), then the trusted documents."""
        stored = None if self.trusted_only else await self.store.get(document_id)
        if stored is not None:
            return Resolved(stored, document_id)
        trusted_body = await self._trusted_body(document_id, context)
        if trusted_body is not None:
            return Resolved(trusted_body, document_id, trusted=True)
        await self._allowed(False, context)
        stored = await self.store.get(document_id) if self.trusted_only else None
        if stored is None:
            raise RequestError(200, "PersistedQueryNotFound", NOT_FOUND)
        return Resolved(stored, document_id)

    async def remember(self, resolved: Resolved) -> None:
        """Called once the document validated: only valid documents take a place in the store."""
        if resolved.register and resolved.query is not None:
            await self.store.put(resolved.register, resolved.query)

    async def _with_text(self, document_id: str, query: str, context: RequestContext) -> Resolved:
        digest = trusted_documents.normalized_id(document_id)
        is_sha256 = trusted_documents.SHA256_HEX.match(digest) is not None
        if is_sha256 and trusted_documents.sha256_hex(query) != digest:
            raise RequestError(400, "provided sha does not match query")
        trusted = (self.trusted_only or not is_sha256) and (
            await self._trusted_body(digest, context) == query
        )
        if not is_sha256 and not trusted:
            raise RequestError(400, "documentId does not name this document")
        await self._allowed(trusted, context)
        return Resolved(query, digest, None if trusted else digest, trusted)

    async def _allowed(self, trusted: bool, context: RequestContext) -> None:
        if trusted or not self.trusted_only:
            return
        viewer = await context.viewer()
        if not viewer.has_any_role(frozenset({"ADMIN"})):
            raise RequestError(
                403, "only trusted documents are accepted on this server", "FORBIDDEN"
            )

    async def _is_trusted_text(self, query: str, context: RequestContext) -> bool:
        if not self.trusted_only:
            return False  # nothing depends on it: spare the lookup
        digest = trusted_documents.sha256_hex(query)
        return await self._trusted_body(digest, context) == query

    async def _trusted_body(self, document_id: str, context: RequestContext) -> str | None:
        document_id = trusted_documents.normalized_id(document_id)
        body = self.builtin.get(document_id) or self._trusted.get(document_id)
        if body is None:
            body = await trusted_documents.find_document(context.session, document_id)
            await context.session.rollback()  # end the read: the operation opens its own
            if body is None:
                return None
            self._trusted[document_id] = body
            while len(self._trusted) > TRUSTED_CACHE_SIZE:
                self._trusted.popitem(last=False)
        return body
