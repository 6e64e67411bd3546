"""The durable path of a stored message (bot/intake.py stores it): run its turn in one transaction, read its replies."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.engine import run_turn
from bot.models import InboundEvent, OutboundMessage, first_pending_of_its_chat
from bot.order_news import wrote_news
from bot.settings import Settings
from catalog.live_index import LiveIndex
from catalog.models import utcnow
from channels.types import Incoming, Location, Reply, reply_from_dict, reply_to_dict

log = logging.getLogger(__name__)

PENDING, DONE, SENT, FAILED = "pending", "done", "sent", "failed"
# A turn that keeps failing is given up after this many tries, so the conversation is not stuck behind it.
MAX_TURN_ATTEMPTS = 5


@dataclass(frozen=True)
class Written:
    """What a committed turn left for other workers: replies on these channels, order events to announce."""

    channels: frozenset[str]
    order_news: bool


def _nothing_to_tell(_written: Written) -> None:
    pass


def incoming_from_dict(data: dict[str, Any]) -> Incoming:
    """Read back an `Incoming` stored by `bot.intake.incoming_to_dict`."""
    location = data.get("location")
    return Incoming(**{**data, "location": Location(**location) if location else None})


async def handle(
    sessions: async_sessionmaker[AsyncSession],
    event_id: int,
    live_index: LiveIndex,
    settings: Settings,
    after: Callable[[Written], None] = _nothing_to_tell,
) -> bool:
    """Run the turn of one stored event now (the web chat waits for its own). Returns success; `after` as in
    `handle_next`."""
    return await _process(sessions, _BY_ID, {"id": event_id}, live_index, settings, after)


async def handle_next(
    sessions: async_sessionmaker[AsyncSession],
    live_index: LiveIndex,
    settings: Settings,
    after: Callable[[Written], None] = _nothing_to_tell,
) -> bool:
    """Run the turn of the oldest due event whose conversation has no earlier one pending; False if none.
    `after` hears, once the turn is committed, what it wrote for other workers (`Written`).

    Events of one conversation are taken strictly in order; `SKIP LOCKED` lets several workers and processes
    share the inbox on PostgreSQL (SQLite serialises writers anyway).
    """
    return await _process(sessions, _NEXT_DUE, {"now": utcnow()}, live_index, settings, after)


# The two ways a turn's event is taken, built once: building the claim's statement cost the inbox worker more CPU
# than running it (py-spy on bench/webhooks.py), while SQLAlchemy caches the compiled SQL of either.
_BY_ID = select(InboundEvent).where(InboundEvent.id == bindparam("id")).with_for_update()
_NEXT_DUE = (
    select(InboundEvent)
    .where(
        InboundEvent.status == PENDING,
        InboundEvent.next_attempt_at <= bindparam("now"),
        first_pending_of_its_chat(InboundEvent),
    )
    .order_by(InboundEvent.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)


async def _process(
    sessions: async_sessionmaker[AsyncSession],
    query: Select[InboundEvent],
    params: dict[str, Any],
    live_index: LiveIndex,
    settings: Settings,
    after: Callable[[Written], None] = _nothing_to_tell,
) -> bool:
    """One turn in one transaction: replies go to the outbox with the event marked done, or nothing changes."""
    event_id = None
    started = time.perf_counter()
    try:
        async with sessions.begin() as session:
            event = await session.scalar(query, params)
            if event is None:
                return False
            event_id = event.id
            if event.status != PENDING:
                return True
            incoming = incoming_from_dict(event.body)
            replies, notifications = await run_turn(session, incoming, await live_index.current(session), settings)
            outgoing = [(incoming.channel, incoming.chat_id, reply, False) for reply in replies]
            outgoing += [(channel, chat_id, reply, True) for channel, chat_id, reply in notifications]
            session.add_all(
                OutboundMessage(
                    inbound_id=event.id,
                    channel=channel,
                    chat_id=chat_id,
                    body=reply_to_dict(reply),
                    proactive=proactive,
                )
                for channel, chat_id, reply, proactive in outgoing
            )
            event.status, event.processed_at = DONE, utcnow()
            await session.flush()  # the commit's flush, early: `wrote_news` sees the events it inserts
            written = Written(frozenset(channel for channel, *_ in outgoing), wrote_news(session))
    except Exception as error:
        log.exception("turn failed", extra={"event": event_id})
        if event_id is not None:
            await _failed(sessions, event_id, error)
        return False
    metrics.TURNS.labels(incoming.channel, "done").inc()
    metrics.TURN_SECONDS.labels(incoming.channel).observe(time.perf_counter() - started)
    after(written)
    return True


async def _failed(sessions: async_sessionmaker[AsyncSession], event_id: int, error: Exception) -> None:
    """Count the failure and try again later; after `MAX_TURN_ATTEMPTS` give up so the conversation moves on."""
    async with sessions.begin() as session:
        event = await session.get(InboundEvent, event_id)
        if event is None:
            return
        event.attempts += 1
        event.error = repr(error)[:500]
        event.next_attempt_at = utcnow() + timedelta(seconds=min(2**event.attempts, 300))
        if event.attempts >= MAX_TURN_ATTEMPTS:
            event.status = FAILED
            log.error("event given up", extra={"event": event_id, "channel": event.channel, "chat": event.chat_id})
        metrics.TURNS.labels(event.channel, "failed").inc()


async def take_replies(sessions: async_sessionmaker[AsyncSession], event_id: int) -> list[Reply]:
    """The replies one event produced, in order, marked sent (the web chat delivers them in its response).

    Updates about the chat's orders written since its last message (a partner accepted, say) come first: the
    web chat has no push, so they ride on the next answer.
    """
    async with sessions.begin() as session:
        event = await session.get(InboundEvent, event_id)
        if event is None:
            return []
        own_replies = (OutboundMessage.inbound_id == event_id) & OutboundMessage.proactive.is_(False)
        updates = (
            (OutboundMessage.channel == event.channel)
            & (OutboundMessage.chat_id == event.chat_id)
            & OutboundMessage.proactive.is_(True)
        )
        rows = (
            await session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.status == PENDING, own_replies | updates)
                .order_by(OutboundMessage.id)
            )
        ).all()
        now = utcnow()
        for row in rows:
            row.status, row.sent_at = SENT, now
        return [reply_from_dict(row.body) for row in rows]
