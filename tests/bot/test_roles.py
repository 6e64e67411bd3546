"""`htx serve --web-only` and `--workers-only` (HTX_ROLE): webhook intake and conversation workers in separate
processes that share one database."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.models import InboundEvent
from bot.settings import Settings
from channels.telegram import SECRET_HEADER
from tests.e2e.conftest import TELEGRAM_SECRET, telegram_settings
from tests.fakes.telegram import FakeTelegram


async def start(aiohttp_client: Any, engine: Any, settings: Settings) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(settings, engine=engine))
    return client


async def say(client: TestClient, telegram: FakeTelegram, text: str, chat: int) -> None:
    update = telegram.text_update(text, chat_id=chat)
    response = await client.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET})
    assert response.status == 200


async def statuses(sessions: Any) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(InboundEvent.status).order_by(InboundEvent.id))).all())


async def test_a_web_only_process_stores_webhook_events_but_runs_no_turn(aiohttp_client, engine, sessions):
    async with FakeTelegram() as telegram:
        web = await start(aiohttp_client, engine, telegram_settings(telegram, role="web"))
        await say(web, telegram, "xin chào", chat=301)
        await asyncio.sleep(1.5)  # longer than a worker's idle poll: a worker would have taken it by now
        assert await statuses(sessions) == ["pending"]
        assert telegram.calls_to("sendMessage") == []
        # The web chat still answers: its POST runs its own turn (bot/webchat.py).
        response = await web.post("/web/chat", json={"session": "w1", "text": "xin chào"})
        assert response.status == 200 and (await response.json())["replies"]


async def test_a_workers_only_process_serves_no_public_route_and_runs_turns_stored_by_another(
    aiohttp_client, engine, sessions
):
    async with FakeTelegram() as telegram:
        web = await start(aiohttp_client, engine, telegram_settings(telegram, role="web"))
        await say(web, telegram, "xin chào", chat=302)
        await say(web, telegram, "giỏ hàng", chat=302)

        workers = await start(aiohttp_client, engine, telegram_settings(telegram, role="workers"))
        update = telegram.text_update("xin chào", chat_id=303)
        refused = await workers.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET})
        assert refused.status == 404
        for path in ("/", "/api/v1/products", "/api/v1/openapi.json"):
            assert (await workers.get(path)).status == 404, path
        assert (await workers.post("/web/chat", json={"session": "w", "text": "hi"})).status == 404
        assert (await workers.get("/healthz")).status == 200
        assert (await workers.get("/metrics")).status == 200

        texts = [call["text"] for call in await telegram.wait_for("sendMessage", 2, timeout=20)]
        assert texts[0].startswith("Xin chào") and texts[1].startswith("Giỏ hàng")
        assert await statuses(sessions) == ["done", "done"]
