"""The durable path of a message: store it in the inbox, run its turn in one transaction, read its replies."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.engine import run_turn
from bot.models import InboundEvent, OutboundMessage
from catalog.live_index import LiveIndex
from catalog.models import utcnow
from channels.types import Incoming, Location, Reply, reply_from_dict, reply_to_dict

log = logging.getLogger(__name__)

PENDING, DONE, SENT = "pending", "done", "sent"


def incoming_to_dict(incoming: Incoming) -> dict[str, Any]:
    """An `Incoming` as stored in the inbox."""
    return dataclasses.asdict(incoming)


def incoming_from_dict(data: dict[str, Any]) -> Incoming:
    """Read back an `Incoming` stored by `incoming_to_dict`."""
    location = data.get("location")
    return Incoming(**{**data, "location": Location(**location) if location else None})


async def receive(sessions: async_sessionmaker[AsyncSession], incoming: Incoming) -> int | None:
    """Store a message in the inbox; None when the platform delivered this event before (a duplicate)."""
    event = InboundEvent(
        channel=incoming.channel,
        event_id=incoming.event_id,
        chat_id=incoming.chat_id,
        body=incoming_to_dict(incoming),
    )
    try:
        async with sessions.begin() as session:
            session.add(event)
    except IntegrityError:
        log.info("duplicate event dropped", extra={"channel": incoming.channel, "event": incoming.event_id})
        return None
    return event.id


async def handle(
    sessions: async_sessionmaker[AsyncSession], event_id: int, live_index: LiveIndex, default_locale: str = "vi"
) -> bool:
    """Run the turn of one stored event and write its replies to the outbox, all in one transaction.

    A crash or error leaves the event pending with its error noted, never half-done. Returns success.
    """
    try:
        async with sessions.begin() as session:
            event = await session.get(InboundEvent, event_id, with_for_update=True)
            if event is None or event.status != PENDING:
                return event is not None
            incoming = incoming_from_dict(event.body)
            replies = await run_turn(session, incoming, await live_index.current(session), default_locale)
            session.add_all(
                OutboundMessage(
                    inbound_id=event.id, channel=incoming.channel, chat_id=incoming.chat_id, body=reply_to_dict(reply)
                )
                for reply in replies
            )
            event.status, event.processed_at = DONE, utcnow()
        return True
    except Exception as error:
        log.exception("turn failed", extra={"event": event_id})
        async with sessions.begin() as session:
            await session.execute(
                update(InboundEvent)
                .where(InboundEvent.id == event_id)
                .values(attempts=InboundEvent.attempts + 1, error=repr(error)[:500])
            )
        return False


async def take_replies(sessions: async_sessionmaker[AsyncSession], event_id: int) -> list[Reply]:
    """The replies one event produced, in order, marked sent (the web chat delivers them in its response)."""
    async with sessions.begin() as session:
        rows = (
            await session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.inbound_id == event_id, OutboundMessage.status == PENDING)
                .order_by(OutboundMessage.id)
            )
        ).all()
        now = utcnow()
        for row in rows:
            row.status, row.sent_at = SENT, now
        return [reply_from_dict(row.body) for row in rows]
