"""Each platform has its own outbox: one that hangs (or is down, or at its rate limit) never delays the replies
of buyers on another platform."""

from __future__ import annotations

import asyncio

from bot.app import create_app
from channels.telegram import SECRET_HEADER
from tests.conftest import settings_for_tests
from tests.e2e.conftest import TELEGRAM_SECRET, eventually
from tests.e2e.test_messenger import APP_SECRET, PSID, post, texts
from tests.fakes.messenger import DEFAULT_TOKEN, FakeGraph, text_event
from tests.fakes.telegram import TOKEN, SlowTelegram


async def test_a_hanging_platform_does_not_hold_up_another_platforms_replies(aiohttp_client, engine):
    async with SlowTelegram() as telegram, FakeGraph() as graph:
        settings = settings_for_tests(
            telegram_bot_token=TOKEN,
            telegram_webhook_secret=TELEGRAM_SECRET,
            telegram_api_base_url=telegram.base_url,
            messenger_app_secret=APP_SECRET,
            messenger_verify_token="verify-me",
            messenger_page_token=DEFAULT_TOKEN,
            messenger_graph_url=graph.graph_url,
        )
        service = await aiohttp_client(create_app(settings, engine=engine))
        for chat in range(30):  # more replies than the Telegram outbox has steps and batch places
            update = telegram.text_update("xin chào", chat_id=600 + chat)
            response = await service.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET})
            assert response.status == 200
        await asyncio.wait_for(telegram.sending.wait(), timeout=10)

        await post(service, text_event(PSID, "xin chào"))
        await eventually(lambda: any("Xin chào" in text for text in texts(graph)), timeout=5)
        assert telegram.calls_to("sendMessage") == []  # Telegram is still hanging meanwhile
        telegram.release.set()
        await telegram.wait_for("sendMessage", 30, timeout=20)
