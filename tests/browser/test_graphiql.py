"""GraphiQL and the dashboard run offline: every file they need comes from this server."""

from __future__ import annotations

from urllib.parse import urlparse

from playwright.async_api import Browser, Page, Route

from tests.e2e.conftest import ServerLauncher

TIMEOUT_MS = 20_000


async def offline_page(browser: Browser, base_url: str) -> tuple[Page, list[str], list[str]]:
    """A page that can reach `base_url` only; (page, URLs it tried elsewhere, script errors)."""
    origin = urlparse(base_url).netloc
    outside: list[str] = []
    errors: list[str] = []

    async def only_this_server(route: Route) -> None:
        if urlparse(route.request.url).netloc == origin:
            await route.continue_()
        else:  # what a machine without internet access would see
            outside.append(route.request.url)
            await route.abort()

    page = await browser.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.route("**/*", only_this_server)
    return page, outside, errors


async def test_graphiql_loads_from_the_server_alone_and_runs_a_query(
    start_server: ServerLauncher, browser: Browser
) -> None:
    server = await start_server()
    page, outside, errors = await offline_page(browser, server.base_url)
    await page.goto(f"{server.base_url}/graphql", wait_until="load")
    await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=TIMEOUT_MS)

    await page.click(".graphiql-query-editor .CodeMirror")
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.type("{ events(first: 1) { totalCount } }")
    await page.click(".graphiql-execute-button")
    response = page.locator(".graphiql-response")
    await response.get_by_text('"totalCount": 0').wait_for(timeout=TIMEOUT_MS)

    assert outside == []
    assert errors == []


async def test_the_dashboard_needs_nothing_from_outside(
    start_server: ServerLauncher, browser: Browser
) -> None:
    server = await start_server()
    page, outside, errors = await offline_page(browser, server.base_url)
    await page.goto(f"{server.base_url}/dashboard", wait_until="networkidle")
    await page.wait_for_selector("#login-email", timeout=TIMEOUT_MS)
    assert outside == []
    assert errors == []
