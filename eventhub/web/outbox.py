"""The outbox deliverer of this process, with its channels, started in the app's lifespan."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.services.outbox_delivery import Channel
from eventhub.services.outbox_worker import Deliverer, WorkerPolicy
from eventhub.services.webhook_channel import WebhookChannel
from eventhub.services.webhook_sender import WebhookSender
from eventhub.settings import Settings


def build_deliverer(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Deliverer:
    """Webhooks now; the e-mail channel joins this list (it carries the organizers' notices)."""
    sender = WebhookSender(settings.webhooks_allow_private, settings.webhook_timeout)
    channels: list[Channel] = [WebhookChannel(sender)]
    policy = WorkerPolicy(
        settings.outbox_poll_seconds, settings.outbox_concurrency, settings.webhook_timeout
    )
    return Deliverer(sessions, channels, policy, on_close=[sender.close])
