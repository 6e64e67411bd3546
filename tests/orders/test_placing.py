"""Placing and cancelling orders on a real database: snapshots, totals, events, stock."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from catalog.queries import get_product
from orders.cart import InvalidQuantity, NotEnoughStock, add_to_cart, cart_lines, set_quantity
from orders.customers import get_or_create_customer
from orders.models import Customer, Order
from orders.placing import Buyer, CannotCancel, Chat, EmptyCart, OrderNotFound, cancel_order, customer_orders
from orders.placing import place_order as place_orders
from orders.status import ACCEPTED, TransitionNotAllowed, change_status

BUYER = Buyer("Nguyễn Thị Lan", "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng", "Phường Phan Thiết")


async def place_order(session, customer: Customer, buyer: Buyer) -> Order:
    """Place the cart as one order (every demo product goes to one partner in Lâm Đồng)."""
    [order] = await place_orders(session, customer, buyer, Chat(customer.channel, customer.user_id))
    return order


async def test_place_order_reserves_stock_snapshots_lines_and_records_the_first_event(session):
    customer = await get_or_create_customer(session, "web", "lan")
    tomato = await get_product(session, "RAU-CACHUA-TP")
    box = await get_product(session, "TL-HOP-HL")
    await add_to_cart(session, customer, tomato, Decimal("1.5"))
    await add_to_cart(session, customer, box, Decimal(2))

    order = await place_order(session, customer, BUYER)

    assert re.fullmatch(r"DH[0-9A-Z]{6}", order.code)
    assert [(line.sku, line.quantity, line.unit_price, line.amount) for line in order.lines] == [
        ("RAU-CACHUA-TP", Decimal("1.5"), 30000, 45000),
        ("TL-HOP-HL", Decimal(2), 250000, 500000),
    ]
    assert (order.subtotal, order.shipping_fee, order.total) == (545000, 0, 545000)
    assert [(e.from_status, e.to_status) for e in order.events] == [(None, "new"), ("new", "routed")]
    assert order.partner.code == "TM-PHANTHIET" and order.checkout_code == order.code
    await session.refresh(tomato)
    await session.refresh(box)
    assert (tomato.stock, box.stock) == (Decimal("248.5"), Decimal(118))
    assert await cart_lines(session, customer) == []


async def test_an_order_keeps_its_price_when_the_catalogue_changes(session):
    customer = await get_or_create_customer(session, "web", "lan")
    lettuce = await get_product(session, "RAU-XALACH-TP")
    await add_to_cart(session, customer, lettuce, Decimal(1))
    order = await place_order(session, customer, BUYER)
    lettuce.price, lettuce.name = 99000, "Xà lách mới"
    await session.flush()
    assert (order.lines[0].name, order.lines[0].unit_price) == ("Xà lách", 40000)


async def test_checkout_with_an_empty_cart_is_refused(session):
    customer = await get_or_create_customer(session, "web", "lan")
    with pytest.raises(EmptyCart):
        await place_order(session, customer, BUYER)


async def test_not_enough_stock_at_confirmation_keeps_nothing(session):
    customer = await get_or_create_customer(session, "web", "lan")
    tomato = await get_product(session, "RAU-CACHUA-TP")
    lettuce = await get_product(session, "RAU-XALACH-TP")
    await add_to_cart(session, customer, tomato, Decimal(2))
    await add_to_cart(session, customer, lettuce, Decimal(5))
    lettuce.stock = Decimal(3)
    await session.flush()
    with pytest.raises(NotEnoughStock) as short:
        await place_order(session, customer, BUYER)
    assert short.value.available == 3
    await session.refresh(tomato)
    assert tomato.stock == 250
    assert len(await cart_lines(session, customer)) == 2


async def test_cart_refuses_zero_negative_and_more_than_the_stock(session):
    customer = await get_or_create_customer(session, "web", "lan")
    lettuce = await get_product(session, "RAU-XALACH-TP")
    for bad in (Decimal(0), Decimal(-2)):
        with pytest.raises(InvalidQuantity):
            await set_quantity(session, customer, lettuce, bad)
    with pytest.raises(NotEnoughStock) as short:
        await add_to_cart(session, customer, lettuce, Decimal(101))
    assert short.value.available == 100


async def test_cancelling_gives_the_stock_back_and_only_the_owner_can(session):
    lan = await get_or_create_customer(session, "web", "lan")
    binh = await get_or_create_customer(session, "web", "binh")
    tomato = await get_product(session, "RAU-CACHUA-TP")
    await add_to_cart(session, lan, tomato, Decimal(4))
    order = await place_order(session, lan, BUYER)
    with pytest.raises(OrderNotFound):
        await cancel_order(session, binh, order.code)
    cancelled = await cancel_order(session, lan, order.code.lower())
    assert cancelled.status == "cancelled"
    assert [(e.from_status, e.to_status, e.by) for e in cancelled.events][-1] == ("routed", "cancelled", "buyer")
    await session.refresh(tomato)
    assert tomato.stock == 250
    with pytest.raises(CannotCancel):
        await cancel_order(session, lan, order.code)


async def test_an_accepted_order_can_no_longer_be_cancelled_by_the_buyer(session):
    customer = await get_or_create_customer(session, "web", "lan")
    await add_to_cart(session, customer, await get_product(session, "RAU-CACHUA-TP"), Decimal(1))
    order = await place_order(session, customer, BUYER)
    change_status(order, ACCEPTED, by="partner:TM-PHANTHIET")
    await session.flush()
    with pytest.raises(CannotCancel):
        await cancel_order(session, customer, order.code)


async def test_status_transitions_follow_the_table(session):
    customer = await get_or_create_customer(session, "web", "lan")
    await add_to_cart(session, customer, await get_product(session, "RAU-CACHUA-TP"), Decimal(1))
    order = await place_order(session, customer, BUYER)
    with pytest.raises(TransitionNotAllowed):
        change_status(order, "delivered", by="test")


async def test_the_same_chat_account_is_one_customer(session):
    first = await get_or_create_customer(session, "web", "lan")
    again = await get_or_create_customer(session, "web", "lan")
    other_channel = await get_or_create_customer(session, "telegram", "lan")
    assert first.id == again.id != other_channel.id
    assert len((await session.scalars(select(Customer))).all()) == 2


async def test_the_same_phone_on_two_channels_sees_and_cancels_one_set_of_orders(session):
    web = await get_or_create_customer(session, "web", "lan")
    zalo = await get_or_create_customer(session, "zalo", "84912")
    stranger = await get_or_create_customer(session, "telegram", "999")
    await add_to_cart(session, web, await get_product(session, "RAU-CACHUA-TP"), Decimal(1))
    order = await place_order(session, web, BUYER)
    web.phone = zalo.phone = BUYER.phone
    await session.flush()
    assert [o.code for o in await customer_orders(session, zalo)] == [order.code]
    assert await customer_orders(session, stranger) == []
    assert (await cancel_order(session, zalo, order.code)).status == "cancelled"
