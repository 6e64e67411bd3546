"""A partner trading cooperative works its orders from a Zalo account: buttons come as numbered options, and the
partner answers with the number, also to an order the bot sent on its own (not as a reply)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.i18n import translations
from orders.models import Order, OrderEvent
from orders.partner_accounts import create_partner_invite, partner_by_code
from tests.e2e.conftest import CODE, FULL_ORDER, eventually, zalo_settings
from tests.fakes.zalo import FakeZalo, text_event

BUYER = "2468013579111299"
PARTNER = "1357924680111299"  # the Zalo account of TM-PHANTHIET's dispatcher
NEXT_PARTNER = "1357924680111300"  # TM-TOANQUOC's
vi = translations("vi").gettext


@pytest.fixture
async def service(aiohttp_client, engine, zalo):
    return await aiohttp_client(create_app(zalo_settings(zalo), engine=engine))


def texts_to(zalo: FakeZalo, user: str) -> list[str]:
    return [b["message"]["text"] for b in zalo.sent if b["recipient"]["user_id"] == user and "text" in b["message"]]


async def says(zalo: FakeZalo, service, user: str, text: str) -> None:
    assert await zalo.deliver(str(service.make_url("/webhooks/zalo")), text_event(user, text)) == 200


async def answer(zalo: FakeZalo, service, user: str, text: str, expected: str) -> str:
    """Send `text` and wait for the next message to `user` that contains `expected`."""
    before = len(texts_to(zalo, user))
    await says(zalo, service, user, text)
    return await eventually(lambda: next((t for t in texts_to(zalo, user)[before:] if expected in t), None))


async def link(zalo: FakeZalo, service, sessions, user: str, partner: str) -> None:
    async with sessions.begin() as session:
        found = await partner_by_code(session, partner)
        assert found is not None
        code = await create_partner_invite(session, found, "test")
    await answer(zalo, service, user, f"/lienket {code}", "/donmoi")


async def order_by_buyer(zalo: FakeZalo, service) -> str:
    await answer(zalo, service, BUYER, FULL_ORDER, "thanh toán thế nào")
    await answer(zalo, service, BUYER, "1", "kiểm tra lại đơn hàng")
    confirmation = await answer(zalo, service, BUYER, "1", "DH")
    found = CODE.search(confirmation)
    assert found
    return found[0]


async def order_row(sessions, code: str) -> Order:
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.code == code))
        assert order is not None
        return order


async def test_a_partner_on_zalo_accepts_ships_and_delivers_by_number(zalo, service, sessions):
    await link(zalo, service, sessions, PARTNER, "TM-PHANTHIET")
    code = await order_by_buyer(zalo, service)
    routed = await eventually(lambda: next((t for t in texts_to(zalo, PARTNER) if code in t), None))
    assert routed.endswith("1. Nhận đơn\n2. Từ chối")

    accepted = await answer(zalo, service, PARTNER, "1", "đã nhận đơn, đang chuẩn bị")
    assert accepted.endswith("1. Đang giao")
    await eventually(lambda: any(f"đã nhận đơn {code}" in t for t in texts_to(zalo, BUYER)))
    asked = await answer(zalo, service, PARTNER, "1", code)
    assert asked.endswith("1. " + vi("Skip"))
    shipping = await answer(zalo, service, PARTNER, "VTP 55501234", "Mã vận đơn: VTP 55501234")
    assert shipping.endswith("1. Đã giao\n2. Giao thất bại")
    await eventually(lambda: any("VTP 55501234" in t for t in texts_to(zalo, BUYER)))
    await answer(zalo, service, PARTNER, "1", f"Đơn {code} – đã giao")
    await eventually(lambda: any(f"Đơn {code} đã giao xong" in t for t in texts_to(zalo, BUYER)))
    assert (await order_row(sessions, code)).status == "delivered"


async def test_a_partner_on_zalo_rejects_with_a_numbered_reason_and_the_next_partner_gets_it(zalo, service, sessions):
    await link(zalo, service, sessions, PARTNER, "TM-PHANTHIET")
    await link(zalo, service, sessions, NEXT_PARTNER, "TM-TOANQUOC")
    code = await order_by_buyer(zalo, service)
    await eventually(lambda: any(code in t for t in texts_to(zalo, PARTNER)))
    reasons = await answer(zalo, service, PARTNER, "2", "\n1. ")
    assert "\n3. " in reasons
    await answer(zalo, service, PARTNER, "3", code)
    routed = await eventually(lambda: next((t for t in texts_to(zalo, NEXT_PARTNER) if code in t), None))
    assert routed.endswith("1. Nhận đơn\n2. Từ chối")
    await answer(zalo, service, NEXT_PARTNER, "1", "đã nhận đơn, đang chuẩn bị")
    order = await order_row(sessions, code)
    assert (order.status, order.partner.code) == ("accepted", "TM-TOANQUOC")
    async with sessions() as session:
        rejected = await session.scalar(select(OrderEvent).where(OrderEvent.to_status == "rejected"))
        assert rejected is not None and rejected.by == "partner:TM-PHANTHIET" and rejected.note


async def test_a_buyer_on_zalo_opens_an_order_update_by_its_number(zalo, service, sessions):
    await link(zalo, service, sessions, PARTNER, "TM-PHANTHIET")
    code = await order_by_buyer(zalo, service)
    await eventually(lambda: any(code in t for t in texts_to(zalo, PARTNER)))
    await answer(zalo, service, PARTNER, "1", "đã nhận đơn, đang chuẩn bị")
    update = await eventually(lambda: next((t for t in texts_to(zalo, BUYER) if f"đã nhận đơn {code}" in t), None))
    assert update.endswith(f"1. Đơn {code}")
    detail = await answer(zalo, service, BUYER, "1", "Tình trạng:")
    assert "đã nhận đơn, đang chuẩn bị" in detail
