"""GET /dashboard: the organizers' live sales page, and the static files it loads.

The page is plain HTML, CSS and JavaScript from `web/static/` (no build step).
It talks only to this origin: GraphQL over HTTP for queries and the
`graphql-transport-ws` WebSocket on /graphql for live numbers. The HTML is
served with a Content-Security-Policy that allows nothing but this origin and
no inline script or style, so text from the API can never run as code.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
PAGE = STATIC_DIR / "dashboard.html"
# Every document the dashboard sends (api.js), as a persisted-documents manifest: the
# server trusts them even with EVENTHUB_TRUSTED_DOCUMENTS_ONLY=1. A test keeps it in step.
DOCUMENTS = STATIC_DIR / "dashboard-documents.json"
# A Host header we are willing to echo into the policy: a name or address and a port.
_SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def content_security_policy(host: str | None) -> str:
    """Only this origin; WebSockets to this host named explicitly for older browsers."""
    sockets = f" ws://{host} wss://{host}" if host and _SAFE_HOST.match(host) else ""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self'{sockets}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


async def dashboard(request: Request) -> Response:
    return FileResponse(
        PAGE,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": content_security_policy(request.headers.get("host")),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


routes: list[BaseRoute] = [
    Route("/dashboard", dashboard, methods=["GET", "HEAD"]),
    Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
]
