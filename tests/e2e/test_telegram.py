"""A buyer on Telegram, through the real python-telegram-bot Bot talking to a fake Bot API."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.intake import Intake
from channels.telegram import parse
from orders.models import Order
from tests.e2e.conftest import CODE, FULL_ORDER, eventually, telegram_settings
from tests.e2e.conftest import TELEGRAM_SECRET as SECRET
from tests.fakes.telegram import PAYLOADS, TOKEN, FakeTelegram


@pytest.fixture
def settings(telegram):
    return telegram_settings(telegram)


@pytest.fixture
async def service(aiohttp_client, engine, settings):
    return await aiohttp_client(create_app(settings, engine=engine))


def texts(telegram: FakeTelegram) -> list[str]:
    return [call["text"] for call in telegram.calls_to("sendMessage")]


async def say(telegram: FakeTelegram, service, update) -> None:
    status = await telegram.deliver(update, url=str(service.make_url("/webhooks/telegram")), secret=SECRET)
    assert status == 200


async def test_a_whole_order_on_telegram(telegram, service, sessions):
    await say(telegram, service, telegram.text_update(FULL_ORDER))
    await eventually(lambda: any("thanh toán thế nào" in t for t in texts(telegram)))
    await say(telegram, service, telegram.callback_update("pay:cod"))
    await eventually(lambda: any("kiểm tra lại đơn hàng" in t for t in texts(telegram)))
    await say(telegram, service, telegram.callback_update("confirm"))
    confirmation = await eventually(lambda: next((t for t in texts(telegram) if CODE.search(t)), None))
    assert "120.000" in confirmation  # 105.000 of fruit + 15.000 shipping in Lâm Đồng
    assert telegram.calls_to("answerCallbackQuery")
    keyboards = [c["reply_markup"] for c in telegram.calls_to("sendMessage") if c.get("reply_markup")]
    assert any("pay:cod" in str(k) for k in keyboards)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 1


async def test_a_redelivered_update_is_answered_once(telegram, service):
    update = telegram.text_update("xin chào")
    await say(telegram, service, update)
    await say(telegram, service, update)
    await eventually(lambda: texts(telegram))
    await telegram.wait_for("sendMessage", 1)
    await say(telegram, service, telegram.text_update("giỏ hàng"))
    await eventually(lambda: len(texts(telegram)) >= 2)
    assert sum("Xin chào" in t for t in texts(telegram)) == 1


async def test_replies_arrive_once_the_platform_recovers_from_429_and_500(telegram, service):
    telegram.fail_next(429, times=1, method="sendMessage", retry_after=1)
    telegram.fail_next(500, times=1, method="sendMessage")
    await say(telegram, service, telegram.text_update("xin chào"))
    await eventually(lambda: texts(telegram), timeout=30)
    assert sum("Xin chào" in t for t in texts(telegram)) == 1


async def test_a_bad_secret_is_refused_and_nothing_is_stored(telegram, service, sessions):
    status = await telegram.deliver(
        telegram.text_update("xin chào"), url=str(service.make_url("/webhooks/telegram")), secret="wrong"
    )
    assert status == 401
    from bot.models import InboundEvent

    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboundEvent)) == 0


async def test_an_event_stored_before_a_crash_is_processed_after_restart(
    telegram, sessions, aiohttp_client, engine, settings
):
    # The webhook stored the event, then the process died before any worker ran its turn.
    [incoming] = parse(telegram.text_update("xin chào"))
    assert await Intake(engine).store([incoming]) == 1
    await aiohttp_client(create_app(settings, engine=engine))  # the restart
    await eventually(lambda: texts(telegram))
    assert "Xin chào" in texts(telegram)[0]


async def test_htx_webhooks_set_registers_telegram_and_explains_the_others(telegram, tmp_path):
    env = {
        **os.environ,
        "HTX_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
        "HTX_PUBLIC_URL": "https://shop.example",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "webhooks", "set", env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    assert telegram.webhook is not None and telegram.webhook["url"] == "https://shop.example/webhooks/telegram"
    assert telegram.webhook["secret_token"] == SECRET
    assert "messenger: off (set MESSENGER_APP_SECRET" in output and "zalo: off" in output


async def test_a_phone_shared_with_telegrams_contact_button_fills_the_checkout(telegram, service):
    await say(telegram, service, telegram.text_update("mua 1 kg cà chua, tên Lan"))
    await eventually(lambda: any("Anh/chị cần thêm" in t or "điện thoại" in t for t in texts(telegram)))
    await say(telegram, service, telegram.callback_update("checkout"))
    await eventually(lambda: any("điện thoại di động" in t for t in texts(telegram)))
    contact = json.loads((PAYLOADS / "telegram_message_contact.json").read_text())
    contact["update_id"] = 999_000_001
    contact["message"]["contact"]["phone_number"] = "+84912345678"
    await say(telegram, service, contact)
    await eventually(lambda: any("Địa chỉ giao hàng" in t for t in texts(telegram)))
