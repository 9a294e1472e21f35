"""GraphiQL, served from the package: GET /graphql in a browser (no CDN, works offline)."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, Response

PAGE = Path(__file__).parent / "static" / "graphiql" / "graphiql.html"
# GraphiQL sets inline styles and fetches this origin (HTTP and WebSocket) only.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
    ]
)


def graphiql_page() -> Response:
    return FileResponse(
        PAGE,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )
