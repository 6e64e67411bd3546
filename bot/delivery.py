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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, or_, select, update
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
# The outbox as a table: leasing and settling are plain UPDATEs, cheaper without the ORM's bookkeeping.
OUTBOX = OutboundMessage.metadata.tables[OutboundMessage.__tablename__]


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
    """A row taken for sending: its id, channel, what to send, the try this is, and when it was written."""

    row_id: int
    channel: str
    delivery: Delivery
    attempts: int
    created_at: datetime


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
        self._due = _due_statement(list(channels), batch)

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
            rows = (await session.execute(self._due, {"now": now})).all()
            if rows:
                await session.execute(_LEASE, {"ids": [row.id for row in rows], "until": now + LEASE})
        return [
            _Leased(
                row.id,
                row.channel,
                Delivery(
                    chat_id=row.chat_id,
                    reply=reply_from_dict(row.body),
                    last_user_message_at=row.last_inbound_at,
                    proactive=row.proactive,
                ),
                row.attempts + 1,
                row.created_at,
            )
            for row in rows
        ]

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
        """Mark the sent rows sent with one statement; each failed one failed for good or due again after a backoff."""
        sent = [leased.row_id for leased, error in outcomes if error is None]
        counted = [(leased.channel, "sent") for leased, error in outcomes if error is None]
        async with self.sessions.begin() as session:
            if sent:
                await session.execute(_MARK_SENT, {"ids": sent, "now": utcnow()})
            for leased, error in outcomes:
                if error is not None:
                    outcome, values = self._failed(leased, error)
                    await session.execute(_BY_IDS.values(lease_until=None, **values), {"ids": [leased.row_id]})
                    counted.append((leased.channel, outcome))
        for channel, outcome in counted:  # once committed: a settle that fails counts nothing and runs again
            metrics.OUTBOUND.labels(channel, outcome).inc()

    def _failed(self, leased: _Leased, error: SendError) -> tuple[str, dict[str, Any]]:
        """The outcome ("failed" for good, or "retry" after a backoff) of a row whose send failed, and its columns."""
        values: dict[str, Any] = {"last_error": error.reason[:500]}
        if error.permanent or utcnow() - leased.created_at >= self.give_up_after:
            log.warning(
                "delivery failed for good",
                extra={
                    "channel": leased.channel,
                    "chat": leased.delivery.chat_id,
                    "outbound": leased.row_id,
                    "reason": error.reason,
                },
            )
            return "failed", {**values, "status": FAILED}
        log.info(
            "delivery will be retried",
            extra={
                "channel": leased.channel,
                "outbound": leased.row_id,
                "attempt": leased.attempts,
                "reason": error.reason,
            },
        )
        delay = timedelta(seconds=backoff(leased.attempts, error.retry_after))
        return "retry", {**values, "next_attempt_at": utcnow() + delay}


def _due_statement(channels: list[str], batch: int) -> Select[Any]:
    """Up to `batch` due rows of `channels`, oldest first, locked, with their chat's last message time (a platform's
    window rules need it). Only the first pending row of a chat is due, so the rows of one batch are of different
    chats; `SKIP LOCKED` lets several workers and processes lease side by side (PostgreSQL). Built once: building
    it cost the worker more CPU than running it (py-spy)."""
    return (
        select(
            OUTBOX.c.id,
            OUTBOX.c.channel,
            OUTBOX.c.chat_id,
            OUTBOX.c.body,
            OUTBOX.c.proactive,
            OUTBOX.c.attempts,
            OUTBOX.c.created_at,
            Conversation.last_inbound_at,
        )
        .outerjoin(
            Conversation,
            (Conversation.channel == OUTBOX.c.channel) & (Conversation.chat_id == OUTBOX.c.chat_id),
        )
        .where(
            OUTBOX.c.status == PENDING,
            OUTBOX.c.channel.in_(channels),
            OUTBOX.c.next_attempt_at <= bindparam("now"),
            or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until < bindparam("now")),
            first_pending_of_its_chat(OutboundMessage),
        )
        .order_by(OUTBOX.c.id)
        .limit(batch)
        .with_for_update(of=OUTBOX, skip_locked=True)
    )


# Outbox rows by id; leasing, marking sent and recording a failure each set their own columns.
_BY_IDS = update(OUTBOX).where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
_LEASE = _BY_IDS.values(lease_until=bindparam("until"), attempts=OUTBOX.c.attempts + 1)
_MARK_SENT = _BY_IDS.values(status=SENT, sent_at=bindparam("now"), lease_until=None)
