"""An unpaid bank-transfer order: reminded once at the deadline, cancelled after the grace period with its stock
back, and everyone told why; paid and shipped orders are left alone."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from bot.db import make_engine, make_sessionmaker
from bot.models import OutboundMessage
from bot.order_work import Swept, sweep
from catalog.models import VIETNAM, Product, utcnow
from orders.cart import add_to_cart
from orders.customers import get_or_create_customer
from orders.models import BankTransaction, Order, OrderEvent, Partner, PartnerAccount
from orders.payment_deadline import PAYMENT_DEADLINE, Deadline
from orders.placing import BANK_TRANSFER, PAID, PARTIAL, Buyer, Chat, place_order
from orders.status import CANCELLED, ROUTED, SHIPPING
from tests.bot.test_order_news import partner_acts
from tests.bot.test_pay_by_transfer import CODE, ORDER
from tests.conftest import POSTGRES_URL, joined, settings_for_tests
from tests.orders.test_routing_concurrency import pool_size

DEADLINE = settings_for_tests().payment_deadline
PARTNER_CHAT = "-100777"
SKU = "TL-RD-HD"  # the 3 kg of dragon fruit ORDER buys


async def confirm_transfer(chat, sessions, buyer: str = "s1") -> list[dict]:
    """A web chat buyer orders by VietQR transfer from TM-PHANTHIET, whose group is linked; returns the replies to
    their confirmation. The partner takes days to accept, so the order is still waiting for it at the deadline."""
    async with sessions.begin() as session:
        partner = await session.scalar(select(Partner).where(Partner.code == "TM-PHANTHIET"))
        partner.accept_timeout_minutes = 3 * 24 * 60
        session.add(PartnerAccount(partner_id=partner.id, channel="telegram", chat_id=PARTNER_CHAT, linked_by="t"))
    await chat(buyer, text=ORDER)
    await chat(buyer, payload="pay:vietqr")
    return await chat(buyer, payload="confirm")


async def transfer_order(chat, sessions) -> Order:
    """As `confirm_transfer`; returns the order."""
    return await order_named(sessions, CODE.search(joined(await confirm_transfer(chat, sessions))).group(0))


async def order_named(sessions, code: str) -> Order:
    async with sessions() as session:
        return await session.scalar(select(Order).where(Order.code == code))


async def stock(sessions) -> object:
    async with sessions() as session:
        return await session.scalar(select(Product.stock).where(Product.sku == SKU))


async def sent_to(sessions, chat_id: str) -> list[str]:
    """Every text written to the chat so far, in order."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage).where(OutboundMessage.chat_id == chat_id).order_by(OutboundMessage.id)
        )
        return [row.body.get("text") or row.body.get("caption") or "" for row in rows]


async def told(sessions, chat_id: str, words: str) -> list[str]:
    """The texts to the chat holding `words`, once the app's order news worker has written them."""
    for _ in range(100):
        texts = [text for text in await sent_to(sessions, chat_id) if words in text]
        if texts:
            return texts
        await asyncio.sleep(0.05)
    return []


async def part_pay(sessions, order: Order, txn_id: str) -> None:
    """50.000 ₫ of the order's 120.000 ₫ arrived, by a SePay transaction with that id."""
    async with sessions.begin() as session:
        await session.execute(
            update(Order).where(Order.id == order.id).values(payment_status=PARTIAL, paid_amount=50_000)
        )
        txn = BankTransaction(provider="sepay", txn_id=txn_id, amount=50_000, order_id=order.id, outcome="partial")
        session.add(txn)


def vietnam(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%d/%m %H:%M")


async def test_the_checkout_says_by_when_to_pay_and_what_happens_otherwise(chat, sessions):
    replies = await confirm_transfer(chat, sessions)
    order = await order_named(sessions, CODE.search(joined(replies)).group(0))
    [qr] = [r["text"] for r in replies if r["image_url"]]
    assert (
        f"Anh/chị vui lòng chuyển khoản trước {vietnam(order.created_at + DEADLINE.after)} (giờ Việt Nam). Nếu đến lúc "
        "đó chưa nhận được tiền, chúng tôi sẽ nhắc anh/chị một lần rồi hủy đơn."
    ) in qr


async def test_nothing_happens_before_the_deadline(chat, sessions):
    order = await transfer_order(chat, sessions)
    before = await sent_to(sessions, "s1")
    swept = await sweep(sessions, None, now=order.created_at + DEADLINE.after - timedelta(minutes=1))
    assert not swept.reminded and not swept.cancelled
    assert (await order_named(sessions, order.code)).payment_reminded_at is None
    assert await sent_to(sessions, "s1") == before


async def test_at_the_deadline_the_buyer_is_reminded_exactly_once_with_amount_memo_and_time(chat, sessions):
    order = await transfer_order(chat, sessions)
    due = order.created_at + DEADLINE.after
    together = await asyncio.gather(*(sweep(sessions, None, now=due) for _ in range(2)))  # two processes at once
    again = await sweep(sessions, None, now=due + timedelta(minutes=30))
    assert sorted(len(swept.reminded) for swept in together) == [0, 1] and not again.reminded
    replies = await chat("s1", payload="menu")  # the web chat shows the reminder with the next answer
    reminders = [r for r in replies if f"chưa nhận được tiền chuyển khoản cho đơn {order.code}" in r["text"]]
    assert len(reminders) == 1
    [qr] = [r for r in replies if r.get("image_url")]
    assert qr["image_url"] == f"/pay/{order.code}.png"
    assert "120.000\xa0₫" in qr["text"] and f"Nội dung chuyển khoản: {order.code}" in qr["text"]
    assert f"trước {vietnam(due + DEADLINE.grace)} (giờ Việt Nam), nếu không đơn sẽ bị hủy" in qr["text"]
    assert (await order_named(sessions, order.code)).status == ROUTED


async def test_after_the_grace_period_the_order_is_cancelled_its_stock_back_once_and_everyone_told(chat, sessions):
    before = await stock(sessions)
    order = await transfer_order(chat, sessions)
    assert await stock(sessions) == before - 3
    reminded = order.created_at + DEADLINE.after
    await sweep(sessions, None, now=reminded)
    assert not (await sweep(sessions, None, now=reminded + DEADLINE.grace - timedelta(minutes=1))).cancelled
    swept = await asyncio.gather(*(sweep(sessions, None, now=reminded + DEADLINE.grace) for _ in range(2)))
    await sweep(sessions, None, now=reminded + DEADLINE.grace + timedelta(hours=1))
    assert sorted(s.cancelled for s in swept) == [[], [order.code]]
    assert await stock(sessions) == before
    async with sessions() as session:
        events = (await session.scalars(select(OrderEvent).where(OrderEvent.to_status == CANCELLED))).all()
    assert [(e.by, e.note) for e in events] == [(PAYMENT_DEADLINE, "the bank transfer did not arrive in time")]
    to_buyer = await told(sessions, "s1", "đã bị hủy")
    assert to_buyer == [
        f"Đơn {order.code} đã bị hủy vì chưa nhận được tiền chuyển khoản đúng hạn. Đơn sẽ không được giao."
    ]
    to_partner = await told(sessions, PARTNER_CHAT, "đã bị hủy")
    assert to_partner == [
        f"Đơn {order.code} đã bị hủy: người mua không thanh toán đúng hạn. Anh/chị đừng giao đơn này."
    ]
    assert not [text for text in await sent_to(sessions, PARTNER_CHAT) if "Người mua đã hủy" in text]


async def test_a_paid_order_is_never_reminded_nor_cancelled(chat, sessions):
    order = await transfer_order(chat, sessions)
    async with sessions.begin() as session:
        await session.execute(
            update(Order).where(Order.id == order.id).values(payment_status=PAID, paid_amount=order.total)
        )
    for hours in (24, 30, 72):
        swept = await sweep(sessions, None, now=order.created_at + timedelta(hours=hours))
        assert not swept.reminded and not swept.cancelled
    paid = await order_named(sessions, order.code)
    assert (paid.status, paid.payment_reminded_at) == (ROUTED, None)


async def test_a_partly_paid_order_is_reminded_of_what_is_missing_and_its_money_flagged_for_refund(chat, sessions):
    order = await transfer_order(chat, sessions)
    await part_pay(sessions, order, txn_id="1")
    async with sessions.begin() as session:
        unmatched = BankTransaction(provider="casso", txn_id="2", amount=70_000, outcome="unmatched", needs_review=True)
        session.add(unmatched)
    reminded = order.created_at + DEADLINE.after
    assert (await sweep(sessions, None, now=reminded)).reminded == [order.code]
    reminder = "\n".join((await sent_to(sessions, "s1"))[-2:])
    assert (
        f"Chúng tôi đã nhận 50.000\xa0₫ trên tổng 120.000\xa0₫ của đơn {order.code}; còn thiếu 70.000\xa0₫." in reminder
    )
    assert f"Chuyển khoản cho đơn {order.code}: 70.000\xa0₫" in reminder and "Quét mã" in reminder

    assert (await sweep(sessions, None, now=reminded + DEADLINE.grace)).cancelled == [order.code]
    async with sessions() as session:
        rows = {t.txn_id: t for t in (await session.scalars(select(BankTransaction))).all()}
    assert rows["1"].needs_review and order.code in rows["1"].review_note and "Refund" in rows["1"].review_note
    assert rows["2"].review_note == ""  # money matched to no order is not this order's to refund
    [to_buyer] = await told(sessions, "s1", "đã bị hủy")
    assert "HTX thương mại sẽ hoàn lại cho anh/chị 50.000\xa0₫ đã chuyển khoản." in to_buyer
    [to_partner] = await told(sessions, PARTNER_CHAT, "đã bị hủy")
    assert "Anh/chị vui lòng hoàn lại 50.000\xa0₫ đã nhận cho người mua (0912345678)." in to_partner


async def test_an_order_the_partner_is_already_shipping_is_left_alone(chat, sessions):
    before = await stock(sessions)
    order = await transfer_order(chat, sessions)
    await partner_acts(sessions, order.code, "accepted")
    await partner_acts(sessions, order.code, "shipping")
    for hours in (24, 27, 72):
        swept = await sweep(sessions, None, now=order.created_at + timedelta(hours=hours))
        assert not swept.reminded and not swept.cancelled
    assert (await order_named(sessions, order.code)).status == SHIPPING
    assert await stock(sessions) == before - 3


async def test_an_order_the_partner_accepted_but_nobody_paid_is_cancelled_and_the_partner_told_not_to_deliver(
    chat, sessions
):
    before = await stock(sessions)
    order = await transfer_order(chat, sessions)
    await partner_acts(sessions, order.code, "accepted")
    reminded = order.created_at + DEADLINE.after
    assert (await sweep(sessions, None, now=reminded)).reminded == [order.code]
    assert (await sweep(sessions, None, now=reminded + DEADLINE.grace)).cancelled == [order.code]
    assert (await order_named(sessions, order.code)).status == CANCELLED
    assert await stock(sessions) == before
    assert await told(sessions, PARTNER_CHAT, "Anh/chị đừng giao đơn này")


async def test_a_buyer_cancelling_a_partly_paid_order_is_promised_a_refund_and_the_money_flagged(chat, sessions):
    order = await transfer_order(chat, sessions)
    await part_pay(sessions, order, txn_id="9")
    replies = await chat("s1", text=f"huy don {order.code}")
    assert "HTX thương mại sẽ hoàn lại 50.000\xa0₫ anh/chị đã chuyển khoản." in joined(replies)
    async with sessions() as session:
        txn = await session.scalar(select(BankTransaction).where(BankTransaction.txn_id == "9"))
    assert txn.needs_review and "the buyer cancelled it" in txn.review_note


async def test_the_deadline_and_grace_hours_come_from_the_settings():
    settings = settings_for_tests(payment_deadline_hours=6, payment_grace_hours=1)
    assert settings.payment_deadline == Deadline(timedelta(hours=6), timedelta(hours=1))
    assert settings_for_tests().payment_deadline == Deadline(timedelta(hours=24), timedelta(hours=2))


OVERDUE = 120  # more than a sweep's batch, so the sweeps share the work
SWEEPERS = 6
CARTS = [("RAU-CACHUA-TP", "TL-RD-HD"), ("TL-RD-HD", "RAU-XALACH-TP"), ("RAU-XALACH-TP",)]


async def place_overdue(sessions) -> tuple[dict[int, Decimal], dict[int, int]]:
    """OVERDUE transfer orders to Lâm Đồng, each from its own buyer; returns the stock before them and the partners'
    loads after them."""
    async with sessions.begin() as session:
        await session.execute(update(Partner).values(accept_timeout_minutes=3 * 24 * 60, daily_capacity=None))
        await session.execute(update(Product).values(stock=1000))
        initial = dict((await session.execute(select(Product.id, Product.stock))).all())
        products = {p.sku: p for p in (await session.scalars(select(Product))).all()}
    buyer = Buyer("Khách", "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng")
    for n in range(OVERDUE):
        async with sessions.begin() as session:
            customer = await get_or_create_customer(session, "telegram", f"buyer-{n}")
            for sku in CARTS[n % len(CARTS)]:
                await add_to_cart(session, customer, products[sku], Decimal(1))
            await place_order(session, customer, buyer, Chat("telegram", f"buyer-{n}"), payment_method=BANK_TRANSFER)
    async with sessions() as session:
        loads = dict((await session.execute(select(Partner.id, Partner.load))).all())
    return initial, loads


async def sweeping(sessions, now: datetime) -> list[Swept]:
    """SWEEPERS processes sweeping at `now` until nothing is left to do, all at once."""

    async def sweeper() -> list[Swept]:
        done = []
        while swept := await sweep(sessions, None, now=now):
            done.append(swept)
        return done

    return [swept for done in await asyncio.gather(*(sweeper() for _ in range(SWEEPERS))) for swept in done]


@pytest.mark.skipif(not POSTGRES_URL, reason="real concurrency needs PostgreSQL (HTX_TEST_DATABASE_URL)")
async def test_many_sweeps_at_once_remind_and_cancel_each_order_once_and_give_stock_back_once(engine):
    assert POSTGRES_URL
    big = make_engine(POSTGRES_URL, pool_size=await pool_size(engine), max_overflow=0, pool_timeout=60)
    sessions = make_sessionmaker(big)
    try:
        initial, loads = await place_overdue(sessions)
        start = utcnow()
        at_deadline, after_grace = start + DEADLINE.after, start + DEADLINE.after + DEADLINE.grace
        reminded = [code for swept in await sweeping(sessions, at_deadline) for code in swept.reminded]
        cancelled = [code for swept in await sweeping(sessions, after_grace) for code in swept.cancelled]
        async with sessions() as session:
            orders = (await session.scalars(select(Order))).all()
            per_chat = Counter((await session.scalars(select(OutboundMessage.chat_id))).all())
            stock_now = dict((await session.execute(select(Product.id, Product.stock))).all())
            loads_now = dict((await session.execute(select(Partner.id, Partner.load))).all())
    finally:
        await big.dispose()
    codes = sorted(order.code for order in orders)
    assert len(codes) >= OVERDUE and sorted(reminded) == codes and sorted(cancelled) == codes
    orders_per_chat = Counter(order.chat_id for order in orders)
    assert per_chat == Counter({chat: 2 * count for chat, count in orders_per_chat.items()})  # words and QR, once
    assert all([e.to_status for e in order.events].count(CANCELLED) == 1 for order in orders)
    assert stock_now == initial and loads_now == loads
