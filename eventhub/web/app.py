"""Builds the Starlette application; `create_app` is what uvicorn serves."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute

from eventhub.auth.access_tokens import AccessTokenCodec
from eventhub.auth.login_throttle import LoginThrottle, ThrottlePolicy
from eventhub.auth.passwords import PasswordHasher
from eventhub.auth.sign_in import Authenticator
from eventhub.live.hub import HUB
from eventhub.live.listener import ChangeListener
from eventhub.live.state import state_loader
from eventhub.metrics import BUS_LAG
from eventhub.models.database import (
    create_engine,
    create_session_factory,
    postgres_probe,
    redacted,
)
from eventhub.models.outage import DatabaseGate
from eventhub.models.outage_board import OutageBoard
from eventhub.schema.schema import build_schema
from eventhub.services import trusted_documents
from eventhub.services.clock import SYSTEM_CLOCK, Clock
from eventhub.services.hold_sweeper import run_sweeper
from eventhub.services.limit_storage import LimitStorage
from eventhub.services.payments import OfflineProvider, PaymentProvider
from eventhub.services.payments.stripe import StripeProvider
from eventhub.services.redis_link import RedisLink
from eventhub.services.ticket_tokens import TicketSigner
from eventhub.settings import Settings, get_settings
from eventhub.web.app_state import AppState
from eventhub.web.body_limit import BodyLimitMiddleware
from eventhub.web.cors import cors_middleware
from eventhub.web.dashboard import DOCUMENTS as DASHBOARD_DOCUMENTS
from eventhub.web.dashboard import routes as dashboard_routes
from eventhub.web.document_store import build_document_store
from eventhub.web.event_images import event_image
from eventhub.web.graphql_http import GraphQLHTTP
from eventhub.web.graphql_view import EventHubGraphQL
from eventhub.web.health import healthz, readyz
from eventhub.web.key_refresh import KeyRefresher
from eventhub.web.metrics import MetricsMiddleware, metrics
from eventhub.web.outage import DatabaseOutageMiddleware
from eventhub.web.outbox import build_deliverer
from eventhub.web.persisted_queries import PersistedQueries
from eventhub.web.rate_limit import RateLimiter, RateLimitMiddleware
from eventhub.web.response_cache import ResponseCache
from eventhub.web.schema_sdl import schema_route
from eventhub.web.socket_guard import SocketGuard
from eventhub.web.socket_tokens import TokenGuard
from eventhub.web.tickets_qr import ticket_qr
from eventhub.web.webhooks import stripe_webhook

logger = logging.getLogger("eventhub")
LIVE_INTERVAL = 0.1  # coalesce bursts: at most one message per event every 100 ms
SQLITE_POLL_SECONDS = 1.0
LIVE_POOL_SIZE = 2  # per worker, beside EVENTHUB_DB_POOL_SIZE and the LISTEN connection


def payment_provider(settings: Settings) -> PaymentProvider:
    if settings.payment_provider == "stripe":
        return StripeProvider(
            settings.stripe_secret_key,
            settings.stripe_webhook_secret,
            settings.stripe_api_base,
            timeout=settings.stripe_timeout,
        )
    return OfflineProvider()


def database_gate(settings: Settings) -> DatabaseGate:
    """The outage gate; its board is shared by the workers of one `eventhub serve`."""
    probe = None
    if not settings.is_sqlite:
        probe = postgres_probe(settings.database_url, settings.db_connect_timeout)
    folder = settings.prometheus_multiproc_dir
    board = OutageBoard(Path(folder) if folder else None, redacted(settings.database_url))
    return DatabaseGate(probe, board)


def database_engine(settings: Settings, pool_size: int) -> AsyncEngine:
    return create_engine(
        settings.database_url,
        pool_size=pool_size,
        connect_timeout=settings.db_connect_timeout,
        command_timeout=settings.db_command_timeout,
        pool_timeout=settings.db_pool_timeout,
    )


def freeze_start_up_objects() -> None:
    """Move what start-up built (modules, the schema, pools: ~170k objects that live as long
    as the worker) out of the collector's sight, once per process.

    A full collection otherwise walks them all, 80-140 ms during which the worker
    answers nobody: most of the p99 of reads that take 5-20 ms. Garbage made before
    is collected first, so only live objects are frozen; the first app of a process
    freezes (a test process builds many apps: later ones must not pin earlier ones).
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def public_cache(settings: Settings) -> ResponseCache:
    """Anonymous catalogue reads, kept until the next change signal (web/response_cache.py).

    On SQLite other processes' changes reach the live feed only by polling: no
    answer is kept longer than the poll interval there.
    """
    seconds = settings.public_cache_seconds
    if settings.is_sqlite:
        seconds = min(seconds, SQLITE_POLL_SECONDS)
    return ResponseCache(seconds, settings.public_cache_entries)


def build_state(settings: Settings, clock: Clock = SYSTEM_CLOCK) -> AppState:
    engine = database_engine(settings, settings.db_pool_size)
    gate = database_gate(settings)
    # Commands that do not serve (create-admin, demo) sign no tokens: without a key
    # configured they get a throwaway one; create_app never gets here without a key.
    secret_key = settings.secret_key or secrets.token_urlsafe(48)
    codec = AccessTokenCodec(secret_key, settings.access_token_ttl)
    redis = (
        RedisLink(settings.redis_url, timeout=settings.redis_timeout)
        if settings.redis_url
        else None
    )
    limit_storage = LimitStorage(redis, settings.redis_key_prefix)
    policy = ThrottlePolicy(
        pair_failures=settings.login_pair_failures,
        address_failures=settings.login_address_failures,
        account_failures=settings.login_account_failures,
        lockout_seconds=settings.login_lockout_seconds,
    )
    hasher = PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        concurrency=settings.password_hash_concurrency,
    )
    return AppState(
        settings=settings,
        engine=engine,
        session_factory=create_session_factory(engine, gate),
        gate=gate,
        codec=codec,
        authenticator=Authenticator(
            hasher, codec, settings.refresh_token_ttl, LoginThrottle(limit_storage, policy)
        ),
        provider=payment_provider(settings),
        signer=TicketSigner.from_pem(settings.ticket_signing_key, settings.ticket_verify_keys),
        redis=redis,
        limit_storage=limit_storage,
        clock=clock,
    )


def create_app(settings: Settings | None = None, clock: Clock = SYSTEM_CLOCK) -> Starlette:
    settings = settings or get_settings()
    settings.require_signing_secret()
    # Under `--workers N` each worker is a fresh process: give its log lines a handler.
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    state = build_state(settings, clock)
    schema = build_schema(settings)
    guard = TokenGuard(state.codec, state.session_factory)
    store = build_document_store(
        settings.persisted_query_store_size, state.redis, settings.redis_key_prefix
    )
    dashboard_documents = trusted_documents.parse_manifest(DASHBOARD_DOCUMENTS.read_text())
    persisted = PersistedQueries(store, settings.trusted_documents_only, dashboard_documents)
    graphql = EventHubGraphQL(schema, state, settings.cors_origin_list, guard, persisted)
    graphql_http = GraphQLHTTP(graphql, state, persisted, public_cache(settings))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Live reads get connections of their own: during a booking burst every pooled
        # connection is busy, and subscribers would wait behind it for the new state.
        live_engine = database_engine(settings, LIVE_POOL_SIZE)
        live_sessions = create_session_factory(live_engine, state.gate)
        # The key ring's reads share that small pool: never a request's connection.
        keys = KeyRefresher(state, settings, live_sessions)
        await keys.refresh()  # retired keys are refused from the first request on
        tasks = [
            asyncio.create_task(
                run_sweeper(
                    state.session_factory,
                    settings.sweep_interval_seconds,
                    state.provider,
                    state.clock,
                )
            ),
            asyncio.create_task(keys.run()),
            asyncio.create_task(guard.run()),
        ]
        app.state.outbox = build_deliverer(settings, state.session_factory, lambda: state.signer)
        tasks.append(asyncio.create_task(app.state.outbox.run()))
        # SQLite cannot notify other worker processes: poll as a fallback there.
        poll = SQLITE_POLL_SECONDS if settings.is_sqlite else None
        load = state_loader(live_sessions)
        HUB.configure(load, LIVE_INTERVAL, poll, settings.live_fanout_share)
        HUB.lag_observers[:] = [BUS_LAG.observe]
        HUB.change_observers.append(graphql_http.cache.invalidate)
        if not settings.is_sqlite:
            listener = ChangeListener(
                settings.database_url,
                connect_timeout=settings.db_connect_timeout,
                report=state.gate.report,
            )
            state.gate.on_recovery(listener.retry_now)
            app.state.change_listener = listener
            tasks.append(asyncio.create_task(listener.run()))
        # Connections pooled before an outage died with it: start afresh when it ends.
        state.gate.on_recovery(state.engine.dispose)
        state.gate.on_recovery(live_engine.dispose)
        freeze_start_up_objects()
        try:
            yield
        finally:
            HUB.change_observers.remove(graphql_http.cache.invalidate)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await state.gate.stop()
            await state.engine.dispose()
            await live_engine.dispose()
            await store.close()
            if state.redis is not None:
                await state.redis.close()

    app = Starlette(
        routes=[
            schema_route(schema),
            Route("/graphql", graphql_http),  # every method: a wrong one gets a JSON 405
            WebSocketRoute("/graphql", graphql),
            Route("/tickets/{ticket_id}/qr", ticket_qr, methods=["GET"]),
            Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
            Route("/events/{event_id}/image", event_image, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *dashboard_routes,
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(MetricsMiddleware),
            *cors_middleware(settings.cors_origin_list),  # before the limiter: a 429 keeps CORS
            Middleware(DatabaseOutageMiddleware, gate=state.gate),
            Middleware(
                BodyLimitMiddleware,
                max_body_bytes=settings.max_body_bytes,
                max_upload_bytes=settings.max_upload_bytes,
                body_timeout=settings.http_body_timeout,
            ),
            Middleware(SocketGuard, max_sockets_per_address=settings.max_sockets_per_address),
            Middleware(
                RateLimitMiddleware,
                limiter=RateLimiter(settings.rate_limit, state.limit_storage),
                codec=state.codec,
            ),
        ],
    )
    app.state.eventhub = state
    return app
