"""An organizer watches /dashboard in a real browser while customers buy and staff scan.

A real `eventhub serve` (SQLite and PostgreSQL), a real headless chromium: the
organizer signs in through the form, picks the event, and every booking or
check-in made through the API shows on the page within a second, pushed over
the graphql-transport-ws subscriptions. Screenshots of the page on a desktop
and a phone are saved to EVENTHUB_TEST_ARTIFACTS (default: test-artifacts/).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    ViewportSize,
    WebSocketRoute,
    expect,
)

from tests.e2e.conftest import ServerLauncher, graphql_client
from tests.support.factories import create_event
from tests.support.factories import reserve as reserve_seats
from tests.support.graphql import PASSWORD, GraphQLClient

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
LIVE_WITHIN = 1.0  # seconds from the API's answer to the page showing the new numbers
TOKEN_TTL = 10  # seconds: the shortest access token the settings allow
HOSTILE_NAME = '<img src=x onerror="document.title=1"> Late Show'
EXPIRED_NOTICE = "Your session has expired. Sign in again to keep the numbers live."
VALIDATE = """
mutation($eventId: ID!, $token: String!) {
  validateTicket(eventId: $eventId, token: $token) { outcome }
}"""
TIERS = [
    {"name": "Early Bird", "price": "49.00", "limit": 40},
    {"name": "Regular", "price": "79.50", "limit": 100},
    {"name": "VIP", "price": "199.00", "limit": 10},
]
# The chart redrew itself to the width of its card (after a viewport change).
CHART_FITS = """() => {
  const chart = document.getElementById("chart");
  const style = getComputedStyle(chart);
  const inner = chart.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const svg = chart.querySelector("svg");
  return svg !== null && svg.width.baseVal.value === Math.max(280, Math.floor(inner));
}"""
READ_NUMBERS = """() => {
  const text = (selector) => document.querySelector(selector)?.textContent.trim();
  const tiers = {};
  for (const row of document.querySelectorAll("#tiers-body tr")) {
    tiers[row.querySelector(".tier-name").textContent] = {
      sold: row.querySelector(".tier-sold").textContent,
      left: row.querySelector(".tier-left").textContent,
    };
  }
  return {
    sold: text("#kpi-sold"), remaining: text("#kpi-remaining"), gross: text("#kpi-gross"),
    net: text("#kpi-net"), checkedIn: text("#kpi-checked-in"), tiers,
  };
}"""


def artifacts_dir() -> Path:
    """EVENTHUB_TEST_ARTIFACTS (relative to the repository root), else test-artifacts/."""
    folder = REPO_ROOT / os.environ.get("EVENTHUB_TEST_ARTIFACTS", "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def collect_console_errors(page: Page) -> list[str]:
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console.error: {message.text} ({message.location})")

    def on_page_error(error: Error) -> None:
        problems.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return problems


async def wait_for_numbers(page: Page, expected: dict[str, Any], within: float) -> float:
    """Seconds until every expected number shows; fails with what the page showed instead."""
    started = time.monotonic()
    seen: dict[str, Any] = {}
    while time.monotonic() - started <= within:
        seen = await page.evaluate(READ_NUMBERS)
        if all(seen.get(key) == value for key, value in expected.items()):
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    shown = {key: seen.get(key) for key in expected}
    pytest.fail(f"within {within}s the page should show {expected}, it showed {shown}")


async def sign_in(page: Page, email: str, *, mistype_first: bool = False) -> None:
    """Through the form; `mistype_first`: a wrong password first, which the form reports."""
    await page.get_by_label("Email").fill(email)
    if mistype_first:
        await page.get_by_label("Password").fill("not-the-password")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text(
            "That email and password do not match an account."
        )
        await page.screenshot(path=artifacts_dir() / "dashboard-login-error.png")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def book(api: GraphQLClient, event: dict[str, Any], items: dict[str, int]) -> list[str]:
    """A new customer buys `items`; the offline provider pays at once. Returns the QR tokens."""
    customer = await api.register()
    payload = await reserve_seats(api, customer, event, items)
    assert payload["errors"] == [], payload["errors"]
    assert payload["order"]["status"] == "PAID"
    return [ticket["qrToken"] for ticket in payload["order"]["tickets"]]


async def test_dashboard_shows_sales_and_check_ins_live(
    start_server: ServerLauncher, browser: Browser, is_sqlite: bool
) -> None:
    database = "sqlite" if is_sqlite else "postgresql"
    server = await start_server()
    async with graphql_client(server) as api:
        organizer = await api.register(organizer=True)
        event = await create_event(
            api, organizer, name="Harbour Lights Festival", venue="Pier 9, Lisbon",
            capacity=120, currency="EUR", ticketTypes=TIERS, promoCodes=[],
        )  # fmt: skip
        early_tokens = await book(api, event, {"Early Bird": 3})

        context = await browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
        page = await context.new_page()
        problems = collect_console_errors(page)
        await page.goto(f"{server.base_url}/dashboard")
        await sign_in(page, organizer.email, mistype_first=True)
        await page.get_by_label("Event").select_option(event["id"])
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect(page.locator("#event-panel")).to_have_attribute("data-live", "sales capacity")
        await wait_for_numbers(
            page, {"sold": "3", "remaining": "117", "gross": "€147.00", "checkedIn": "0"}, 2.0
        )

        await book(api, event, {"Regular": 2, "VIP": 1})
        await wait_for_numbers(
            page,
            {
                "sold": "6",
                "remaining": "114",
                "net": "€505.00",
                "gross": "€505.00",
                "tiers": {
                    "Early Bird": {"sold": "3 / 40", "left": "37"},
                    "Regular": {"sold": "2 / 100", "left": "98"},
                    "VIP": {"sold": "1 / 10", "left": "9"},
                },
            },
            LIVE_WITHIN,
        )

        outcome = await api.data(
            VALIDATE, {"eventId": event["id"], "token": early_tokens[0]}, organizer.token
        )
        assert outcome["validateTicket"]["outcome"] == "VALID"
        await wait_for_numbers(page, {"checkedIn": "1"}, LIVE_WITHIN)

        chart = page.locator("#chart svg")
        await expect(chart).to_have_attribute("data-total-tickets", "6")
        assert await chart.locator("rect.chart-bar").count() >= 1

        folder = artifacts_dir()
        await page.screenshot(
            path=folder / f"dashboard-desktop-{database}.png", full_page=True, animations="disabled"
        )
        await page.set_viewport_size(PHONE)
        await page.wait_for_function(CHART_FITS)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the phone layout scrolls sideways by {overflow}px"
        await page.screenshot(
            path=folder / f"dashboard-phone-{database}.png", full_page=True, animations="disabled"
        )
        await context.close()

    assert problems == [], "the page logged errors:\n" + "\n".join(problems)


@pytest.mark.parametrize("e2e_database_url", ["sqlite"], indirect=True)
async def test_dashboard_reconnects_and_asks_to_sign_in_again(
    start_server: ServerLauncher, browser: Browser
) -> None:
    """A dropped socket comes back and resubscribes; an expired token leads back to the form."""
    server = await start_server(access_token_ttl=TOKEN_TTL)
    async with graphql_client(server) as api:
        organizer = await api.register(organizer=True)
        await create_event(api, organizer, name=HOSTILE_NAME)
        event = await create_event(api, organizer, name="Night Market", ticketTypes=TIERS)

        context = await browser.new_context(viewport=PHONE, locale="en-US")
        page = await context.new_page()
        problems = collect_console_errors(page)
        sockets: list[WebSocketRoute] = []

        def relay(socket: WebSocketRoute) -> None:
            socket.connect_to_server()
            sockets.append(socket)

        await page.route_web_socket(re.compile(r"/graphql$"), relay)
        await page.goto(f"{server.base_url}/dashboard")
        await sign_in(page, organizer.email)
        await page.get_by_label("Event").select_option(event["id"])
        connection = page.locator("#connection")
        await expect(page.locator("#event-panel")).to_have_attribute("data-live", "sales capacity")
        options = await page.locator("#event-select option").all_text_contents()
        assert any(option.startswith(HOSTILE_NAME) for option in options), options
        assert await page.locator("main img").count() == 0, "API text must never become markup"

        await sockets[-1].close(code=1012, reason="server restart")
        await expect(connection).to_have_attribute("data-state", "reconnecting")
        await expect(connection).to_have_attribute("data-state", "live", timeout=5000)
        assert len(sockets) == 2
        await book(api, event, {"Regular": 1})
        await wait_for_numbers(page, {"sold": "1"}, LIVE_WITHIN)

        await expect(page.locator("#login-notice")).to_have_text(
            EXPIRED_NOTICE, timeout=(TOKEN_TTL + 5) * 1000
        )
        await expect(connection).to_have_attribute("data-state", "expired")
        await expect(page.get_by_label("Email")).to_have_value(organizer.email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_label("Event")).to_have_value(event["id"])
        await expect(connection).to_have_attribute("data-state", "live")
        await book(api, event, {"VIP": 1})
        await wait_for_numbers(page, {"sold": "2"}, LIVE_WITHIN)
        await context.close()

    assert problems == [], "the page logged errors:\n" + "\n".join(problems)
