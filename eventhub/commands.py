"""What the `eventhub` commands do beyond serving: admins and demo data."""

from __future__ import annotations

import json
import sys

from eventhub.models.migrate import upgrade_database_async
from eventhub.services import users
from eventhub.services.errors import DomainError
from eventhub.settings import Settings
from eventhub.web.app import build_state


async def create_admin(settings: Settings, email: str, password: str, name: str) -> int:
    await upgrade_database_async(settings.database_url)
    state = build_state(settings)
    try:
        data = users.validate_registration(users.Registration(email, password, name))
        password_hash = await state.authenticator.hasher.hash(data.password)
        async with state.session_factory() as session:
            user, created = await users.ensure_admin(session, data, password_hash)
    except DomainError as error:
        print(f"eventhub: {error.field or 'input'}: {error.message}", file=sys.stderr)
        return 2
    finally:
        await state.engine.dispose()
    print(f"{'created' if created else 'promoted'} admin {user.email}")
    return 0


async def load_demo(settings: Settings) -> int:
    from eventhub.demo import load_demo_data

    await upgrade_database_async(settings.database_url)
    state = build_state(settings)
    try:
        async with state.session_factory() as session:
            logins = await load_demo_data(session, state.authenticator.hasher)
    finally:
        await state.engine.dispose()
    print("Demo data loaded. Sign in with:")
    for role, (email, password) in logins.items():
        print(f"  {role:<10} {email:<28} {password}")
    return 0


async def rebuild_analytics(settings: Settings, check_only: bool) -> int:
    """Recount the maintained sales figures from the orders, or with `check_only` compare them
    with a recount (exit 1 on a difference, each listed)."""
    from eventhub.services import sales_rollup

    await upgrade_database_async(settings.database_url)
    # A recount of millions of orders runs for minutes: no per-statement timeout here.
    state = build_state(settings.model_copy(update={"db_command_timeout": 24 * 3600.0}))
    try:
        async with state.session_factory() as session:
            if not check_only:
                await sales_rollup.rebuild(session)
                await session.commit()
                print("analytics figures recounted")
                return 0
            problems = await sales_rollup.differences(session)
    finally:
        await state.engine.dispose()
    for line in problems:
        print(line)
    print("analytics figures " + ("differ from a recount" if problems else "equal a recount"))
    return 1 if problems else 0


async def export_tickets(settings: Settings, event_id: str) -> int:
    """Print what an offline scanner needs: verification keys and every ticket's status."""
    from eventhub.global_ids import decode_id, encode_id
    from eventhub.services import door

    pk = decode_id(event_id, "Event") or (int(event_id) if event_id.isdigit() else None)
    if pk is None:
        print(f"eventhub: --event: {event_id!r} is not an event id", file=sys.stderr)
        return 2
    state = build_state(settings)
    try:
        async with state.session_factory() as session:
            rows = await door.export_tickets(session, pk)
    finally:
        await state.engine.dispose()
    tickets = [
        {
            "id": encode_id("Ticket", t.id),
            "number": t.id,
            "status": t.status,
            "checkedInAt": t.checked_in_at.isoformat() if t.checked_in_at else None,
        }
        for t in rows
    ]
    document = {
        "eventId": encode_id("Event", pk),
        "keys": json.loads(state.signer.jwks()),
        "tickets": tickets,
    }
    print(json.dumps(document, indent=2))
    return 0


async def reconcile_payments(settings: Settings, since: str | None, fix: bool) -> int:
    from datetime import UTC, datetime

    from eventhub.services.payments.stripe import StripeProvider
    from eventhub.services.payments.stripe.reconcile import reconcile

    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        print(f"eventhub: --since: {since!r} is not an ISO 8601 time", file=sys.stderr)
        return 2
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    state = build_state(settings)
    if not isinstance(state.provider, StripeProvider):
        print("eventhub: reconcile needs EVENTHUB_PAYMENT_PROVIDER=stripe", file=sys.stderr)
        return 2
    try:
        async with state.session_factory() as session:
            found = await reconcile(session, state.provider, start, fix)
    finally:
        await state.engine.dispose()
    for m in found:
        print(f"order {m.order_id}: ours {m.ours}, stripe {m.stripe} -> {m.action}")
    print(f"{len(found)} orders disagree with Stripe")
    return 0


async def add_trusted_documents(settings: Settings, path: str, text: str) -> int:
    """Load a persisted-documents manifest; every document must be valid against the schema."""
    from eventhub.schema.validation import document_problems
    from eventhub.services import trusted_documents

    try:
        documents = trusted_documents.parse_manifest(text)
        problems = document_problems(settings, documents)
        if problems:
            raise trusted_documents.ManifestError("; ".join(problems))
        await upgrade_database_async(settings.database_url)
        state = build_state(settings)
        try:
            async with state.session_factory() as session:
                loaded = await trusted_documents.add_documents(session, documents)
        finally:
            await state.engine.dispose()
    except trusted_documents.ManifestError as error:
        print(f"eventhub: {path}: {error}", file=sys.stderr)
        return 2
    print(f"{loaded.added} trusted documents added, {loaded.unchanged} already there")
    return 0
