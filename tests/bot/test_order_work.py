"""The periodic order work: partners' timeouts, stale new orders, and daily summaries sent once per day."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update

from bot import i18n
from bot.app import create_app
from bot.models import OutboundMessage
from bot.order_work import partner_summary, sweep
from catalog.accounts import OWNER
from catalog.models import VIETNAM, CoopAccount, Cooperative, utcnow
from catalog.queries import get_product
from orders import status as st
from orders.cart import add_to_cart
from orders.customers import get_or_create_customer
from orders.lifecycle import act
from orders.models import DailySummary, Order, OrderEvent, OrderLine, Partner, PartnerAccount
from orders.placing import Buyer, Chat, place_order
from orders.reports import Codes, PartnerDay, Tally
from tests.conftest import settings_for_tests

LAM_DONG = Buyer("Nguyễn Thị Lan", "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng")
DAY = date(2025, 3, 10)
HOUR = 18
PARTNER_CHAT = ("telegram", "-100777")


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A moment of a Vietnam day, as the UTC timestamp the database keeps."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VIETNAM).astimezone(UTC)


async def place(sessions, sku: str, quantity: str, buyer_id: str = "buyer-1") -> str:
    """A buyer orders `quantity` of `sku` to Lâm Đồng; returns the order code."""
    async with sessions.begin() as session:
        customer = await get_or_create_customer(session, "telegram", buyer_id)
        await add_to_cart(session, customer, await get_product(session, sku), Decimal(quantity))
        [order] = await place_order(session, customer, LAM_DONG, Chat("telegram", buyer_id))
        return order.code


async def order_named(session, code: str) -> Order:
    return await session.scalar(select(Order).where(Order.code == code).execution_options(populate_existing=True))


async def partner_acts(sessions, code: str, *steps: str) -> None:
    for to in steps:
        async with sessions.begin() as session:
            order = await order_named(session, code)
            await act(session, order.partner, code, to)


async def backdate(sessions, code: str, moment: datetime) -> None:
    """Pretend everything that happened to the order happened at `moment`."""
    async with sessions.begin() as session:
        order = await order_named(session, code)
        order.created_at = moment
        if order.routed_at is not None and order.accept_by is not None:
            order.routed_at, order.accept_by = moment, moment + (order.accept_by - order.routed_at)
        await session.execute(update(OrderEvent).where(OrderEvent.order_id == order.id).values(at=moment))


async def texts_to(sessions, chat_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage).where(OutboundMessage.chat_id == chat_id).order_by(OutboundMessage.id)
        )
        return [row.body["text"] for row in rows]


async def test_an_order_nobody_accepts_passes_from_partner_to_partner_then_is_escalated(sessions):
    code = await place(sessions, "TL-HOP-HL", "1")  # 250.000 đ of dragon fruit: TM-TOANQUOC also takes it
    start = utcnow()

    first = await sweep(sessions, HOUR, now=start + timedelta(minutes=61))
    assert first.expired == [code] and first.events
    again = await sweep(sessions, HOUR, now=start + timedelta(minutes=61))  # the next partner has 120 minutes
    assert again.expired == [] and not again
    last = await sweep(sessions, HOUR, now=start + timedelta(hours=3))
    assert last.expired == [code]

    async with sessions() as session:
        order = await order_named(session, code)
        partners = dict((await session.execute(select(Partner.id, Partner.code))).all())
        history = [(e.from_status, e.to_status, partners.get(e.partner_id)) for e in order.events]
    assert history == [
        (None, st.NEW, None),
        (st.NEW, st.ROUTED, "TM-PHANTHIET"),
        (st.ROUTED, st.EXPIRED, "TM-PHANTHIET"),
        (st.EXPIRED, st.ROUTED, "TM-TOANQUOC"),
        (st.ROUTED, st.EXPIRED, "TM-TOANQUOC"),
        (st.EXPIRED, st.ESCALATED, None),
    ]
    assert (order.status, order.partner_id, order.routed_at) == (st.ESCALATED, None, None)
    assert [e.note for e in order.events if e.to_status == st.EXPIRED] == [
        "not accepted within 60 minutes",
        "not accepted within 120 minutes",
    ]


async def test_an_order_accepted_in_time_does_not_expire(sessions):
    code = await place(sessions, "RAU-CACHUA-TP", "2")
    await partner_acts(sessions, code, st.ACCEPTED)
    swept = await sweep(sessions, HOUR, now=utcnow() + timedelta(days=1))
    assert swept.expired == []
    async with sessions() as session:
        assert (await order_named(session, code)).status == st.ACCEPTED


async def test_an_order_left_new_by_old_data_is_routed_after_a_minute(sessions):
    async with sessions.begin() as session:
        customer = await get_or_create_customer(session, "web", "old-buyer")
        tomato = await get_product(session, "RAU-CACHUA-TP")
        for code, age in (("DHOLD001", timedelta(minutes=5)), ("DHNEW001", timedelta(seconds=10))):
            line = OrderLine(product_id=tomato.id, sku=tomato.sku, name=tomato.name, unit=tomato.unit)
            line.unit_price, line.quantity, line.amount = 30000, Decimal(2), 60000
            order = Order(code=code, checkout_code=code, customer_id=customer.id, status=st.NEW, lines=[line])
            order.payment_method, order.payment_status = "cod", "unpaid"
            order.buyer_name, order.buyer_phone, order.buyer_address = LAM_DONG.name, LAM_DONG.phone, LAM_DONG.address
            order.province, order.created_at = "Lâm Đồng", utcnow() - age
            order.subtotal, order.shipping_fee, order.total = 60000, 15000, 75000
            session.add(order)

    swept = await sweep(sessions, HOUR)

    assert swept.routed == ["DHOLD001"] and swept.events
    async with sessions() as session:
        old, fresh = await order_named(session, "DHOLD001"), await order_named(session, "DHNEW001")
        assert (old.status, old.partner.code) == (st.ROUTED, "TM-PHANTHIET")
        assert old.events[-1].by == "system"
        assert fresh.status == st.NEW


async def a_day_of_orders(sessions) -> dict[str, str]:
    """TM-PHANTHIET's day (its group linked) and the owners of HAMDUC, TIENPHAT and HOALE (HOALE sells nothing).

    A: 2 kg dragon fruit (HAMDUC) at 09:00, accepted.      B: 1 kg tomatoes (TIENPHAT) at 18:30, not accepted.
    C: 3 kg cải ngọt (TIENPHAT) at 15:00, delivered.       D: 2 kg dragon fruit the day before, shipping.
    E: 2 kg dragon fruit at 10:00, rejected: nobody else takes 70.000 đ of it, so it is escalated.
    """
    async with sessions.begin() as session:
        phanthiet = await session.scalar(select(Partner).where(Partner.code == "TM-PHANTHIET"))
        channel, chat_id = PARTNER_CHAT
        session.add(PartnerAccount(partner_id=phanthiet.id, channel=channel, chat_id=chat_id, linked_by="test"))
        coops = dict((await session.execute(select(Cooperative.code, Cooperative.id))).all())
        for coop, user in (("HAMDUC", "owner-hd"), ("TIENPHAT", "owner-tp"), ("HOALE", "owner-hl")):
            session.add(CoopAccount(channel="zalo", user_id=user, cooperative_id=coops[coop], role=OWNER))
        session.add(CoopAccount(channel="zalo", user_id="staff-hd", cooperative_id=coops["HAMDUC"], role="staff"))
    codes = {
        "A": await place(sessions, "TL-RD-HD", "2", "a"),
        "B": await place(sessions, "RAU-CACHUA-TP", "1", "b"),
        "C": await place(sessions, "RAU-CAINGOT-TP", "3", "c"),
        "D": await place(sessions, "TL-RD-HD", "2", "d"),
        "E": await place(sessions, "TL-RD-HD", "2", "e"),
    }
    await partner_acts(sessions, codes["A"], st.ACCEPTED)
    await partner_acts(sessions, codes["C"], st.ACCEPTED, st.SHIPPING, st.DELIVERED)
    await partner_acts(sessions, codes["D"], st.ACCEPTED, st.SHIPPING)
    await partner_acts(sessions, codes["E"], st.REJECTED)
    for name, moment in {"A": at(9), "B": at(18, 30), "C": at(15), "D": at(10, day=DAY - timedelta(days=1))}.items():
        await backdate(sessions, codes[name], moment)
    await backdate(sessions, codes["E"], at(10))
    return codes


async def test_the_daily_summary_goes_once_even_when_two_sweeps_run_together(sessions):
    await a_day_of_orders(sessions)

    first, second = await asyncio.gather(sweep(sessions, HOUR, now=at(19)), sweep(sessions, HOUR, now=at(19)))
    later = await sweep(sessions, HOUR, now=at(22))

    assert first.summaries + second.summaries == 3 and later.summaries == 0
    for chat_id in (PARTNER_CHAT[1], "owner-hd", "owner-tp"):
        assert len(await texts_to(sessions, chat_id)) == 1, chat_id
    assert await texts_to(sessions, "staff-hd") == []
    assert await texts_to(sessions, "owner-hl") == []  # nothing at all to tell
    async with sessions() as session:
        recipients = (await session.scalars(select(DailySummary.recipient).where(DailySummary.day == DAY))).all()
        proactive = (await session.scalars(select(OutboundMessage.proactive))).all()
    assert sorted(recipients) == [
        "cooperative:HAMDUC",
        "cooperative:HOALE",
        "cooperative:TIENPHAT",
        "partner:TM-PHANTHIET",
    ]
    assert proactive == [True, True, True]


async def test_no_daily_summary_before_the_hour_and_again_the_next_day(sessions):
    await a_day_of_orders(sessions)

    assert (await sweep(sessions, HOUR, now=at(17, 59))).summaries == 0
    assert (await sweep(sessions, 20, now=at(19))).summaries == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DailySummary)) == 0
    assert (await sweep(sessions, HOUR, now=at(18))).summaries == 3
    # The next day brings no new order, but open ones are still worth a summary (B expired and was escalated).
    next_day = await sweep(sessions, HOUR, now=at(18, day=DAY + timedelta(days=1)))
    assert next_day.summaries == 3 and next_day.expired
    assert len(await texts_to(sessions, PARTNER_CHAT[1])) == 2


async def test_the_partners_summary_counts_the_day_and_lists_what_waits(sessions):
    codes = await a_day_of_orders(sessions)
    await sweep(sessions, HOUR, now=at(19))

    [text] = await texts_to(sessions, PARTNER_CHAT[1])
    money = lambda amount: i18n.money(amount, "vi")  # noqa: E731
    assert "10/03/2025" in text and "HTX Thương mại Dịch vụ Phan Thiết" in text
    routed = next(line for line in text.splitlines() if money(85000 + 45000 + 90000) in line)
    assert "3" in routed  # A, B and C were routed to it that day; D the day before; E is no longer its order
    delivered = next(line for line in text.splitlines() if money(90000) in line and line != routed)
    assert "1" in delivered
    rows = {code: line for line in text.splitlines() for name, code in codes.items() if code in line}
    assert set(rows) == {codes["A"], codes["B"], codes["D"]}
    assert len({rows[codes["A"]], rows[codes["B"]], rows[codes["D"]]}) == 3  # one group each


async def test_each_cooperative_hears_of_its_own_products_and_its_escalated_orders(sessions):
    codes = await a_day_of_orders(sessions)
    await sweep(sessions, HOUR, now=at(19))

    [hamduc] = await texts_to(sessions, "owner-hd")
    assert "HTX Thanh long Hàm Đức" in hamduc and i18n.money(70000 + 70000, "vi") in hamduc
    assert all(codes[name] in hamduc for name in "ADE") and codes["B"] not in hamduc
    [escalated] = [line for line in hamduc.splitlines() if codes["E"] in line]
    assert codes["A"] not in escalated and codes["D"] not in escalated
    [tienphat] = await texts_to(sessions, "owner-tp")
    assert i18n.money(30000 + 75000, "vi") in tienphat
    assert codes["B"] in tienphat and codes["C"] not in tienphat  # C is delivered: no longer open


def test_a_long_list_of_codes_is_cut_with_a_count_of_the_rest():
    report = PartnerDay(
        Partner(name="HTX Thương mại X"),
        DAY,
        Tally(),
        Tally(),
        {st.ROUTED: Codes(12, tuple(f"DH{n:06d}" for n in range(10)))},
    )
    text = partner_summary(report, "vi")
    assert "DH000009" in text and "(12)" in text
    assert "2" in text.splitlines()[-1].split("DH000009")[-1]


async def test_the_service_sweeps_by_itself_and_announces_what_expired(aiohttp_client, engine, sessions):
    code = await place(sessions, "RAU-CACHUA-TP", "2")
    async with sessions.begin() as session:
        order = await order_named(session, code)
        session.add(PartnerAccount(partner_id=order.partner_id, channel="telegram", chat_id="-100777", linked_by="t"))
        order.routed_at, order.accept_by = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)
        # Told already: the news worker must not hold the order's row lock while the sweep looks (SKIP LOCKED).
        await session.execute(update(OrderEvent).where(OrderEvent.order_id == order.id).values(announced=True))

    await aiohttp_client(create_app(settings_for_tests(), engine=engine))
    for _ in range(100):
        texts = await texts_to(sessions, "-100777")
        if any(code in text and "60 phút" in text for text in texts):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the expiry of {code} was not announced: {texts}")
    async with sessions() as session:
        assert (await order_named(session, code)).status == st.ESCALATED
