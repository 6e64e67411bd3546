"""A buyer's whole journey through `POST /web/chat`, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from catalog.models import Product
from orders.models import Order, OrderEvent
from tests.conftest import ADMIN_TOKEN, joined, payloads

CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")


async def test_greeting_shows_the_menu_in_vietnamese(chat):
    replies = await chat("s1", payload="menu")
    assert "Xin chào" in joined(replies)
    assert {"browse", "cart", "orders", "handoff"} <= set(payloads(replies))


async def test_browse_cooperatives_then_products_as_cards_with_price_and_image(chat):
    coops = await chat("s1", payload="browse")
    assert "coop:HAMDUC" in payloads(coops)
    assert any(b["title"] == "HTX Thanh long Hàm Đức" for r in coops for b in r["buttons"])
    cards = await chat("s1", payload="coop:HAMDUC")
    red = next(r for r in cards if r["text"].startswith("Thanh long ruột đỏ Hàm Đức"))
    assert "35.000\xa0₫/kg" in red["text"] and "HTX Thanh long Hàm Đức" in red["text"]
    assert red["image_url"] == "/static/img/thanh-long-ruot-do.svg"
    assert "add:TL-RD-HD:1" in payloads([red])


async def test_free_text_search_and_price_question(chat):
    found = joined(await chat("s1", text="có rau muống không"))
    assert "Rau muống" in found and "12.000\xa0₫/bó" in found
    price = joined(await chat("s1", text="thanh long ruột đỏ hàm đức bn 1 ký"))
    assert "35.000\xa0₫/kg" in price


async def test_order_by_text_without_diacritics_and_by_button(chat):
    added = joined(await chat("s1", text="mua 3 ki thanh long ruot do ham duc"))
    assert "Thanh long ruột đỏ Hàm Đức, 3 kg" in added
    await chat("s1", text="cho 2 hộp thanh long hòa lễ")
    await chat("s1", payload="add:RAU-MUONG-TP:4")
    cart = joined(await chat("s1", text="giỏ hàng"))
    assert "3 kg" in cart and "2 hộp" in cart and "4 bó" in cart
    assert "Tổng cộng: 653.000\xa0₫" in cart  # 105 000 + 500 000 + 48 000


async def test_a_tie_asks_which_product(chat):
    replies = await chat("s1", text="mua 2 kg thanh long ruột đỏ")
    assert "sản phẩm nào" in joined(replies)
    assert {"add:TL-RD-HD:2", "add:TL-HC-PH:2"} <= set(payloads(replies))


async def test_a_product_without_quantity_asks_how_many_then_takes_the_number(chat):
    asked = await chat("s1", text="mua cà chua")
    assert "bao nhiêu kg" in joined(asked)
    added = joined(await chat("s1", text="2"))
    assert "Cà chua, 2 kg" in added


async def test_change_the_cart_by_button_and_by_text(chat):
    await chat("s1", text="mua 2 kg cà chua và 3 bó rau muống")
    more = joined(await chat("s1", payload="inc:RAU-CACHUA-TP"))
    assert "Cà chua: 3 kg" in more
    removed = joined(await chat("s1", text="bỏ rau muống"))
    assert "Đã bỏ Rau muống" in removed and "Rau muống:" not in removed.split("Giỏ hàng")[-1]
    emptied = joined(await chat("s1", payload="clear"))
    assert "xóa hết" in emptied


async def test_checkout_step_by_step_to_an_order_code(chat, sessions):
    await chat("s1", text="mua 3 ký thanh long ruột đỏ hàm đức")
    assert "họ tên" in joined(await chat("s1", payload="checkout"))
    assert "điện thoại" in joined(await chat("s1", text="Nguyễn Thị Lan"))
    assert "Địa chỉ giao hàng" in joined(await chat("s1", text="0912 345 678"))
    assert "thanh toán" in joined(await chat("s1", text="12 Nguyễn Tất Thành, Phan Thiết, Lâm Đồng"))
    summary = joined(await chat("s1", payload="pay:cod"))
    assert "Nguyễn Thị Lan, 0912345678" in summary and "105.000\xa0₫" in summary
    done = joined(await chat("s1", payload="confirm"))
    code = CODE.search(done)
    assert code, done
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.code == code.group(0)))
        assert order is not None and order.total == 120000 and order.status == "routed"
        assert [(line.sku, line.name, line.unit, line.unit_price) for line in order.lines] == [
            ("TL-RD-HD", "Thanh long ruột đỏ Hàm Đức", "kg", 35000)
        ]
        events = (await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id))).all()
        assert [(e.from_status, e.to_status, e.by) for e in events] == [
            (None, "new", "buyer"),
            ("new", "routed", "system"),
        ]
        stock = await session.scalar(select(Product.stock).where(Product.sku == "TL-RD-HD"))
        assert stock == 797


async def test_one_message_with_every_slot_goes_straight_to_what_is_missing(chat):
    replies = await chat(
        "s1", text="mua 3kg thanh long ruột đỏ hàm đức, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết"
    )
    assert payloads(replies)[-2:] == ["pay:cod", "pay:vietqr"]  # payment is the one thing left to ask
    summary = joined(await chat("s1", payload="pay:cod"))
    assert "Lan, 0912345678" in summary and "12 Nguyễn Tất Thành, Phan Thiết" in summary


async def test_follow_and_cancel_an_order(chat, client):
    await chat("s1", text="mua 3kg cà chua, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết")
    await chat("s1", payload="pay:cod")
    code = CODE.search(joined(await chat("s1", payload="confirm"))).group(0)
    listed = joined(await chat("s1", text="đơn của tôi"))
    assert code in listed and "chờ HTX thương mại" in listed
    status = joined(await chat("s1", text=f"kiem tra don {code.lower()}"))
    assert "Cà chua: 3 kg" in status
    cancelled = joined(await chat("s1", text=f"hủy đơn {code}"))
    assert f"Đã hủy đơn {code}" in cancelled
    response = await client.get(f"/api/v1/orders/{code}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    order = await response.json()
    assert order["status"] == "cancelled"
    assert [(e["from"], e["to"]) for e in order["events"]] == [
        (None, "new"),
        ("new", "routed"),
        ("routed", "cancelled"),
    ]
    product = await (await client.get("/api/v1/products/RAU-CACHUA-TP")).json()
    assert product["stock"] == 250


async def test_cancel_menu_and_thoi_leave_any_step_and_keep_the_cart(chat):
    await chat("s1", text="mua 1 kg xà lách")
    await chat("s1", payload="checkout")
    stopped = joined(await chat("s1", text="thôi"))
    assert "Đã dừng" in stopped
    assert "Xà lách" in joined(await chat("s1", payload="cart"))
    await chat("s1", payload="checkout")
    assert "Xin chào" in joined(await chat("s1", text="menu"))
    assert "Đã dừng" in joined(await chat("s2", text="mua cà chua") and await chat("s2", text="hủy"))


async def test_the_conversation_survives_a_restart(chat, aiohttp_client, engine):
    from bot.app import create_app
    from tests.conftest import settings_for_tests

    await chat("s1", text="mua 1 kg xà lách")
    await chat("s1", payload="checkout")
    fresh = await aiohttp_client(create_app(settings_for_tests(), engine=engine))
    response = await fresh.post("/web/chat", json={"session": "s1", "text": "Trần Văn Bình"})
    assert "điện thoại" in joined((await response.json())["replies"])


async def test_orders_count_only_confirmed_checkouts(chat, sessions):
    await chat("s1", text="mua 1 kg xà lách")
    await chat("s1", payload="checkout")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_which_one_is_answered_by_number_or_by_name(chat):
    asked = await chat("s1", text="mua 2 kg thanh long ruột đỏ")
    assert "1. Thanh long ruột đỏ Hàm Đức" in joined(asked) and "2. Thanh long ruột đỏ hữu cơ Phú Hội" in joined(asked)
    assert "Thanh long ruột đỏ hữu cơ Phú Hội, 2 kg" in joined(await chat("s1", text="2"))
    await chat("s1", text="mua 1 kg thanh long ruot trang")
    assert "Thanh long ruột trắng Thuận Tiến, 1 kg" in joined(await chat("s1", text="cái thuận tiến"))


async def test_which_one_without_a_quantity_then_asks_how_many(chat):
    await chat("s1", text="có thanh long ruột trắng không")
    await chat("s1", text="mua thanh long ruột trắng")
    assert "bao nhiêu kg Thanh long ruột trắng Hàm Đức" in joined(await chat("s1", text="1"))
    assert "Thanh long ruột trắng Hàm Đức, 3 kg" in joined(await chat("s1", text="3"))
