"""Telegram answering 429 for a while: the inbox keeps accepting, the outbox backs off, then delivers in order."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.app import create_app
from bot.models import InboundEvent, OutboundMessage
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import TELEGRAM_SECRET, telegram_settings
from tests.e2e.test_scale_out import SCRIPT
from tests.faults.conftest import count, delivered_once_in_order, shown_at_the_fake, shown_by_the_outbox

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="fault tests run on PostgreSQL (HTX_TEST_DATABASE_URL)")

CHATS = [5_000 + n for n in range(8)]
OUTAGE = 5.0  # seconds; the property is the same for minutes, only the backoff grows


async def test_a_platform_answering_429_for_a_while_gets_everything_in_order_once_it_recovers(
    aiohttp_client, engine, sessions, telegram
):
    service = await aiohttp_client(create_app(telegram_settings(telegram), engine=engine))
    telegram.fail_next(429, times=10**9, retry_after=1)
    started = time.monotonic()

    async def buyer(chat: int) -> list[int]:
        updates = [telegram.text_update(text, chat_id=chat) for text, _ in SCRIPT]
        url = str(service.make_url("/webhooks/telegram"))
        return [await telegram.deliver(update, url=url, secret=TELEGRAM_SECRET) for update in updates]

    statuses = await asyncio.gather(*(buyer(chat) for chat in CHATS))
    assert statuses == [[200] * len(SCRIPT)] * len(CHATS)
    events = len(CHATS) * len(SCRIPT)
    # Every turn runs while no reply can go out.
    deadline = time.monotonic() + 10
    while await count(sessions, InboundEvent.status == "done") < events:
        assert time.monotonic() < deadline, "turns did not run during the outage"
        await asyncio.sleep(0.1)

    await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
    refused = [call for call in telegram.calls if call.status == 429]
    elapsed = time.monotonic() - started
    # Backing off: each chat's first reply is tried about once a second (retry_after), no tight loop ...
    assert len(refused) <= len(CHATS) * (elapsed + 1)
    # ... and the chat's later replies wait behind it, so they cannot overtake it.
    rows = await shown_by_the_outbox(sessions, status="pending")
    assert {(str(call.params["chat_id"]), call.params["text"]) for call in refused} <= {
        (chat, chat_rows[0][0][1]) for chat, chat_rows in rows.items()
    }
    assert await count(sessions, OutboundMessage.attempts >= 2) == len(CHATS)

    telegram.recover()
    deadline = time.monotonic() + 25
    while await count(sessions, OutboundMessage.status != "sent"):
        assert time.monotonic() < deadline, "replies not delivered after the platform recovered"
        await asyncio.sleep(0.2)
    shown = shown_at_the_fake(telegram)
    for chat, chat_rows in (await shown_by_the_outbox(sessions, status="sent")).items():
        assert delivered_once_in_order(shown[chat], chat_rows, resendable=set()), chat
