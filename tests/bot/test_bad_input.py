"""Bad input through `POST /web/chat`: a short polite Vietnamese reply, nothing stored half-way, the service runs on."""

from __future__ import annotations

import asyncio
import random
import re
import string
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.models import Conversation, InboundEvent
from catalog.models import Product
from orders.models import CartLine, Customer, Order, OrderLine
from tests.conftest import joined, payloads

CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")
FULL_ORDER = "mua 1 kg xà lách, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết"
MENU = {"browse", "cart", "orders", "handoff"}
ONLY_TEXT = "Hiện shop chỉ đọc được chữ"
NOT_UNDERSTOOD = "Xin lỗi, shop chưa hiểu ý anh/chị"
NOT_FOUND = "Không tìm thấy"
BAD_QUANTITY = "Số lượng phải lớn hơn 0 và không quá 5000"
BAD_PHONE = "Số điện thoại chưa đúng"
EMPTY_CART_CHECKOUT = "Giỏ hàng đang trống nên chưa thể đặt hàng"
NOT_LISTED = "Sản phẩm này hiện không còn bán."


async def rows(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def cart_of(sessions, chat_id: str) -> dict[str, Decimal]:
    """What a web chat buyer's cart holds, by sku."""
    async with sessions() as session:
        query = (
            select(Product.sku, CartLine.quantity)
            .join(Product, CartLine.product_id == Product.id)
            .join(Customer, CartLine.customer_id == Customer.id)
            .where(Customer.channel == "web", Customer.user_id == chat_id)
        )
        return {sku: quantity for sku, quantity in (await session.execute(query)).all()}


async def state_of(sessions, chat_id: str) -> str | None:
    async with sessions() as session:
        return await session.scalar(
            select(Conversation.state).where(Conversation.channel == "web", Conversation.chat_id == chat_id)
        )


async def nothing_bought(sessions) -> None:
    assert await rows(sessions, CartLine) == 0
    assert await rows(sessions, Order) == 0
    assert await rows(sessions, OrderLine) == 0


def assert_short_and_polite(replies: list[dict[str, Any]]) -> None:
    """Some Vietnamese text, a handful of replies at most, each with a text to read."""
    assert 1 <= len(replies) <= 3, joined(replies)
    assert all(r["text"].strip() for r in replies), replies
    assert len(joined(replies)) < 600, joined(replies)


async def place_order(chat, session_id: str) -> str:
    await chat(session_id, text=FULL_ORDER)
    await chat(session_id, payload="pay:cod")
    code = CODE.search(joined(await chat(session_id, payload="confirm")))
    assert code, "the order was not placed"
    return code.group(0)


def keyboard_mash(length: int, seed: int = 2000) -> str:
    """Random printable noise with digits, punctuation, Vietnamese letters and an emoji: the same every run."""
    alphabet = string.ascii_letters + string.digits + string.punctuation + " ăâđêôơưáàảãạ😀"
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(length))


def word_noise(length: int, seed: int = 7) -> str:
    """Random lowercase non-words separated by spaces, cut to exactly `length` characters."""
    rng = random.Random(seed)
    text = ""
    while len(text) < length:
        text += "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 8))) + " "
    return text[: length - 1] + "q"


# --- Text that carries nothing ---------------------------------------------------------------------------------


async def test_empty_text_gets_the_menu_and_a_hint_to_type(chat, sessions):
    replies = await chat("s1", text="")
    assert_short_and_polite(replies)
    assert ONLY_TEXT in joined(replies)
    assert set(payloads(replies)) >= MENU
    await nothing_bought(sessions)


async def test_only_emoji_gets_the_menu_and_a_hint_to_type(chat, sessions):
    replies = await chat("s1", text="😀🍉🙏")
    assert_short_and_polite(replies)
    assert ONLY_TEXT in joined(replies)
    assert set(payloads(replies)) >= MENU
    await nothing_bought(sessions)


# --- Length ----------------------------------------------------------------------------------------------------


async def test_two_thousand_characters_of_word_noise_are_accepted_with_a_polite_reply(chat, sessions):
    noise = word_noise(2000)
    assert len(noise) == 2000
    replies = await chat("s1", text=noise)
    assert_short_and_polite(replies)
    assert NOT_UNDERSTOOD in joined(replies)
    assert set(payloads(replies)) >= MENU
    await nothing_bought(sessions)


async def test_two_thousand_characters_of_keyboard_mash_are_accepted_and_buy_nothing(chat, sessions):
    noise = keyboard_mash(2000)
    assert len(noise) == 2000
    replies = await chat("s1", text=noise)
    assert replies and all(r["text"].strip() for r in replies)
    assert NOT_FOUND in joined(replies) or NOT_UNDERSTOOD in joined(replies)
    await nothing_bought(sessions)
    assert "Đã thêm vào giỏ: Cà chua, 1 kg" in joined(await chat("s1", text="mua 1 kg cà chua"))


async def test_two_thousand_characters_of_keyboard_mash_get_a_short_reply(chat):
    assert_short_and_polite(await chat("s1", text=keyboard_mash(2000)))


@pytest.mark.parametrize("field", ["text", "payload"])
async def test_two_thousand_and_one_characters_are_refused_and_nothing_is_stored(client, sessions, field):
    response = await client.post("/web/chat", json={"session": "s1", field: "a" * 2001})
    assert response.status == 400
    assert response.content_type == "application/json"
    assert isinstance((await response.json())["error"], str)
    assert await rows(sessions, InboundEvent) == 0
    assert await rows(sessions, Conversation) == 0


# --- Markup and SQL --------------------------------------------------------------------------------------------


async def test_a_script_tag_is_not_echoed_and_the_order_in_the_message_still_counts(chat, sessions):
    replies = await chat("s1", text="<script>alert(1)</script> mua 2kg cà chua")
    shown = joined(replies) + " ".join(b["title"] for r in replies for b in r["buttons"])
    assert "<script" not in shown.lower() and "</script" not in shown.lower()
    assert "Đã thêm vào giỏ: Cà chua, 2 kg" in joined(replies)
    assert await cart_of(sessions, "s1") == {"RAU-CACHUA-TP": Decimal(2)}


async def test_sql_in_a_message_gets_a_polite_reply_and_every_table_is_still_there(chat, sessions):
    replies = await chat("s1", text="'; DROP TABLE orders; --")
    assert_short_and_polite(replies)
    assert payloads(replies), "the reply offers no way forward"
    await nothing_bought(sessions)
    assert await rows(sessions, Product) == 9
    assert await rows(sessions, Customer) == 1
    code = await place_order(chat, "s1")
    async with sessions() as session:
        assert await session.scalar(select(Order.status).where(Order.code == code)) == "routed"


async def test_sql_in_an_order_code_or_a_button_finds_nobody_elses_order(chat, sessions):
    code = await place_order(chat, "buyer-a")
    for text, payload in [
        ("kiểm tra đơn ' OR '1'='1", None),
        ("hủy đơn ' OR 1=1 --", None),
        (None, "status:' OR '1'='1"),
        (None, "cancel:' OR '1'='1"),
    ]:
        replies = await chat("buyer-b", text=text, payload=payload)
        assert_short_and_polite(replies)
        assert code not in joined(replies) and "Xà lách" not in joined(replies)
    async with sessions() as session:
        assert await session.scalar(select(Order.status).where(Order.code == code)) == "routed"
        assert await session.scalar(select(Product.stock).where(Product.sku == "RAU-XALACH-TP")) == 99


# --- Products and quantities -----------------------------------------------------------------------------------


async def test_an_unknown_product_is_not_found_and_the_cart_stays_empty(chat, sessions):
    replies = await chat("s1", text="mua 3 kg sầu riêng")
    assert_short_and_polite(replies)
    assert NOT_FOUND in joined(replies)
    assert payloads(replies), "the reply offers no way forward"
    await nothing_bought(sessions)


@pytest.mark.parametrize("text", ["mua 0 kg cà chua", "mua -2 kg cà chua"])
async def test_zero_or_negative_quantity_says_it_must_be_more_than_zero(chat, sessions, text):
    replies = await chat("s1", text=text)
    assert_short_and_polite(replies)
    assert BAD_QUANTITY in joined(replies)
    assert "bao nhiêu kg Cà chua" in joined(replies)
    await nothing_bought(sessions)


async def test_after_a_zero_quantity_the_number_asked_for_is_taken(chat, sessions):
    await chat("s1", text="mua 0 kg cà chua")
    assert "Đã thêm vào giỏ: Cà chua, 2 kg" in joined(await chat("s1", text="2"))
    assert await cart_of(sessions, "s1") == {"RAU-CACHUA-TP": Decimal(2)}


async def test_more_than_the_stock_says_how_much_is_left(chat, sessions):
    replies = await chat("s1", text="mua 900 kg xà lách")
    assert_short_and_polite(replies)
    assert "Xin lỗi, Xà lách chỉ còn 100 kg" in joined(replies)
    await nothing_bought(sessions)


async def test_an_absurd_quantity_says_the_limit(chat, sessions):
    replies = await chat("s1", text="mua 99999 kg cà chua")
    assert_short_and_polite(replies)
    assert BAD_QUANTITY in joined(replies)
    await nothing_bought(sessions)


# --- Checkout --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["0123456789", "12345"])
async def test_checkout_rejects_invalid_phone_and_asks_again(chat, sessions, phone):
    await chat("s1", text="mua 1 kg xà lách")
    await chat("s1", payload="checkout")
    await chat("s1", text="Nguyễn Thị Lan")
    assert await state_of(sessions, "s1") == "checkout.phone"
    replies = await chat("s1", text=phone)
    assert_short_and_polite(replies)
    assert BAD_PHONE in joined(replies) and "0912345678" in joined(replies)
    assert await state_of(sessions, "s1") == "checkout.phone"
    assert await rows(sessions, Order) == 0
    assert "Địa chỉ giao hàng" in joined(await chat("s1", text="0912 345 678"))


@pytest.mark.parametrize(("text", "payload"), [(None, "checkout"), ("đặt hàng", None)])
async def test_checkout_with_an_empty_cart_says_to_add_a_product_first(chat, sessions, text, payload):
    replies = await chat("s1", text=text, payload=payload)
    assert_short_and_polite(replies)
    assert EMPTY_CART_CHECKOUT in joined(replies)
    assert "browse" in payloads(replies)
    assert await state_of(sessions, "s1") is None
    await nothing_bought(sessions)


@pytest.mark.parametrize("payload", ["pay:cod", "edit"])
async def test_an_old_checkout_button_with_an_empty_cart_says_to_add_a_product_first(chat, sessions, payload):
    await place_order(chat, "s1")
    replies = await chat("s1", payload=payload)
    assert EMPTY_CART_CHECKOUT in joined(replies)
    assert await state_of(sessions, "s1") is None


async def test_confirm_without_an_order_waiting_says_so(chat, sessions):
    replies = await chat("s1", payload="confirm")
    assert_short_and_polite(replies)
    assert "Hiện không có đơn nào đang chờ xác nhận." in joined(replies)
    await nothing_bought(sessions)


async def test_confirming_twice_places_one_order(chat, sessions):
    code = await place_order(chat, "s1")
    again = await chat("s1", payload="confirm")
    assert_short_and_polite(again)
    assert f"Đơn {code} đã được xác nhận rồi" in joined(again)
    assert await rows(sessions, Order) == 1
    async with sessions() as session:
        assert await session.scalar(select(Product.stock).where(Product.sku == "RAU-XALACH-TP")) == 99


async def test_a_double_click_on_confirm_places_one_order(chat, sessions):
    await chat("s1", text=FULL_ORDER)
    await chat("s1", payload="pay:cod")
    first, second = await asyncio.gather(chat("s1", payload="confirm"), chat("s1", payload="confirm"))
    texts = sorted([joined(first), joined(second)], key=lambda t: "đã được đặt" not in t)
    code = CODE.search(texts[0]).group(0)
    assert f"Đơn hàng {code} đã được đặt" in texts[0]
    assert f"Đơn {code} đã được xác nhận rồi" in texts[1]
    assert await rows(sessions, Order) == 1
    async with sessions() as session:
        assert await session.scalar(select(Product.stock).where(Product.sku == "RAU-XALACH-TP")) == 99


# --- Order codes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "payload"), [("hủy đơn {code}", None), (None, "cancel:{code}"), ("kiểm tra đơn {code}", None)]
)
async def test_someone_elses_order_code_is_not_found_and_their_order_is_untouched(chat, sessions, text, payload):
    code = await place_order(chat, "buyer-a")
    replies = await chat("buyer-b", text=text and text.format(code=code), payload=payload and payload.format(code=code))
    assert_short_and_polite(replies)
    assert f"Không tìm thấy đơn {code}" in joined(replies)
    assert "Xà lách" not in joined(replies)
    async with sessions() as session:
        assert await session.scalar(select(Order.status).where(Order.code == code)) == "routed"
        assert await session.scalar(select(Product.stock).where(Product.sku == "RAU-XALACH-TP")) == 99


@pytest.mark.parametrize(
    ("text", "payload"),
    [("hủy đơn DH000000", None), ("kiểm tra đơn dh000000", None), (None, "status:DH000000"), (None, "cancel:DH000000")],
)
async def test_an_order_code_that_does_not_exist_is_not_found(chat, sessions, text, payload):
    await place_order(chat, "s1")
    replies = await chat("s1", text=text, payload=payload)
    assert_short_and_polite(replies)
    assert "Không tìm thấy đơn DH000000" in joined(replies)
    assert "orders" in payloads(replies)
    async with sessions() as session:
        assert (await session.scalars(select(Order.status))).all() == ["routed"]


async def test_an_order_code_with_a_tripled_letter_can_be_followed_by_text(chat, sessions):
    code = await place_order(chat, "s1")
    async with sessions.begin() as session:
        order = await session.scalar(select(Order).where(Order.code == code))
        order.code = "DHKKK123"
    assert "Đơn DHKKK123" in joined(await chat("s1", text="kiểm tra đơn DHKKK123"))


# --- Buttons ---------------------------------------------------------------------------------------------------

GARBAGE_PAYLOADS = [
    "add:NOPE:1",
    "add:TL-RD-HD:abc",
    "add:TL-RD-HD:NaN",
    "add:TL-RD-HD:Infinity",
    "add:TL-RD-HD:-1",
    "add:TL-RD-HD:0",
    "add:TL-RD-HD:1e9",
    "add:TL-RD-HD",
    "add:TL-RD-HD:1:2",
    "add:::",
    "pick:NOPE",
    "coop:NOPE",
    "inc:NOPE",
    "dec:TL-RD-HD",
    "rm:NOPE",
    "pay:bitcoin",
    "zzz",
    ":",
    "",
]


@pytest.mark.parametrize("payload", GARBAGE_PAYLOADS)
async def test_a_garbage_button_payload_gets_a_polite_reply_and_buys_nothing(chat, sessions, payload):
    replies = await chat("s1", payload=payload)
    assert_short_and_polite(replies)
    await nothing_bought(sessions)


@pytest.mark.parametrize("payload", ["add:NOPE:1", "pick:NOPE"])
async def test_a_button_for_an_unknown_product_offers_a_way_forward(chat, payload):
    replies = await chat("s1", payload=payload)
    assert NOT_LISTED in joined(replies)
    assert payloads(replies), "the reply offers no way forward"


@pytest.mark.parametrize("payload", ["add:TL-RD-HD:abc", "add:TL-RD-HD:NaN", "add:TL-RD-HD:1:2", "add:TL-RD-HD:0"])
async def test_a_button_with_a_bad_quantity_asks_how_many(chat, sessions, payload):
    replies = await chat("s1", payload=payload)
    assert "bao nhiêu kg Thanh long ruột đỏ Hàm Đức" in joined(replies)
    assert "add:TL-RD-HD:1" in payloads(replies)
    await nothing_bought(sessions)


async def test_a_nul_character_in_a_button_gets_a_polite_reply(client):
    response = await client.post("/web/chat", json={"session": "s1", "payload": "add:TL-RD-HD\x00:1"})
    assert response.status == 200, await response.text()
    assert_short_and_polite((await response.json())["replies"])


# --- HTTP level ------------------------------------------------------------------------------------------------

BAD_BODIES = {
    "not JSON": b"{not json",
    "empty body": b"",
    "not UTF-8": b"\xff\xfe\xfa",
    "a list": b"[]",
    "a string": b'"mua 1 kg ca chua"',
    "null": b"null",
    "a number": b"1",
    "no session": b'{"text": "xin chao"}',
    "session with a space": b'{"session": "a b", "text": "xin chao"}',
    "session of 65 characters": b'{"session": "' + b"a" * 65 + b'", "text": "xin chao"}',
    "empty session": b'{"session": "", "text": "xin chao"}',
    "session not a string": b'{"session": 1, "text": "xin chao"}',
    "text a number": b'{"session": "s1", "text": 1}',
    "text a list": b'{"session": "s1", "text": ["xin chao"]}',
    "text an object": b'{"session": "s1", "text": {"a": 1}}',
    "payload a number": b'{"session": "s1", "payload": 1}',
    "neither text nor payload": b'{"session": "s1"}',
    "text and payload null": b'{"session": "s1", "text": null, "payload": null}',
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_a_malformed_request_is_a_json_400_and_nothing_is_stored(client, sessions, body):
    response = await client.post("/web/chat", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert response.content_type == "application/json"
    error = (await response.json())["error"]
    assert isinstance(error, str) and error
    assert await rows(sessions, InboundEvent) == 0
    assert await rows(sessions, Conversation) == 0
    assert await rows(sessions, Customer) == 0


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"1e999"])
async def test_non_standard_json_numbers_are_a_json_400(client, sessions, number):
    body = b'{"session": "s1", "text": "xin chao", "x": ' + number + b"}"
    response = await client.post("/web/chat", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert response.content_type == "application/json"
    assert await rows(sessions, InboundEvent) == 0


async def test_a_session_of_64_characters_is_accepted(chat):
    assert "Xin chào" in joined(await chat("a" * 64, text="xin chào"))


# --- The service keeps running ---------------------------------------------------------------------------------


async def test_after_every_kind_of_bad_input_a_normal_order_still_works(chat, client, sessions):
    for text, payload in [
        ("", None),
        ("😀🍉🙏", None),
        (keyboard_mash(2000), None),
        ("<script>alert(1)</script>", None),
        ("'; DROP TABLE orders; --", None),
        ("mua 3 kg sầu riêng", None),
        ("mua 0 kg cà chua", None),
        ("mua 900 kg xà lách", None),
        (None, "checkout"),
        (None, "confirm"),
        ("hủy đơn DH000000", None),
        (None, "add:TL-RD-HD:NaN"),
        (None, "zzz"),
    ]:
        await chat("s1", text=text, payload=payload)
    for body in BAD_BODIES.values():
        assert (await client.post("/web/chat", data=body)).status == 400
    await nothing_bought(sessions)
    code = await place_order(chat, "s1")
    assert code in joined(await chat("s1", text="đơn của tôi"))
    assert (await client.get("/healthz")).status == 200
