"""POST /webhooks/stripe: verified Stripe events; replays are harmless."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from eventhub.services.payments.stripe import InvalidWebhook, StripeProvider, webhook_events


async def stripe_webhook(request: Request) -> JSONResponse:
    state = request.app.state.eventhub
    provider = state.provider
    if not isinstance(provider, StripeProvider):
        return JSONResponse({"error": "the stripe provider is not configured"}, status_code=404)
    payload = await request.body()  # at most EVENTHUB_MAX_BODY_BYTES (web/body_limit.py)
    try:
        event = provider.parse_event(payload, request.headers.get("stripe-signature"))
    except InvalidWebhook as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    async with state.session_factory() as session:
        outcome = await webhook_events.handle_event(session, provider, event)
    return JSONResponse({"received": True, "outcome": outcome})
