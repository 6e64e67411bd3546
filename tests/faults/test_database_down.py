"""PostgreSQL stopped under a running `htx serve`: it refuses fast with 503, then recovers by itself."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.db import make_engine, make_sessionmaker
from bot.models import InboundEvent
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import free_port, start_service, wait_healthy
from tests.fakes.telegram import FakeTelegram
from tests.faults.conftest import PrivatePostgres, post_update, stop

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="fault tests run on PostgreSQL (HTX_TEST_DATABASE_URL)")

FAST = 2.0  # seconds: a refusal must come at least this fast, so platforms retry instead of timing out


async def timed_status(http: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> tuple[int, float]:
    started = time.monotonic()
    async with http.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
        await response.read()
        return response.status, time.monotonic() - started


async def test_a_stopped_database_gets_fast_503s_and_the_service_recovers_by_itself(private_postgres: PrivatePostgres):
    async with FakeTelegram() as telegram, aiohttp.ClientSession() as http:
        port = free_port()
        service = await start_service(port, private_postgres.url, telegram)
        try:
            await wait_healthy(http, port)
            before = [telegram.text_update("xin chào", chat_id=7_000 + n) for n in range(5)]
            assert [await post_update(telegram, port, update) for update in before] == [200] * 5
            await telegram.wait_for("sendMessage", 5, timeout=10)

            private_postgres.stop()
            refused = [telegram.text_update("giỏ hàng", chat_id=7_000 + n) for n in range(5)]
            for update in refused:
                started = time.monotonic()
                assert await post_update(telegram, port, update) == 503
                assert time.monotonic() - started < FAST
            status, seconds = await timed_status(http, "GET", f"http://127.0.0.1:{port}/healthz")
            assert status == 503 and seconds < FAST

            private_postgres.start()
            await wait_healthy(http, port, timeout=15)  # the same process: nobody restarted it
            # Telegram redelivers what was refused, some updates twice (a retry racing the first redelivery).
            redelivered = await asyncio.gather(*(post_update(telegram, port, u) for u in refused + refused[:2]))
            assert redelivered == [200] * 7
            await telegram.wait_for("sendMessage", 10, timeout=15)
            await asyncio.sleep(1)  # a second turn or reply for any of them would show by now
        finally:
            await stop(service)

    texts = [call["text"] for call in telegram.calls_to("sendMessage")]
    assert sum(text.startswith("Giỏ hàng") for text in texts) == 5
    engine = make_engine(private_postgres.url)
    try:
        async with make_sessionmaker(engine)() as session:
            events = await session.scalar(select(func.count()).select_from(InboundEvent))
            pending = await session.scalar(select(func.count()).where(InboundEvent.status != "done"))
    finally:
        await engine.dispose()
    assert (events, pending) == (10, 0)
