"""GET /metrics, and the middleware that counts and times every HTTP request."""

from __future__ import annotations

import hmac
import os
import re
import time
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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


def forget_dead_workers(folder: str) -> None:
    """Live gauges (open subscriptions) of a worker that died must stop counting.

    uvicorn restarts a killed worker under a new pid; its old `gauge_live*_<pid>.db`
    files would otherwise add its last values forever.
    """
    pids = {
        int(match.group(1))
        for path in Path(folder).glob("gauge_live*_*.db")
        if (match := re.search(r"_(\d+)\.db$", path.name))
    }
    for pid in pids:
        if not _alive(pid):
            mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _authorized(request: Request, token: str) -> bool:
    """EVENTHUB_METRICS_TOKEN, when set, must come as `Authorization: Bearer <token>`."""
    if not token:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def metrics(request: Request) -> Response:
    settings = request.app.state.eventhub.settings
    if not _authorized(request, settings.metrics_token):
        return JSONResponse(
            {
                "errors": [
                    {
                        "message": "a metrics token is required",
                        "extensions": {"code": "UNAUTHENTICATED"},
                    }
                ]
            },
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="metrics"'},
        )
    folder = settings.prometheus_multiproc_dir
    if folder:
        forget_dead_workers(folder)
        registry = CollectorRegistry()
        # prometheus_client leaves MultiProcessCollector.__init__ unannotated.
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
