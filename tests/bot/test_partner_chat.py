"""Partner trading cooperatives work their orders by chat, through `POST /web/chat`: link, act, `/donmoi`.

The partner's chat here is a web chat session linked with `/lienket`; the same steps serve Telegram groups and
Zalo accounts (tests/e2e/test_partner_telegram.py, test_partner_zalo.py). New sentences are compared with the
Vietnamese catalogue through `vi`, so the tests read the same before and after translation.
"""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from bot.i18n import translations
from bot.order_texts import status_name
from catalog.models import CoopAccount
from orders.models import Order, OrderEvent, PartnerAccount
from orders.partner_accounts import create_partner_invite, partner_by_code
from tests.conftest import joined, payloads

vi = translations("vi").gettext
CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")
PHANTHIET, SAIGON, TOANQUOC = "TM-PHANTHIET", "TM-SAIGON", "TM-TOANQUOC"
# 1 kg lettuce (40 000 đ) to Phan Thiết (Lâm Đồng): only TM-PHANTHIET delivers it.
LETTUCE = "mua 1 kg xà lách, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết"
# 3 kg red dragon fruit (105 000 đ) to Phan Thiết: TM-PHANTHIET first, TM-TOANQUOC (fruit, from 100 000 đ) next.
DRAGON_FRUIT = "mua 3 kg thanh long ruột đỏ hàm đức, tên Hoa, sđt 0911222333, giao 12 Nguyễn Tất Thành, Phan Thiết"
# 2 kg tomatoes to Hồ Chí Minh: TM-SAIGON.
TOMATOES_SAIGON = "mua 2 ký cà chua, tên Minh, sđt 0987654321, giao 15 Lê Lợi, Bến Thành, Hồ Chí Minh"
BUYER, PARTNER_CHAT = "buyer-lan", "tm-phanthiet-chat"


# --- Helpers -------------------------------------------------------------------------------------------------------


async def link(chat, sessions, session_id: str, partner: str = PHANTHIET) -> str:
    """Link a web chat session to a partner with a fresh invite; returns the answer."""
    async with sessions.begin() as session:
        found = await partner_by_code(session, partner)
        assert found is not None
        code = await create_partner_invite(session, found, "test")
    return joined(await chat(session_id, text=f"/lienket {code}"))


async def place(chat, sessions, text: str = LETTUCE, session_id: str = BUYER) -> str:
    """An order placed by a buyer through the web chat and announced to its partner; returns its code."""
    await chat(session_id, text=text)
    await chat(session_id, payload="pay:cod")
    code = CODE.search(joined(await chat(session_id, payload="confirm")))
    assert code, "the order was not placed"
    await announced(sessions)
    return code.group(0)


async def order(sessions, code: str) -> Order:
    async with sessions() as session:
        found = await session.scalar(select(Order).where(Order.code == code))
        assert found is not None
        return found


async def events(sessions, code: str, to: str) -> list[OrderEvent]:
    """The order's events that moved it to `to`."""
    return [e for e in (await order(sessions, code)).events if e.to_status == to]


async def announced(sessions) -> None:
    """Wait until the app's order news worker has told everyone of every event (it polls once a second)."""
    for _ in range(300):
        async with sessions() as session:
            waiting = await session.scalar(
                select(func.count()).select_from(OrderEvent).where(OrderEvent.announced.is_(False))
            )
        if not waiting:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("order events not announced")


async def partner_of(sessions, code: str) -> str | None:
    found = await order(sessions, code)
    return found.partner.code if found.partner else None


def action_payloads(replies, code: str) -> set[str]:
    """The order's action buttons in the last reply (a web chat's pending news come before its answer)."""
    return {p for p in payloads(replies[-1:]) if p.startswith("po:") and p.endswith(code)}


# --- Linking -------------------------------------------------------------------------------------------------------


async def test_a_partner_invite_links_the_chat_that_sends_lienket(chat, sessions):
    answer = await link(chat, sessions, PARTNER_CHAT)
    assert (
        vi(
            "Linked: this chat now receives the orders of {partner}. Send /donmoi to see the orders waiting for you, "
            "/lenh for the commands."
        ).format(partner="HTX Thương mại Dịch vụ Phan Thiết")
        in answer
    )
    async with sessions() as session:
        account = await session.scalar(select(PartnerAccount))
        assert account is not None
        assert (account.channel, account.chat_id, account.linked_by) == ("web", PARTNER_CHAT, f"web:{PARTNER_CHAT}")
        assert account.partner.code == PHANTHIET
        assert await session.scalar(select(func.count()).select_from(CoopAccount)) == 0


async def test_a_partner_code_works_once(chat, sessions):
    async with sessions.begin() as session:
        partner = await partner_by_code(session, PHANTHIET)
        assert partner is not None
        code = await create_partner_invite(session, partner, "test")
    await chat(PARTNER_CHAT, text=f"/lienket {code}")
    assert "đã được dùng" in joined(await chat("someone-else", text=f"/lienket {code}"))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PartnerAccount)) == 1


async def test_a_partner_chat_can_be_linked_again_to_another_partner_in_plain_words(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    async with sessions.begin() as session:
        saigon = await partner_by_code(session, SAIGON)
        assert saigon is not None
        code = await create_partner_invite(session, saigon, "test")
    assert "HTX Thương mại Nông sản Sài Gòn" in joined(await chat(PARTNER_CHAT, text=f"liên kết {code}"))
    async with sessions() as session:
        [account] = (await session.scalars(select(PartnerAccount))).all()
        assert account.partner.code == SAIGON


async def test_a_routed_order_reaches_the_linked_partner_chat_with_accept_and_reject(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    pushed, _help = await chat(PARTNER_CHAT, text="/lenh")  # the web chat reads its news with its next answer
    assert f"Đơn {code} – chờ HTX thương mại nhận đơn" in pushed["text"]
    assert action_payloads([pushed], code) == {f"po:accepted:{code}", f"po:rejected:{code}"}


# --- Actions -------------------------------------------------------------------------------------------------------


async def test_accepting_answers_with_the_order_and_its_next_button_and_the_buyer_hears_it(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    replies = await chat(PARTNER_CHAT, payload=f"po:accepted:{code}")
    assert f"Đơn {code} – đã nhận đơn, đang chuẩn bị" in joined(replies)
    assert action_payloads(replies, code) == {f"po:shipping:{code}"}
    assert (await order(sessions, code)).status == "accepted"
    [accepted] = await events(sessions, code, "accepted")
    assert accepted.by == f"partner:{PHANTHIET}"
    await announced(sessions)
    assert f"HTX Thương mại Dịch vụ Phan Thiết đã nhận đơn {code}" in joined(await chat(BUYER, text="cảm ơn"))


async def test_accepting_twice_answers_already_accepted_and_records_one_event(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    await chat(PARTNER_CHAT, payload=f"po:accepted:{code}")
    again = joined(await chat(PARTNER_CHAT, payload=f"po:accepted:{code}"))
    assert (
        vi("Order {code} is already {status}: nothing changed.").format(code=code, status=status_name("accepted", "vi"))
        in again
    )
    assert len(await events(sessions, code, "accepted")) == 1


async def test_rejecting_asks_why_then_passes_the_order_to_the_next_partner(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    await link(chat, sessions, "tm-toanquoc-chat", TOANQUOC)
    code = await place(chat, sessions, DRAGON_FRUIT)
    asked = await chat(PARTNER_CHAT, payload=f"po:rejected:{code}")
    assert {"preason:stock", "preason:area", "preason:busy"} <= set(payloads(asked))
    assert (await order(sessions, code)).status == "routed"  # nothing happens before the reason
    passed = joined(await chat(PARTNER_CHAT, payload="preason:stock"))
    assert vi("Thank you. Order {code} has been passed on; there is nothing more to do.").format(code=code) in passed
    [rejected] = await events(sessions, code, "rejected")
    assert rejected.note == vi("Out of stock") and rejected.by == f"partner:{PHANTHIET}"
    assert await partner_of(sessions, code) == TOANQUOC
    await announced(sessions)
    pushed, _help = await chat("tm-toanquoc-chat", text="/lenh")
    assert action_payloads([pushed], code) == {f"po:accepted:{code}", f"po:rejected:{code}"}


async def test_a_rejection_reason_can_be_typed_and_the_last_partner_rejecting_escalates(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    await chat(PARTNER_CHAT, payload=f"po:rejected:{code}")
    await chat(PARTNER_CHAT, text="Xe giao hàng hỏng hôm nay")
    [rejected] = await events(sessions, code, "rejected")
    assert rejected.note == "Xe giao hàng hỏng hôm nay"
    assert (await order(sessions, code)).status == "escalated"  # nobody else delivers lettuce in Lâm Đồng
    again = joined(await chat(PARTNER_CHAT, payload=f"po:rejected:{code}"))
    assert vi("You already declined order {code}; it has been passed on.").format(code=code) in again
    assert len(await events(sessions, code, "rejected")) == 1


async def test_shipping_asks_for_a_tracking_number_and_the_buyer_reads_it(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    await chat(PARTNER_CHAT, payload=f"po:accepted:{code}")
    asked = await chat(PARTNER_CHAT, payload=f"po:shipping:{code}")
    assert payloads(asked) == ["pskip"]
    shipped = await chat(PARTNER_CHAT, text="GHN-8812345")
    assert "Mã vận đơn: GHN-8812345" in joined(shipped)
    assert action_payloads(shipped, code) == {f"po:delivered:{code}", f"po:failed:{code}"}
    assert (await order(sessions, code)).tracking_number == "GHN-8812345"
    await announced(sessions)
    told = joined(await chat(BUYER, text="cảm ơn"))
    assert f"Đơn {code} của anh/chị đang được" in told and "GHN-8812345" in told


async def test_shipping_can_skip_the_tracking_number_by_button_or_by_words(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    first, second = await place(chat, sessions), await place(chat, sessions, session_id="buyer-binh")
    for code in (first, second):
        await chat(PARTNER_CHAT, payload=f"po:accepted:{code}")
    await chat(PARTNER_CHAT, payload=f"po:shipping:{first}")
    await chat(PARTNER_CHAT, payload="pskip")
    await chat(PARTNER_CHAT, payload=f"po:shipping:{second}")
    await chat(PARTNER_CHAT, text="bỏ qua")
    for code in (first, second):
        shipped = await order(sessions, code)
        assert (shipped.status, shipped.tracking_number) == ("shipping", None)


async def test_delivered_closes_the_order_without_more_buttons(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    await chat(PARTNER_CHAT, payload=f"po:accepted:{code}")
    await chat(PARTNER_CHAT, payload=f"po:shipping:{code}")
    await chat(PARTNER_CHAT, payload="pskip")
    delivered = await chat(PARTNER_CHAT, payload=f"po:delivered:{code}")
    assert f"Đơn {code} – đã giao" in joined(delivered) and action_payloads(delivered, code) == set()
    assert (await order(sessions, code)).status == "delivered"


async def test_a_failed_delivery_asks_why_for_the_buyer_then_the_goods_can_go_back(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    for step in ("accepted", "shipping"):
        await chat(PARTNER_CHAT, payload=f"po:{step}:{code}")
    await chat(PARTNER_CHAT, payload="pskip")
    asked = await chat(PARTNER_CHAT, payload=f"po:failed:{code}")
    assert {"preason:phone", "preason:refused", "preason:address"} <= set(payloads(asked))
    failed = await chat(PARTNER_CHAT, payload="preason:phone")
    assert action_payloads(failed, code) == {f"po:shipping:{code}", f"po:returned:{code}"}
    [event] = await events(sessions, code, "failed")
    assert event.note == vi("Could not reach the buyer")
    await announced(sessions)
    assert vi("Could not reach the buyer") in joined(await chat(BUYER, text="cảm ơn"))
    returned = await chat(PARTNER_CHAT, payload=f"po:returned:{code}")
    assert action_payloads(returned, code) == set()
    assert (await order(sessions, code)).status == "returned"


async def test_huy_or_thoi_at_a_question_leaves_the_order_as_it_was(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    await chat(PARTNER_CHAT, payload=f"po:rejected:{code}")
    dropped = joined(await chat(PARTNER_CHAT, text="hủy"))
    assert (
        vi("Alright, order {code} stays as it is. Press its buttons again whenever you are ready.").format(code=code)
        in dropped
    )
    await chat(PARTNER_CHAT, payload=f"po:accepted:{code}")
    await chat(PARTNER_CHAT, payload=f"po:shipping:{code}")
    await chat(PARTNER_CHAT, text="thôi")
    assert (await order(sessions, code)).status == "accepted"
    stale = joined(await chat(PARTNER_CHAT, payload="pskip"))  # the old Skip button no longer ships it
    assert vi("That question is closed. Press the order's button again, or send /donmoi.") in stale
    assert (await order(sessions, code)).status == "accepted"


# --- Refusals ------------------------------------------------------------------------------------------------------


async def test_a_transition_the_life_cycle_refuses_names_the_current_status(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    code = await place(chat, sessions)
    refused = await chat(PARTNER_CHAT, payload=f"po:delivered:{code}")
    assert vi("Order {code} is {status} now, so it cannot be marked “{action}”.").format(
        code=code, status=status_name("routed", "vi"), action=vi("Delivered")
    ) in joined(refused)
    assert action_payloads(refused, code) == {f"po:accepted:{code}", f"po:rejected:{code}"}
    refused_question = joined(await chat(PARTNER_CHAT, payload=f"po:failed:{code}"))
    assert vi("Delivery failed") in refused_question  # refused at once, without asking why
    assert (await order(sessions, code)).status == "routed"


async def test_another_partners_order_is_not_among_its_orders(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    await link(chat, sessions, "tm-saigon-chat", SAIGON)
    code = await place(chat, sessions)
    for payload in (f"po:accepted:{code}", f"po:rejected:{code}", f"pv:{code}", "po:accepted:DHNOPE00"):
        refused = joined(await chat("tm-saigon-chat", payload=payload))
        assert (
            vi("Order {code} is not among the orders of {partner}.").format(
                code=payload.rpartition(":")[2], partner="HTX Thương mại Nông sản Sài Gòn"
            )
            in refused
        )
    assert (await order(sessions, code)).status == "routed"
    assert await events(sessions, code, "rejected") == []


async def test_an_unlinked_chat_can_neither_press_partner_buttons_nor_send_donmoi(chat, sessions):
    code = await place(chat, sessions)
    only_partners = vi(
        "Only a linked partner chat can do that. Ask HTX Connect for a code, then send /lienket CODE from the chat "
        "where you want the orders."
    )
    assert only_partners in joined(await chat(BUYER, payload=f"po:accepted:{code}"))
    assert only_partners in joined(await chat(BUYER, text="/donmoi"))
    assert only_partners in joined(await chat(BUYER, text="/don moi"))
    assert only_partners not in joined(await chat(BUYER, text="đơn mới"))  # a buyer's words stay a buyer's
    assert (await order(sessions, code)).status == "routed"


# --- /donmoi and help ----------------------------------------------------------------------------------------------


async def test_donmoi_lists_the_orders_waiting_newest_first_and_opens_one(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    none = joined(await chat(PARTNER_CHAT, text="/donmoi"))
    assert (
        vi("No orders are waiting for {partner} right now.").format(partner="HTX Thương mại Dịch vụ Phan Thiết") in none
    )
    first = await place(chat, sessions)
    alone = await chat(PARTNER_CHAT, text="đơn mới")  # one order is shown whole, with its buttons
    assert action_payloads(alone, first) == {f"po:accepted:{first}", f"po:rejected:{first}"}
    second, third = (
        await place(chat, sessions, session_id="buyer-binh"),
        await place(chat, sessions, session_id="buyer-chi"),
    )
    await chat(PARTNER_CHAT, payload=f"po:accepted:{second}")
    saigon = await place(chat, sessions, TOMATOES_SAIGON, "buyer-minh")
    for words in ("/donmoi", "don moi", "Đơn mới", "/don moi"):
        listed = await chat(PARTNER_CHAT, text=words)
        assert [p for p in payloads(listed) if p.startswith("pv:")] == [f"pv:{third}", f"pv:{second}", f"pv:{first}"]
        assert saigon not in joined(listed)
    opened = await chat(PARTNER_CHAT, payload=f"pv:{second}")
    assert action_payloads(opened, second) == {f"po:shipping:{second}"}


async def test_a_partner_chat_gets_partner_help_never_the_shop(chat, sessions):
    await link(chat, sessions, PARTNER_CHAT)
    help_ = joined(await chat(PARTNER_CHAT, text="/lenh"))
    assert "/donmoi" in help_ and "/lenh" in help_
    for words in ("mua 3 ký thanh long ruột đỏ hàm đức", "xin chào", "/kho"):
        answer = await chat(PARTNER_CHAT, text=words)
        assert "/donmoi" in joined(answer)
        assert not {"browse", "cart", "orders"} & set(payloads(answer))
        assert "add:" not in " ".join(payloads(answer))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
