"""Door staff: validating tickets online, syncing offline scans."""

from __future__ import annotations

from datetime import timedelta

from eventhub.global_ids import decode_id
from eventhub.metrics import VALIDATIONS
from eventhub.resolvers.context import RequestContext
from eventhub.services import door
from eventhub.services.errors import NotFound


def _event_pk(event_id: str) -> int:
    pk = decode_id(event_id, "Event")
    if pk is None:
        raise NotFound("no such event", field="eventId")
    return pk


async def validate(ctx: RequestContext, event_id: str, token: str) -> door.Validation:
    pk = decode_id(event_id, "Event")
    if pk is None:
        result = door.Validation("INVALID")
    else:
        result = await door.validate_ticket(
            ctx.session, ctx.app.signer, pk, token, await ctx.actor(), now=ctx.now
        )
    VALIDATIONS.labels(result.outcome).inc()
    return result


async def sync(
    ctx: RequestContext, event_id: str, scans: list[door.OfflineScan]
) -> list[door.ScanResult]:
    return await door.sync_check_ins(
        ctx.session,
        ctx.app.signer,
        _event_pk(event_id),
        scans,
        await ctx.actor(),
        timedelta(seconds=ctx.settings.doors_open_before),
        now=ctx.now,
    )
