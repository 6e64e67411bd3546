"""Two `htx serve` processes on one PostgreSQL share inbox and outbox: every message answered once, in order."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import aiohttp
import pytest

from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import TELEGRAM_SECRET, eventually, free_port, start_service, wait_healthy
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="scale-out needs PostgreSQL (HTX_TEST_DATABASE_URL)")

CONVERSATIONS = 200
# Each message's reply starts differently, so the order of replies shows the order of processing.
SCRIPT = [("xin chào", "Xin chào"), ("giỏ hàng", "Giỏ hàng của anh/chị đang trống"), ("cảm ơn", "Dạ không có gì")]


async def test_two_processes_answer_200_conversations_once_each_in_order(engine):
    async with FakeTelegram() as telegram, aiohttp.ClientSession() as http:
        ports = [free_port(), free_port()]
        services = [await start_service(port, POSTGRES_URL or "", telegram) for port in ports]
        try:
            for port in ports:
                await wait_healthy(http, port)

            async def conversation(n: int) -> None:
                for turn, (text, _) in enumerate(SCRIPT):
                    port = ports[(n + turn) % 2]  # a conversation's messages land on both processes
                    update = telegram.text_update(text, chat_id=1_000 + n)
                    status = await telegram.deliver(
                        update, url=f"http://127.0.0.1:{port}/webhooks/telegram", secret=TELEGRAM_SECRET
                    )
                    assert status == 200

            await asyncio.gather(*(conversation(n) for n in range(CONVERSATIONS)))
            expected = CONVERSATIONS * len(SCRIPT)
            await eventually(lambda: len(telegram.calls_to("sendMessage")) >= expected, timeout=120)
            await asyncio.sleep(1)  # anything sent twice would show up now
        finally:
            for service in services:
                service.terminate()
                await service.wait()

    replies: dict[str, list[str]] = defaultdict(list)
    for call in telegram.calls_to("sendMessage"):
        replies[str(call["chat_id"])].append(call["text"])
    assert len(replies) == CONVERSATIONS
    for chat, texts in replies.items():
        assert len(texts) == len(SCRIPT), (chat, texts)
        assert [t.startswith(start) for t, (_, start) in zip(texts, SCRIPT, strict=True)] == [True] * len(SCRIPT), (
            chat,
            texts,
        )
