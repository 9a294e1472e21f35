"""The outbox deliverer of this process, with its channels, started in the app's lifespan."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.services.email_channel import EmailChannel
from eventhub.services.mail_transport import transport_for
from eventhub.services.outbox_delivery import Channel
from eventhub.services.outbox_worker import Deliverer, WorkerPolicy
from eventhub.services.ticket_tokens import TicketSigner
from eventhub.services.webhook_channel import WebhookChannel
from eventhub.services.webhook_sender import WebhookSender
from eventhub.settings import Settings


def build_deliverer(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    signer: Callable[[], TicketSigner],
) -> Deliverer:
    """Webhooks and e-mail (tickets, buyers' notices, organizers' endpoint notices)."""
    sender = WebhookSender(settings.webhooks_allow_private, settings.webhook_timeout)
    mail = transport_for(settings.smtp_url, settings.mail_dir, settings.smtp_timeout)
    channels: list[Channel] = [
        WebhookChannel(sender),
        EmailChannel(mail, signer, settings.mail_from),
    ]
    policy = WorkerPolicy(
        settings.outbox_poll_seconds,
        settings.outbox_concurrency,
        max(settings.webhook_timeout, settings.smtp_timeout),
    )
    return Deliverer(sessions, channels, policy, on_close=[sender.close])
