"""The outbox delivery worker: sends replies through each platform, in order per chat, retrying with backoff.

A row is leased (not locked) while its HTTP call runs, so no database transaction stays open across the
network and a crashed worker's row comes back when its lease runs out. Rows of one chat go out strictly in
order: a row waits while an earlier row of the same chat is still pending (leased or waiting to retry).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.models import Conversation, OutboundMessage, first_pending_of_its_chat
from catalog.models import utcnow
from channels.base import Channel, Delivery, SendError
from channels.types import reply_from_dict

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
LEASE = timedelta(seconds=60)
# A row failing for a passing reason (429, 5xx, timeouts) is retried until it is this old, however many tries that
# takes: a platform down for minutes or hours gets everything once it is back. Older replies are given up.
GIVE_UP_AFTER = timedelta(hours=24)
MAX_BACKOFF = 300.0
# Requests per second each platform accepts from us (Zalo: 4,000 per minute per app; the others are higher).
RATES = {"zalo": 4000 / 60, "messenger": 200.0, "telegram": 30.0}


class RateLimiter:
    """At most `rate` calls per second, spaced evenly (a token bucket of one)."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when the next call may go."""
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self._interval


def backoff(attempts: int, retry_after: float | None) -> float:
    """Seconds to wait before the next try: exponential with full jitter, never sooner than the platform asked."""
    delay = random.uniform(0, min(MAX_BACKOFF, 2.0**attempts))
    return max(delay, retry_after or 0.0)


class Deliverer:
    """Sends due outbox rows of the channels it has; the web chat's rows are delivered in its HTTP response."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: dict[str, Channel],
        give_up_after: timedelta = GIVE_UP_AFTER,
    ) -> None:
        self.sessions = sessions
        self.channels = channels
        self.give_up_after = give_up_after
        self.limits = {name: RateLimiter(RATES.get(name, 50.0)) for name in channels}

    async def deliver_next(self) -> bool:
        """Lease, send and settle one due row; False when nothing is due."""
        claimed = await self._claim()
        if claimed is None:
            return False
        row_id, channel_name, delivery, attempts = claimed
        channel = self.channels[channel_name]
        await self.limits[channel_name].wait()
        try:
            await channel.send(delivery)
        except SendError as error:
            await self._settle(row_id, error, attempts)
        except Exception as error:  # a bug or an unexpected client error: retry, but say so loudly
            log.exception("send crashed", extra={"channel": channel_name, "outbound": row_id})
            await self._settle(row_id, SendError(repr(error)[:200], permanent=False), attempts)
        else:
            await self._settle(row_id, None, attempts)
        return True

    async def _claim(self) -> tuple[int, str, Delivery, int] | None:
        now = utcnow()
        query = (
            select(OutboundMessage, Conversation.last_inbound_at)
            .outerjoin(
                Conversation,
                (Conversation.channel == OutboundMessage.channel) & (Conversation.chat_id == OutboundMessage.chat_id),
            )
            .where(
                OutboundMessage.status == PENDING,
                OutboundMessage.channel.in_(list(self.channels)),
                OutboundMessage.next_attempt_at <= now,
                or_(OutboundMessage.lease_until.is_(None), OutboundMessage.lease_until < now),
                first_pending_of_its_chat(OutboundMessage),
            )
            .order_by(OutboundMessage.id)
            .limit(1)
            .with_for_update(of=OutboundMessage, skip_locked=True)
        )
        async with self.sessions.begin() as session:
            found = (await session.execute(query)).first()
            if found is None:
                return None
            row, last_inbound_at = found
            row.lease_until = now + LEASE
            row.attempts += 1
            delivery = Delivery(
                chat_id=row.chat_id,
                reply=reply_from_dict(row.body),
                last_user_message_at=last_inbound_at,
                proactive=row.proactive,
            )
            return row.id, row.channel, delivery, row.attempts

    async def _settle(self, row_id: int, error: SendError | None, attempts: int) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(OutboundMessage, row_id)
            if row is None:
                return
            row.lease_until = None
            if error is None:
                row.status, row.sent_at = SENT, utcnow()
                metrics.OUTBOUND.labels(row.channel, "sent").inc()
                return
            row.last_error = error.reason[:500]
            if error.permanent or utcnow() - row.created_at >= self.give_up_after:
                row.status = FAILED
                metrics.OUTBOUND.labels(row.channel, "failed").inc()
                log.warning(
                    "delivery failed for good",
                    extra={"channel": row.channel, "chat": row.chat_id, "outbound": row.id, "reason": error.reason},
                )
                return
            row.next_attempt_at = utcnow() + timedelta(seconds=backoff(attempts, error.retry_after))
            metrics.OUTBOUND.labels(row.channel, "retry").inc()
            log.info(
                "delivery will be retried",
                extra={"channel": row.channel, "outbound": row.id, "attempt": attempts, "reason": error.reason},
            )
