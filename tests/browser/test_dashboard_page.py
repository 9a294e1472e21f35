"""GET /dashboard through the ASGI app: the page, its security headers and its static files."""

from __future__ import annotations

import re

from eventhub.web.dashboard import content_security_policy
from tests.support.graphql import GraphQLClient

ASSET = re.compile(r'(?:src|href)="(/static/[^"]+)"')
MODULE_IMPORT = re.compile(r'from "\./([\w.-]+\.js)"')
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
}


async def test_dashboard_is_html_with_a_strict_content_security_policy(
    client: GraphQLClient,
) -> None:
    response = await client.http.get("/dashboard")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "connect-src 'self' ws://testserver wss://testserver;" in policy
    assert "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    page = response.text
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None, "no inline scripts"
    assert "<style" not in page, "no inline styles"
    assert " style=" not in page, "no inline styles"
    assert 'for="login-email"' in page
    assert 'for="login-password"' in page


async def test_every_static_file_the_page_loads_is_served(client: GraphQLClient) -> None:
    page = (await client.http.get("/dashboard")).text
    assets = set(ASSET.findall(page))
    assert {"/static/dashboard.js", "/static/dashboard.css"} <= assets
    modules = ["/static/dashboard.js"]
    while modules:  # follow the ES module imports, as the browser does
        script = (await client.http.get(modules.pop())).text
        imported = {f"/static/{name}" for name in MODULE_IMPORT.findall(script)}
        modules += sorted(imported - assets)
        assets |= imported
    assert {"/static/api.js", "/static/graphql-ws.js", "/static/chart.js"} <= assets

    for path in sorted(assets):
        response = await client.http.get(path)
        assert response.status_code == 200, path
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in CONTENT_TYPES[path[path.rindex(".") :]], (path, media_type)


async def test_a_missing_static_file_is_404(client: GraphQLClient) -> None:
    assert (await client.http.get("/static/nope.js")).status_code == 404
    assert (await client.http.get("/static/..%2Fdashboard.py")).status_code == 404


def test_a_hostile_host_header_cannot_add_to_the_policy() -> None:
    policy = content_security_policy("evil.example; script-src *")
    assert "evil" not in policy
    assert "connect-src 'self';" in policy
    assert "ws://[::1]:8000" in content_security_policy("[::1]:8000")
