"""Two `htx serve` processes on one PostgreSQL share inbox and outbox: every message answered once, in order."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections import defaultdict

import aiohttp
import pytest

from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import eventually
from tests.fakes.telegram import TOKEN, FakeTelegram

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="scale-out needs PostgreSQL (HTX_TEST_DATABASE_URL)")

SECRET = "scale-out-secret"
CONVERSATIONS = 200
# Each message's reply starts differently, so the order of replies shows the order of processing.
SCRIPT = [("xin chào", "Xin chào"), ("giỏ hàng", "Giỏ hàng của anh/chị đang trống"), ("cảm ơn", "Dạ không có gì")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_service(port: int, telegram: FakeTelegram) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "HTX_DATABASE_URL": POSTGRES_URL or "",
        "HTX_LOAD_DEMO": "false",
        "HTX_WORKERS": "2",
        "HTX_LOG_LEVEL": "WARNING",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def healthy(http: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def test_two_processes_answer_200_conversations_once_each_in_order(engine):
    async with FakeTelegram() as telegram, aiohttp.ClientSession() as http:
        ports = [free_port(), free_port()]
        services = [await start_service(port, telegram) for port in ports]
        try:
            for port in ports:
                for _ in range(150):
                    if await healthy(http, port):
                        break
                    await asyncio.sleep(0.2)
                else:
                    pytest.fail(f"htx serve on port {port} did not start")

            async def conversation(n: int) -> None:
                for turn, (text, _) in enumerate(SCRIPT):
                    port = ports[(n + turn) % 2]  # a conversation's messages land on both processes
                    update = telegram.text_update(text, chat_id=1_000 + n)
                    status = await telegram.deliver(
                        update, url=f"http://127.0.0.1:{port}/webhooks/telegram", secret=SECRET
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
