"""How long the inbox and outbox keep handled messages. Their bodies hold what buyers wrote (names, phones,
addresses), and without pruning both tables grow by every message for ever.

A `Worker` in each process with workers prunes in batches, then looks again every `PRUNE_EVERY` seconds; several
processes may prune at once (each skips the rows another is deleting). Pending rows stay whatever their age, and
an event stays while one of its replies does, so the only thing lost is the record that lets a redelivery be
recognised: `HTX_KEEP_MESSAGES_DAYS` (30) is far beyond any platform's retries (Zalo's replays are dropped after
two hours).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import SENT
from bot.models import InboundEvent, OutboundMessage
from bot.turns import DONE, FAILED
from catalog.models import utcnow

PRUNE_EVERY = 3600.0
PRUNE_BATCH = 1000


async def prune_messages(sessions: async_sessionmaker[AsyncSession], keep: timedelta, batch: int = PRUNE_BATCH) -> int:
    """Delete up to `batch` settled outbox rows and up to `batch` handled inbox events older than `keep`, in one
    short transaction; how many rows went (0: nothing left to prune). Rows another process is deleting are
    skipped (`SKIP LOCKED`), so processes pruning at once neither wait for each other nor deadlock."""
    cutoff = utcnow() - keep
    old_replies = (
        select(OutboundMessage.id)
        .where(OutboundMessage.status.in_((SENT, FAILED)), OutboundMessage.created_at < cutoff)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    old_events = (
        select(InboundEvent.id)
        .where(
            InboundEvent.status.in_((DONE, FAILED)),
            InboundEvent.received_at < cutoff,
            ~exists().where(OutboundMessage.inbound_id == InboundEvent.id),
        )
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    async with sessions.begin() as session:
        replies = await session.execute(delete(OutboundMessage).where(OutboundMessage.id.in_(old_replies)))
        events = await session.execute(delete(InboundEvent).where(InboundEvent.id.in_(old_events)))
    return int(replies.rowcount) + int(events.rowcount)  # type: ignore[attr-defined]
