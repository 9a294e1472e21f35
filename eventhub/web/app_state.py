"""AppState: the process's composition root, the long-lived objects made once per process.

It lives in the web layer because the web app builds it (`web/app.py: build_state`) and
owns its lifetime (engine, Redis link, gate). Resolvers never see this class: a request's
`RequestContext` is handed it as `resolvers.context.AppServices`, the narrow view of what
resolvers and schema types need, so nothing below web imports web.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from eventhub.auth.access_tokens import AccessTokenCodec
from eventhub.auth.sign_in import Authenticator
from eventhub.models.outage import DatabaseGate
from eventhub.services.clock import SYSTEM_CLOCK, Clock
from eventhub.services.limit_storage import LimitStorage
from eventhub.services.payments import PaymentProvider
from eventhub.services.redis_link import RedisLink
from eventhub.services.ticket_tokens import TicketSigner
from eventhub.settings import Settings


@dataclass(eq=False)
class AppState:
    """Long-lived objects made once per process by the web app."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    gate: DatabaseGate
    codec: AccessTokenCodec
    authenticator: Authenticator
    provider: PaymentProvider
    signer: TicketSigner
    redis: RedisLink | None = None  # EVENTHUB_REDIS_URL: shared limits, degraded when down
    limit_storage: LimitStorage = field(default_factory=lambda: LimitStorage(None, "eventhub"))
    clock: Clock = SYSTEM_CLOCK  # tests hand in one they can move forward
