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
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, or_, select
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
# Messages per second each platform accepts from one app (Zalo: 4,000 requests a minute; Telegram: about 30 across
# all chats; Messenger: 300 a page, kept below); HTX_SEND_RATES raises or lowers one (bot/settings.py).
RATES = {"zalo": 4000 / 60, "messenger": 200.0, "telegram": 30.0}
DEFAULT_RATE = 50.0


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


@dataclass(frozen=True)
class _Leased:
    """A row taken for sending: its id, channel, what to send and the try this is."""

    row_id: int
    channel: str
    delivery: Delivery
    attempts: int


class Deliverer:
    """Sends due outbox rows of the channels it has; the web chat's rows are delivered in its HTTP response.

    Each step leases up to `batch` due rows, one per chat, in one transaction, sends them concurrently (each
    platform's rate limit still spacing the calls) and settles them in one transaction: under load the two
    transactions serve many replies, and replies to different chats overlap their network time.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: dict[str, Channel],
        give_up_after: timedelta = GIVE_UP_AFTER,
        rates: dict[str, float] | None = None,
        batch: int = 1,
    ) -> None:
        self.sessions = sessions
        self.channels = channels
        self.give_up_after = give_up_after
        rates = {**RATES, **(rates or {})}
        self.limits = {name: RateLimiter(rates.get(name, DEFAULT_RATE)) for name in channels}
        # Built once, run with the time: building it cost the worker more CPU than running it (py-spy). Only the
        # first pending row of a chat is due, so the rows of one batch are of different chats.
        self._due = (
            select(OutboundMessage, Conversation.last_inbound_at)
            .outerjoin(
                Conversation,
                (Conversation.channel == OutboundMessage.channel) & (Conversation.chat_id == OutboundMessage.chat_id),
            )
            .where(
                OutboundMessage.status == PENDING,
                OutboundMessage.channel.in_(list(channels)),
                OutboundMessage.next_attempt_at <= bindparam("now"),
                or_(OutboundMessage.lease_until.is_(None), OutboundMessage.lease_until < bindparam("now")),
                first_pending_of_its_chat(OutboundMessage),
            )
            .order_by(OutboundMessage.id)
            .limit(batch)
            .with_for_update(of=OutboundMessage, skip_locked=True)
        )

    async def deliver_next(self) -> bool:
        """Lease, send and settle the next due rows; False when nothing is due."""
        leased = await self._lease()
        if not leased:
            return False
        errors = await asyncio.gather(*(self._send(row) for row in leased))
        await self._settle(list(zip(leased, errors, strict=True)))
        return True

    async def _lease(self) -> list[_Leased]:
        now = utcnow()
        async with self.sessions.begin() as session:
            leased = []
            for row, last_inbound_at in await session.execute(self._due, {"now": now}):
                row.lease_until = now + LEASE
                row.attempts += 1
                delivery = Delivery(
                    chat_id=row.chat_id,
                    reply=reply_from_dict(row.body),
                    last_user_message_at=last_inbound_at,
                    proactive=row.proactive,
                )
                leased.append(_Leased(row.id, row.channel, delivery, row.attempts))
            return leased

    async def _send(self, row: _Leased) -> SendError | None:
        """Send one row; the error that stopped it, or None once the platform took it."""
        await self.limits[row.channel].wait()
        try:
            await self.channels[row.channel].send(row.delivery)
        except SendError as error:
            return error
        except Exception as error:  # a bug or an unexpected client error: retry, but say so loudly
            log.exception("send crashed", extra={"channel": row.channel, "outbound": row.row_id})
            return SendError(repr(error)[:200], permanent=False)
        return None

    async def _settle(self, outcomes: list[tuple[_Leased, SendError | None]]) -> None:
        by_id = {leased.row_id: (leased, error) for leased, error in outcomes}
        async with self.sessions.begin() as session:
            for row in await session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(by_id))):
                leased, error = by_id[row.id]
                self._record(row, error, leased.attempts)

    def _record(self, row: OutboundMessage, error: SendError | None, attempts: int) -> None:
        """Mark one row sent, failed for good, or due again after a backoff."""
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
