"""A partner's webhook endpoint hanging for longer than buyers' conversations take: every buyer still gets each
reply within seconds, and the partner gets its events later, in order, once our timed-out request is retried and
its endpoint answers again."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.models import OutboundMessage
from bot.order_news import WEBHOOK_CHANNEL
from bot.partner_webhooks import EVENT_ID_HEADER
from channels.types import Event, reply_from_dict
from tests.bot.test_partner_webhooks import set_webhook
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import CODE, TELEGRAM_SECRET, eventually, telegram_settings
from tests.e2e.test_scale_out import SCRIPT
from tests.fakes.partner import FakePartner
from tests.fakes.telegram import FakeTelegram
from tests.faults.conftest import count, delivered_once_in_order, until
from tests.faults.test_kill import CHAT, ORDER, Update

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="fault tests run on PostgreSQL (HTX_TEST_DATABASE_URL)")

BUYERS = [7_000 + n for n in range(4)]
# A buyer orders, then chats: each message and what its reply says.
STEPS: list[tuple[Update, re.Pattern[str]]] = [
    *zip(ORDER, [re.compile("thanh toán thế nào"), re.compile("kiểm tra lại đơn hàng"), CODE], strict=True),
    *zip(CHAT, [re.compile(re.escape(start)) for _, start in SCRIPT], strict=True),
]
PROMPT = 3.0  # seconds a buyer may wait for a reply, however long the partner hangs
HANG = 60.0  # seconds the partner's endpoint would hang: far past our 10 s timeout, until the test releases it


class PartnerRow(NamedTuple):
    """One partner webhook outbox row, as far as this test looks at it."""

    event_id: str
    status: str
    attempts: int
    last_error: str | None


@pytest.fixture
async def partner() -> AsyncIterator[FakePartner]:
    async with FakePartner() as fake:
        yield fake


async def partner_rows(sessions: async_sessionmaker[AsyncSession]) -> list[PartnerRow]:
    """The partner webhook rows of the outbox, in id order."""
    query = select(OutboundMessage).where(OutboundMessage.channel == WEBHOOK_CHANNEL).order_by(OutboundMessage.id)
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    found = []
    for row in rows:
        event = reply_from_dict(row.body)
        assert isinstance(event, Event)
        found.append(PartnerRow(str(event.data["id"]), row.status, row.attempts, row.last_error))
    return found


async def test_a_hanging_partner_endpoint_never_slows_buyers_and_gets_its_events_later_in_order(
    aiohttp_client: Any,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    telegram: FakeTelegram,
    partner: FakePartner,
) -> None:
    service = await aiohttp_client(create_app(telegram_settings(telegram), engine=engine))
    await set_webhook(sessions, partner.url)  # every order below goes to this partner
    partner.stall(HANG)
    url = str(service.make_url("/webhooks/telegram"))

    def texts(chat: int) -> list[str]:
        return [call["text"] for call in telegram.calls_to("sendMessage") if call["chat_id"] == str(chat)]

    async def say(chat: int, message: Update, reply: re.Pattern[str]) -> float:
        """Send one message; how long its reply took to reach Telegram."""
        update = message(telegram, chat)
        shown = len(texts(chat))
        sent = time.monotonic()
        assert await telegram.deliver(update, url=url, secret=TELEGRAM_SECRET) == 200
        await eventually(lambda: any(reply.search(text) for text in texts(chat)[shown:]), timeout=2 * PROMPT)
        return time.monotonic() - sent

    async def buyer(chat: int) -> list[float]:
        """Order, then chat; how long each reply took."""
        return [await say(chat, *step) for step in STEPS]

    waits = await asyncio.gather(*(buyer(chat) for chat in BUYERS))
    assert max(map(max, waits)) < PROMPT, waits
    # The buyers' order news went out as well, all while the partner's first request is still hanging.

    async def buyers_served() -> bool:
        return await count(sessions, OutboundMessage.channel != WEBHOOK_CHANNEL, OutboundMessage.status != "sent") == 0

    await until(buyers_served, timeout=PROMPT, failure="buyers' order news waited")
    assert partner.arrived.is_set() and partner.received == []
    first, *later = await partner_rows(sessions)
    assert len(later) == len(BUYERS) - 1  # an order.routed event per order
    assert first.status == "pending" and first.attempts == 1  # its request hangs
    assert all(row.status == "pending" and row.attempts == 0 for row in later)  # waiting behind it, in order

    async def timed_out() -> bool:
        return "timed out" in ((await partner_rows(sessions))[0].last_error or "")

    await until(timed_out, timeout=15, failure="the hanging request was not given up")
    partner.release()

    async def partner_served() -> bool:
        return all(row.status == "sent" for row in await partner_rows(sessions))

    await until(partner_served, timeout=15, failure="the partner's events were not delivered once it answered")
    rows = await partner_rows(sessions)
    assert rows[0].attempts == 2  # timed out once, then delivered
    received = [hit.headers[EVENT_ID_HEADER] for hit in partner.received]
    # The timed-out request may still be answered (and recorded) when the endpoint wakes up: the first event twice.
    assert delivered_once_in_order(received, [[row.event_id] for row in rows], resendable={0}), received
