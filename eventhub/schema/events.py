"""Root fields for events: browsing, and organizer management."""

from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from eventhub.global_ids import encode_id
from eventhub.resolvers import events
from eventhub.schema.common import DeletePayload, errors_of
from eventhub.schema.event_types import (
    CreateEventInput,
    Event,
    EventConnection,
    EventFilter,
    EventPayload,
    PromoCodeInput,
    TicketTypeInput,
    UpdateEventInput,
)
from eventhub.schema.permissions import requires_role
from eventhub.schema.roles import Role
from eventhub.schema.users import UserPayload
from eventhub.services.event_listings import EventFilter as EventFilterData

MANAGERS = (Role.ORGANIZER, Role.ADMIN)


@strawberry.type
class EventQuery:
    @strawberry.field(description="published events are public")
    async def event(self, info: Info, id: strawberry.ID) -> Event | None:
        return Event.maybe(await events.visible_event(info.context, id))

    @strawberry.field
    async def events(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: EventFilter | None = None,
    ) -> EventConnection:
        filters = filter.to_data() if filter else EventFilterData()
        return EventConnection.of(await events.browse(info.context, first, after, filters))

    @strawberry.field(extensions=requires_role(Role.ORGANIZER))
    async def my_events(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> EventConnection:
        return EventConnection.of(await events.mine(info.context, first, after))


@strawberry.type
class EventMutation:
    @strawberry.mutation(extensions=requires_role(Role.ORGANIZER))
    async def create_event(self, info: Info, input: CreateEventInput) -> EventPayload:
        return EventPayload.of(await events.create(info.context, input.to_data()))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def update_event(
        self, info: Info, id: strawberry.ID, input: UpdateEventInput
    ) -> EventPayload:
        return EventPayload.of(await events.update(info.context, id, input.to_data()))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def publish_event(self, info: Info, id: strawberry.ID) -> EventPayload:
        return EventPayload.of(await events.publish(info.context, id))

    @strawberry.mutation(
        extensions=requires_role(*MANAGERS), description="refunds every paid order"
    )
    async def cancel_event(self, info: Info, id: strawberry.ID) -> EventPayload:
        return EventPayload.of(await events.cancel(info.context, id))

    @strawberry.mutation(
        extensions=requires_role(*MANAGERS), description="only while nothing is sold"
    )
    async def delete_event(self, info: Info, id: strawberry.ID) -> DeletePayload:
        result = await events.delete(info.context, id)
        deleted = strawberry.ID(encode_id("Event", result.value)) if result.value else None
        return DeletePayload(deleted_id=deleted, errors=errors_of(result.error))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def add_ticket_type(
        self, info: Info, event_id: strawberry.ID, input: TicketTypeInput
    ) -> EventPayload:
        return EventPayload.of(
            await events.add_ticket_type(info.context, event_id, input.to_data())
        )

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def add_promo_code(
        self, info: Info, event_id: strawberry.ID, input: PromoCodeInput
    ) -> EventPayload:
        return EventPayload.of(await events.add_promo_code(info.context, event_id, input.to_data()))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def upload_event_image(
        self, info: Info, event_id: strawberry.ID, file: Upload
    ) -> EventPayload:
        return EventPayload.of(await events.upload_image(info.context, event_id, file))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def assign_staff(self, info: Info, event_id: strawberry.ID, email: str) -> UserPayload:
        """`user` stays null: the answer must not tell whether the email has an account."""
        result = await events.assign_staff(info.context, event_id, email)
        return UserPayload(user=None, errors=errors_of(result.error))
