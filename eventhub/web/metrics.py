"""GET /metrics, and the middleware that counts and times every HTTP request."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventhub.metrics import HTTP_LATENCY, HTTP_REQUESTS

ROUTES = ("/graphql", "/webhooks/stripe", "/healthz", "/readyz", "/metrics", "/dashboard")


def route_label(path: str) -> str:
    """A bounded label: the route's template, never the raw path with ids in it."""
    if path in ROUTES:
        return path
    if path.startswith("/tickets/") and path.endswith("/qr"):
        return "/tickets/{ticketId}/qr"
    if path.startswith("/events/") and path.endswith("/image"):
        return "/events/{eventId}/image"
    if path.startswith("/dashboard"):
        return "/dashboard"
    return "other"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route, method = route_label(scope["path"]), scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


async def metrics(request: Request) -> Response:
    if request.app.state.eventhub.settings.prometheus_multiproc_dir:
        registry = CollectorRegistry()
        # prometheus_client leaves MultiProcessCollector.__init__ unannotated.
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
