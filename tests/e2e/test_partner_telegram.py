"""A partner trading cooperative works its orders from a Telegram group, through the real python-telegram-bot Bot
talking to a fake Bot API: the routed order arrives with an inline keyboard, members tap it, the buyer hears each step.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.i18n import translations
from orders.models import Order
from orders.partner_accounts import create_partner_invite, partner_by_code
from tests.e2e.conftest import CODE, FULL_ORDER, eventually, telegram_settings
from tests.e2e.conftest import TELEGRAM_SECRET as SECRET
from tests.fakes.telegram import FakeTelegram

vi = translations("vi").gettext
BUYER = 600_002
# A supergroup (ids start with -100) of TM-PHANTHIET and two of its members.
GROUP, MEMBER, OTHER_MEMBER = -1001234567890, 500_002, 500_003
GROUP_CHAT = {"id": GROUP, "title": "HTX TM Phan Thiết – đơn hàng", "type": "supergroup"}


@pytest.fixture
async def service(aiohttp_client, engine, telegram):
    return await aiohttp_client(create_app(telegram_settings(telegram), engine=engine))


def sent_to(telegram: FakeTelegram, chat_id: int) -> list[dict[str, Any]]:
    """The sendMessage calls to one chat, in order."""
    return [call for call in telegram.calls_to("sendMessage") if str(call["chat_id"]) == str(chat_id)]


def texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [call["text"] for call in sent_to(telegram, chat_id)]


def keyboard(call: dict[str, Any]) -> dict[str, str]:
    """callback_data → button text of a sendMessage's inline keyboard."""
    rows = (call.get("reply_markup") or {}).get("inline_keyboard", [])
    return {button["callback_data"]: button["text"] for row in rows for button in row}


def in_group(update: dict[str, Any]) -> dict[str, Any]:
    """The same update as written in the partner's group (a message or a button press under a bot message)."""
    update = copy.deepcopy(update)
    message = update.get("message") or update["callback_query"]["message"]
    message["chat"] = dict(GROUP_CHAT)
    return update


async def post(telegram: FakeTelegram, service, update: dict[str, Any]) -> None:
    status = await telegram.deliver(update, url=str(service.make_url("/webhooks/telegram")), secret=SECRET)
    assert status == 200


async def group_says(telegram: FakeTelegram, service, text: str, member: int = MEMBER) -> None:
    await post(telegram, service, in_group(telegram.text_update(text, chat_id=member)))


async def group_taps(telegram: FakeTelegram, service, payload: str, member: int = MEMBER) -> None:
    await post(telegram, service, in_group(telegram.callback_update(payload, chat_id=member)))


async def partner_code(sessions, partner: str = "TM-PHANTHIET") -> str:
    async with sessions.begin() as session:
        found = await partner_by_code(session, partner)
        assert found is not None
        return await create_partner_invite(session, found, "test")


async def status_of(sessions, code: str) -> tuple[str, str | None]:
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.code == code))
        assert order is not None
        return order.status, order.tracking_number


async def test_a_partner_group_accepts_ships_and_delivers_and_the_buyer_hears_each_step(telegram, service, sessions):
    await group_says(telegram, service, f"/lienket {await partner_code(sessions)}")
    linked = await eventually(lambda: texts(telegram, GROUP))
    assert "HTX Thương mại Dịch vụ Phan Thiết" in linked[0] and "/donmoi" in linked[0]

    await post(telegram, service, telegram.text_update(FULL_ORDER, chat_id=BUYER))
    await eventually(lambda: any("thanh toán thế nào" in t for t in texts(telegram, BUYER)))
    await post(telegram, service, telegram.callback_update("pay:cod", chat_id=BUYER))
    await eventually(lambda: any("kiểm tra lại đơn hàng" in t for t in texts(telegram, BUYER)))
    await post(telegram, service, telegram.callback_update("confirm", chat_id=BUYER))
    code = (await eventually(lambda: next((CODE.search(t) for t in texts(telegram, BUYER) if CODE.search(t)), None)))[0]

    routed = await eventually(lambda: next((c for c in sent_to(telegram, GROUP) if code in c["text"]), None))
    assert "Lan, 0912345678" in routed["text"] and "Cần thu: 120.000" in routed["text"]
    assert keyboard(routed) == {f"po:accepted:{code}": "Nhận đơn", f"po:rejected:{code}": "Từ chối"}

    await group_taps(telegram, service, f"po:accepted:{code}")
    accepted = await eventually(lambda: next((c for c in sent_to(telegram, GROUP) if "đã nhận đơn" in c["text"]), None))
    assert keyboard(accepted) == {f"po:shipping:{code}": "Đang giao"}
    await eventually(lambda: any(f"đã nhận đơn {code}" in t for t in texts(telegram, BUYER)))
    assert telegram.calls_to("answerCallbackQuery")

    await group_taps(telegram, service, f"po:shipping:{code}", member=OTHER_MEMBER)  # any member of the group
    asked = await eventually(lambda: next((c for c in sent_to(telegram, GROUP) if "pskip" in keyboard(c)), None))
    assert keyboard(asked) == {"pskip": vi("Skip")}
    await group_says(telegram, service, "ok, xe đi lúc 2 giờ", member=MEMBER)  # talk, not the number asked
    await group_says(telegram, service, "GHN-8812345", member=OTHER_MEMBER)
    await eventually(lambda: any("Mã vận đơn: GHN-8812345" in t for t in texts(telegram, GROUP)))
    shipping = await eventually(lambda: next((t for t in texts(telegram, BUYER) if "đang được" in t), None))
    assert code in shipping and "GHN-8812345" in shipping

    await group_taps(telegram, service, f"po:delivered:{code}")
    await eventually(lambda: any(f"Đơn {code} đã giao xong" in t for t in texts(telegram, BUYER)))
    assert await status_of(sessions, code) == ("delivered", "GHN-8812345")
    assert not any("Xin chào" in t or "giỏ hàng" in t.lower() for t in texts(telegram, GROUP))


async def test_group_commands_with_the_bots_name_work_and_the_groups_own_talk_is_left_alone(
    telegram, service, sessions
):
    await group_says(telegram, service, f"/lienket@shop_test_bot {await partner_code(sessions)}")
    await eventually(lambda: texts(telegram, GROUP))
    await group_says(telegram, service, "mua 3 ký thanh long ruột đỏ hàm đức nhé anh em")
    await group_says(telegram, service, "/donmoi@shop_test_bot")
    listed = await eventually(lambda: texts(telegram, GROUP)[1:])
    await asyncio.sleep(0.5)  # nothing else comes: the members' talk got no shopping reply
    assert (
        texts(telegram, GROUP)[1:]
        == listed
        == [vi("No orders are waiting for {partner} right now.").format(partner="HTX Thương mại Dịch vụ Phan Thiết")]
    )


async def test_a_button_pressed_in_a_chat_that_is_not_linked_is_refused(telegram, service, sessions):
    await post(telegram, service, telegram.text_update(FULL_ORDER, chat_id=BUYER))
    await post(telegram, service, telegram.callback_update("pay:cod", chat_id=BUYER))
    await post(telegram, service, telegram.callback_update("confirm", chat_id=BUYER))
    code = (await eventually(lambda: next((CODE.search(t) for t in texts(telegram, BUYER) if CODE.search(t)), None)))[0]
    await group_taps(telegram, service, f"po:accepted:{code}")
    refused = await eventually(lambda: texts(telegram, GROUP))
    assert refused == [
        vi(
            "Only a linked partner chat can do that. Ask HTX Connect for a code, then send /lienket CODE from the "
            "chat where you want the orders."
        )
    ]
    assert await status_of(sessions, code) == ("routed", None)
