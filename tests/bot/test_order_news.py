"""Every order event is told once, to the right people, in their language: buyer, partner chats, cooperatives."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bot.models import OutboundMessage
from bot.order_news import announce_next
from catalog.accounts import OWNER
from catalog.models import CoopAccount, Cooperative, utcnow
from catalog.queries import get_product
from orders.cart import add_to_cart
from orders.customers import get_or_create_customer
from orders.lifecycle import act, expire_overdue
from orders.models import Order, Partner, PartnerAccount
from orders.placing import Buyer, Chat, cancel_order, place_order
from tests.conftest import joined

LAM_DONG = Buyer("Nguyễn Thị Lan", "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng")


async def ordered(sessions, sku: str = "RAU-CACHUA-TP", channel: str = "telegram", locale: str = "vi") -> str:
    """A buyer on `channel` orders 2 units of `sku` to Lâm Đồng (TM-PHANTHIET, whose group is linked)."""
    async with sessions.begin() as session:
        phanthiet = await session.scalar(select(Partner).where(Partner.code == "TM-PHANTHIET"))
        if not await session.scalar(select(func.count()).select_from(PartnerAccount)):
            session.add(PartnerAccount(partner_id=phanthiet.id, channel="telegram", chat_id="-100777", linked_by="t"))
        customer = await get_or_create_customer(session, channel, "buyer-1")
        await add_to_cart(session, customer, await get_product(session, sku), Decimal(2))
        [order] = await place_order(session, customer, LAM_DONG, Chat(channel, "buyer-1", locale))
        return order.code


async def announce_all(sessions) -> int:
    count = 0
    while await announce_next(sessions):
        count += 1
    return count


async def outbox(sessions) -> list[tuple[str, str, dict]]:
    async with sessions() as session:
        rows = (await session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))).all()
        return [(row.channel, row.chat_id, row.body) for row in rows]


async def partner_acts(sessions, code: str, to: str, **details) -> None:
    async with sessions.begin() as session:
        partner = await session.scalar(
            select(Partner).join(Order, Order.partner_id == Partner.id).where(Order.code == code)
        )
        await act(session, partner, code, to, **details)


async def test_a_routed_order_reaches_the_partners_group_with_accept_and_reject_buttons(sessions):
    code = await ordered(sessions)
    assert await announce_all(sessions) == 1
    [(channel, chat_id, body)] = await outbox(sessions)
    assert (channel, chat_id) == ("telegram", "-100777")
    assert body["text"].startswith(f"Đơn {code} – chờ HTX thương mại nhận đơn")
    assert "Người nhận: Nguyễn Thị Lan, 0912345678" in body["text"] and "Cần thu: 75.000\xa0₫" in body["text"]
    assert [b["payload"] for b in body["buttons"]] == [f"po:accepted:{code}", f"po:rejected:{code}"]


async def test_each_event_is_announced_exactly_once(sessions):
    await ordered(sessions)
    assert await announce_all(sessions) == 1
    assert await announce_all(sessions) == 0
    assert len(await outbox(sessions)) == 1


async def test_the_buyer_hears_accepted_shipping_with_tracking_and_delivered_in_their_language(sessions):
    code = await ordered(sessions, locale="en")
    await announce_all(sessions)
    await partner_acts(sessions, code, "accepted")
    await partner_acts(sessions, code, "shipping", tracking_number="GHTK123")
    await partner_acts(sessions, code, "delivered")
    await announce_all(sessions)
    to_buyer = [body["text"] for channel, chat, body in await outbox(sessions) if chat == "buyer-1"]
    assert len(to_buyer) == 3
    assert to_buyer[0].startswith("Good news: HTX Thương mại Dịch vụ Phan Thiết accepted your order")
    assert "Tracking number: GHTK123" in to_buyer[1]
    assert "has been delivered" in to_buyer[2]


async def test_a_buyer_cancelling_tells_the_partner_not_to_deliver(sessions):
    code = await ordered(sessions)
    async with sessions.begin() as session:
        await cancel_order(session, await get_or_create_customer(session, "telegram", "buyer-1"), code)
    await announce_all(sessions)
    texts = [(chat, body["text"]) for _, chat, body in await outbox(sessions)]
    assert ("-100777", f"Người mua đã hủy đơn {code}: anh/chị đừng giao đơn này.") in texts
    assert not [text for chat, text in texts if chat == "buyer-1"]  # they did it themselves


async def test_an_expired_order_tells_the_old_partner_and_goes_to_the_next(sessions):
    code = await ordered(sessions, sku="TL-RD-HD")  # 70.000 đ: below the nationwide carrier's minimum
    await announce_all(sessions)
    async with sessions.begin() as session:
        assert await expire_overdue(session, utcnow() + timedelta(hours=2)) == [code]
    await announce_all(sessions)
    texts = [(chat, body["text"]) for _, chat, body in await outbox(sessions)]
    assert any(chat == "-100777" and "chưa được nhận trong 60 phút" in text for chat, text in texts)
    assert any(chat == "buyer-1" and "Hiện chưa HTX thương mại nào giao được đơn" in text for chat, text in texts)


async def test_an_escalated_order_reaches_the_producer_owners_with_the_buyers_contact(sessions):
    async with sessions.begin() as session:
        hamduc = await session.scalar(select(Cooperative).where(Cooperative.code == "HAMDUC"))
        session.add(CoopAccount(channel="zalo", user_id="owner-hd", cooperative_id=hamduc.id, role=OWNER))
        session.add(CoopAccount(channel="zalo", user_id="staff-hd", cooperative_id=hamduc.id, role="staff"))
    code = await ordered(sessions, sku="TL-RD-HD")
    await partner_acts(sessions, code, "rejected", note="hết xe")
    await announce_all(sessions)
    to_owner = [body["text"] for _, chat, body in await outbox(sessions) if chat == "owner-hd"]
    assert len(to_owner) == 1 and f"Chưa HTX thương mại nào giao được đơn {code} tới Lâm Đồng" in to_owner[0]
    assert "0912345678" in to_owner[0]
    assert not [chat for _, chat, _ in await outbox(sessions) if chat == "staff-hd"]


async def test_web_chat_buyers_read_their_updates_with_the_next_answer(chat, sessions):
    await chat("s1", text="mua 2 kg cà chua, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết")
    await chat("s1", payload="pay:cod")
    await chat("s1", payload="confirm")
    async with sessions() as session:
        code = await session.scalar(select(Order.code))
    await partner_acts(sessions, code, "accepted")
    for _ in range(50):  # the app's news worker announces within its polling interval
        async with sessions() as session:
            if await session.scalar(select(func.count()).select_from(OutboundMessage).where(OutboundMessage.proactive)):
                break
        await asyncio.sleep(0.1)
    replies = joined(await chat("s1", payload="menu"))
    assert replies.index("Tin vui") < replies.index("Xin chào")
    assert "Tin vui" not in joined(await chat("s1", payload="menu"))
