"""`kill -9` of `htx serve` in the middle of a rush, then a restart: nothing lost, nothing sent twice, stock exact."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import InboundEvent, OutboundMessage
from catalog.models import Product, utcnow
from orders.models import Order, OrderEvent, OrderLine
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import FULL_ORDER, free_port, start_service, wait_healthy
from tests.e2e.test_scale_out import SCRIPT
from tests.fakes.telegram import FakeTelegram
from tests.faults.conftest import (
    delivered_once_in_order,
    post_update,
    shown_at_the_fake,
    shown_by_the_outbox,
    stop,
)

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="fault tests run on PostgreSQL (HTX_TEST_DATABASE_URL)")

Update = Callable[[FakeTelegram, int], dict[str, Any]]
ORDER: list[Update] = [
    lambda fake, chat: fake.text_update(FULL_ORDER, chat_id=chat),
    lambda fake, chat: fake.callback_update("pay:cod", chat_id=chat),
    lambda fake, chat: fake.callback_update("confirm", chat_id=chat),
]
CHAT: list[Update] = [lambda fake, chat, text=text: fake.text_update(text, chat_id=chat) for text, _ in SCRIPT]
BUYERS = {**{8_000 + n: ORDER for n in range(12)}, **{9_000 + n: CHAT for n in range(40)}}


async def in_stock(sessions: async_sessionmaker[AsyncSession]) -> dict[int, Decimal]:
    async with sessions() as session:
        return {id_: stock for id_, stock in await session.execute(select(Product.id, Product.stock))}


async def settled(sessions: async_sessionmaker[AsyncSession], events: int, timeout: float = 30.0) -> None:
    """Wait until all `events` had their turn and no reply is left to send."""
    deadline = time.monotonic() + timeout
    while True:
        async with sessions() as session:
            done = await session.scalar(select(func.count()).where(InboundEvent.status == "done"))
            unsent = await session.scalar(select(func.count()).where(OutboundMessage.status != "sent"))
        if done == events and unsent == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{done} of {events} turns done, {unsent} replies unsent")
        await asyncio.sleep(0.2)


async def kill_holding_work(service: asyncio.subprocess.Process, sessions: async_sessionmaker[AsyncSession]) -> None:
    """`kill -9` the service at a moment it holds work: messages waiting for their turn or replies being sent.

    A fast service leaves the inbox empty most of the time, so it is frozen (SIGSTOP) while the database is looked
    at: the work seen is the work the kill interrupts.
    """
    waiting = InboundEvent.status == "pending"
    sending = (OutboundMessage.status == "pending") & OutboundMessage.lease_until.is_not(None)
    for _ in range(200):
        service.send_signal(signal.SIGSTOP)
        async with sessions() as session:
            held = await session.scalar(select(func.count()).where(waiting)) or await session.scalar(
                select(func.count()).where(sending)
            )
        if held:
            service.kill()
            await service.wait()
            return
        service.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.02)
    pytest.fail("the service never held work to interrupt")


async def test_a_process_killed_mid_rush_loses_no_message_and_sends_no_reply_twice(engine, sessions):
    before = await in_stock(sessions)
    unanswered = 0
    async with FakeTelegram() as telegram, aiohttp.ClientSession() as http:
        port = free_port()
        service = await start_service(port, POSTGRES_URL or "", telegram)

        async def buyer(chat: int, script: list[Update]) -> None:
            nonlocal unanswered
            for make in script:
                await asyncio.sleep(random.uniform(0.2, 2.0))  # buyers type: the rush lasts a few seconds
                message = make(telegram, chat)
                # Telegram redelivers an update until it gets a 200 (https://core.telegram.org/bots/api#setwebhook).
                while await post_update(telegram, port, message) != 200:
                    unanswered += 1
                    await asyncio.sleep(0.2)

        try:
            await wait_healthy(http, port)
            buyers = asyncio.gather(*(buyer(chat, script) for chat, script in BUYERS.items()))
            await telegram.wait_for("sendMessage", 15, timeout=20)  # the rush is well under way
            await kill_holding_work(service, sessions)
            async with sessions.begin() as session:
                pending = await session.scalar(select(func.count()).where(InboundEvent.status == "pending"))
                # Rows whose send was under way: the platform may have shown them without us recording it.
                leased = OutboundMessage.status == "pending", OutboundMessage.lease_until.is_not(None)
                in_flight = set((await session.scalars(select(OutboundMessage.id).where(*leased))).all())
                # Their lease (60 s) would run out on its own; the test does not wait that long.
                await session.execute(update(OutboundMessage).where(*leased).values(lease_until=utcnow()))
            service = await start_service(port, POSTGRES_URL or "", telegram)
            await wait_healthy(http, port)
            await asyncio.wait_for(buyers, timeout=30)
            await settled(sessions, sum(map(len, BUYERS.values())))
            await asyncio.sleep(1)  # anything sent twice would show up now
        finally:
            await stop(service)

    assert (pending or in_flight) and unanswered, "the kill came after the rush: nothing was at stake"
    shown = shown_at_the_fake(telegram)
    rows = await shown_by_the_outbox(sessions, status="sent")
    assert set(rows) == set(shown) == {str(chat) for chat in BUYERS}
    async with sessions() as session:
        ids = (await session.execute(select(OutboundMessage.chat_id, OutboundMessage.id).order_by("id"))).all()
    for chat, chat_rows in rows.items():
        ids_of_chat = [id_ for row_chat, id_ in ids if row_chat == chat]
        resendable = {index for index, id_ in enumerate(ids_of_chat) if id_ in in_flight}
        assert delivered_once_in_order(shown[chat], chat_rows, resendable), chat

    async with sessions() as session:
        orders = (await session.scalars(select(Order))).all()
        lined = set((await session.scalars(select(OrderLine.order_id))).all())
        evented = set((await session.scalars(select(OrderEvent.order_id))).all())
        reserved = (
            select(OrderLine.product_id, func.sum(OrderLine.quantity))
            .join(Order)
            .where(Order.status != "cancelled")
            .group_by(OrderLine.product_id)
        )
        sold = {product: quantity for product, quantity in await session.execute(reserved)}
    assert len(orders) == len([script for script in BUYERS.values() if script is ORDER])
    assert all(order.id in lined and order.id in evented for order in orders)
    after = await in_stock(sessions)
    assert {
        product: before[product] - after[product] for product in before if before[product] != after[product]
    } == sold
