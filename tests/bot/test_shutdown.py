"""Graceful shutdown: workers take no new work, the step under way finishes (or is cancelled after
HTX_SHUTDOWN_SECONDS), and the rest stays in the database."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import create_app
from bot.models import OutboundMessage
from bot.workers import Worker, stop_all
from channels.telegram import SECRET_HEADER
from tests.e2e.conftest import TELEGRAM_SECRET, telegram_settings
from tests.fakes.telegram import SlowTelegram


async def test_a_stopped_worker_finishes_its_step_and_takes_no_new_one():
    todo, done = ["first", "second"], []
    gate = asyncio.Event()

    async def step() -> bool:
        if not todo:
            return False
        item = todo.pop(0)
        await gate.wait()
        done.append(item)
        return True

    worker = Worker("test", step)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.05)  # the first step is under way, waiting on the gate
    stopping = asyncio.create_task(stop_all([worker], [task], timeout=5))
    await asyncio.sleep(0.05)
    assert not stopping.done()
    gate.set()
    await stopping
    assert done == ["first"] and todo == ["second"] and task.done() and not task.cancelled()


async def test_a_step_still_running_after_the_timeout_is_cancelled():
    async def step() -> bool:
        await asyncio.Event().wait()  # never ends
        return True

    worker = Worker("stuck", step)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await stop_all([worker], [task], timeout=0.2)
    assert task.cancelled() and time.monotonic() - started < 2


async def test_a_sleeping_worker_stops_at_once():
    async def step() -> bool:
        return False

    worker = Worker("idle", step, idle=60)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await stop_all([worker], [task], timeout=10)
    assert task.done() and not task.cancelled() and time.monotonic() - started < 1


CHATS = (401, 402, 403)


async def outbox(sessions) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboundMessage.status).order_by(OutboundMessage.id))).all())


async def start_with_two_replies_waiting(telegram: SlowTelegram, engine, shutdown_seconds: float) -> TestClient:
    """The service with deliveries under way (held by the fake) and at least one more reply in the outbox: one
    reply per step, and more chats than the outbox's steps running side by side."""
    settings = telegram_settings(telegram, shutdown_seconds=shutdown_seconds, send_batch=1)
    client = TestClient(TestServer(create_app(settings, engine=engine)))
    await client.start_server()
    for chat in CHATS:
        update = telegram.text_update("xin chào", chat_id=chat)
        response = await client.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET})
        assert response.status == 200
    await asyncio.wait_for(telegram.sending.wait(), timeout=10)
    return client


async def test_shutdown_lets_the_delivery_under_way_finish_and_leaves_the_rest_pending(engine, sessions):
    async with SlowTelegram() as telegram:
        client = await start_with_two_replies_waiting(telegram, engine, shutdown_seconds=10)
        while len(await outbox(sessions)) < len(CHATS):  # every turn ran: a reply each written
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # every step that will send is sending
        under_way = telegram.held
        closing = asyncio.create_task(client.close())  # what SIGTERM does: aiohttp runs the app's cleanup
        await asyncio.sleep(0.3)
        assert not closing.done()  # waiting for the sends under way
        telegram.release.set()
        await asyncio.wait_for(closing, timeout=10)

    statuses = await outbox(sessions)
    assert 1 <= under_way < len(CHATS)
    assert statuses.count("sent") == under_way and statuses.count("pending") == len(CHATS) - under_way
    assert len(telegram.calls_to("sendMessage")) == under_way


async def test_shutdown_cancels_a_delivery_that_outlasts_the_timeout(engine, sessions):
    async with SlowTelegram() as telegram:
        client = await start_with_two_replies_waiting(telegram, engine, shutdown_seconds=0.3)
        started = time.monotonic()
        await client.close()
        assert time.monotonic() - started < 5
        telegram.release.set()

    # The cancelled send's row is still pending: its lease runs out and a worker sends it again.
    assert set(await outbox(sessions)) == {"pending"}
