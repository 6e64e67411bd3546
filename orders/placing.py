"""Turning a cart into an order with stock reserved atomically, finding orders, and cancelling them."""

from __future__ import annotations

import secrets
import string
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product, vietnam_day
from orders.cart import NotEnoughStock, cart_lines, line_amount, remove_lines
from orders.lifecycle import give_to
from orders.models import BankTransaction, CartLine, Customer, Order, OrderLine
from orders.routing import Line, Plan, active_partners, plan, take_capacity
from orders.status import BUYER_CANCELLABLE, CANCELLED, NEW, change_status

CODE_ALPHABET = string.digits + string.ascii_uppercase
CASH_ON_DELIVERY = "cod"
BANK_TRANSFER = "vietqr"
# Payment statuses; a bank transfer (orders/payments.py) moves an order from UNPAID to PARTIAL, PAID or OVERPAID.
UNPAID = "unpaid"
PARTIAL = "partial"
PAID = "paid"
OVERPAID = "overpaid"


@dataclass(frozen=True)
class Buyer:
    """Who receives the order and where; province and ward (post-2025 units) decide who can deliver."""

    name: str
    phone: str
    address: str
    province: str | None = None
    ward: str | None = None


@dataclass(frozen=True)
class Chat:
    """Where the buyer confirmed: every update about the order goes back there, in that language."""

    channel: str
    chat_id: str
    locale: str = "vi"


class EmptyCart(ValueError):
    """Checkout with nothing in the cart."""


class OrderNotFound(LookupError):
    """No order with that code belongs to this buyer."""


class CannotCancel(ValueError):
    """The order has gone too far (a partner accepted it) or is already closed."""

    def __init__(self, order: Order) -> None:
        super().__init__(f"{order.code} is {order.status}")
        self.order = order


class PlanChanged(ValueError):
    """Delivery is no longer what the buyer was shown (a partner filled up, a price or rule changed)."""

    def __init__(self, plan: Plan) -> None:
        super().__init__("the delivery plan changed")
        self.plan = plan


class NothingDeliverable(ValueError):
    """No partner delivers any line of the cart to that address."""

    def __init__(self, plan: Plan) -> None:
        super().__init__("nothing in the cart can be delivered there")
        self.plan = plan


def new_order_code() -> str:
    """A fresh order code, `DH` and six characters of 0-9A-Z."""
    return "DH" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


async def delivery_plan(session: AsyncSession, lines: Sequence[CartLine], buyer: Buyer) -> Plan:
    """How these cart lines would be delivered to the buyer's address today."""
    routed = [
        Line(line.product_id, line.product.category, line_amount(line.product.price, line.quantity)) for line in lines
    ]
    return plan(routed, buyer.province, buyer.ward, await active_partners(session), vietnam_day())


async def place_order(
    session: AsyncSession,
    customer: Customer,
    buyer: Buyer,
    chat: Chat,
    agreed: list[list[object]] | None = None,
    payment_method: str = CASH_ON_DELIVERY,
) -> list[Order]:
    """Reserve stock, claim partner capacity and store one order per delivering partner, all or nothing.

    Each reservation and each capacity claim is one conditional UPDATE, so concurrent buyers can never
    oversell nor overfill a partner (DESIGN §6). With `agreed` (the `Plan.signature()` the buyer was shown),
    raises `PlanChanged` when delivery would now differ. Lines nobody delivers there stay in the cart.
    Raises `EmptyCart`, `NothingDeliverable`, or `NotEnoughStock` for the first line that no longer fits.
    """
    lines = await cart_lines(session, customer)
    if not lines:
        raise EmptyCart()
    chosen = await delivery_plan(session, lines, buyer)
    if agreed is not None and chosen.signature() != agreed:
        raise PlanChanged(chosen)
    if not chosen.parcels:
        raise NothingDeliverable(chosen)
    by_product = {line.product_id: line for line in lines}
    day = vietnam_day()
    orders: list[Order] = []
    async with session.begin_nested():
        # Lock rows in one global order (products by id, then partners by id) so two checkouts never deadlock.
        placed = sorted(pid for parcel in chosen.parcels for pid in parcel.product_ids)
        for product_id in placed:
            line = by_product[product_id]
            await _reserve(session, line.product, line.quantity)
        for parcel in sorted(chosen.parcels, key=lambda parcel: parcel.partner.id):
            if not await take_capacity(session, parcel.partner, day):
                raise PlanChanged(await delivery_plan(session, lines, buyer))
        for parcel in chosen.parcels:
            order = Order(
                code=await _unused_code(session),
                customer_id=customer.id,
                channel=chat.channel,
                chat_id=chat.chat_id,
                locale=chat.locale,
                payment_method=payment_method,
                payment_status=UNPAID,
                buyer_name=buyer.name,
                buyer_phone=buyer.phone,
                buyer_address=buyer.address,
                province=buyer.province,
                ward=buyer.ward,
                shipping_fee=parcel.fee,
            )
            order.checkout_code = orders[0].code if orders else order.code
            order.lines = [_snapshot(by_product[product_id]) for product_id in parcel.product_ids]
            order.subtotal = sum(line.amount for line in order.lines)
            order.total = order.subtotal + order.shipping_fee
            change_status(order, NEW, by="buyer", note="buyer confirmed")
            await give_to(session, order, parcel.partner)
            session.add(order)
            orders.append(order)
        await remove_lines(session, customer, placed)
        await session.flush()
    return orders


def _snapshot(line: CartLine) -> OrderLine:
    return OrderLine(
        product_id=line.product.id,
        sku=line.product.sku,
        name=line.product.name,
        unit=line.product.unit,
        unit_price=line.product.price,
        quantity=line.quantity,
        amount=line_amount(line.product.price, line.quantity),
    )


async def _reserve(session: AsyncSession, product: Product, quantity: Decimal) -> None:
    result = await session.execute(
        update(Product)
        .where(Product.id == product.id, Product.stock >= quantity)
        .values(stock=Product.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(product, ["stock"])
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotEnoughStock(product, product.stock)


async def release_stock(session: AsyncSession, orders: Sequence[Order]) -> None:
    """Give the orders' reserved quantities back to the products' stock."""
    held: dict[int, Decimal] = defaultdict(Decimal)
    for line in (line for order in orders for line in order.lines):
        held[line.product_id] += line.quantity
    # One update per product, in product id order, the order checkouts reserve in: releases and checkouts, however
    # many orders each holds, never wait on each other in a cycle.
    for product_id in sorted(held):
        await session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(stock=Product.stock + held[product_id])
            .execution_options(synchronize_session=False)
        )


async def _unused_code(session: AsyncSession) -> str:
    while True:
        code = new_order_code()
        if await session.scalar(select(Order.id).where(Order.code == code)) is None:
            return code


def owned_by(customer: Customer) -> ColumnElement[bool]:
    """Orders of this buyer on any channel: the same phone number, once they have ordered with it, is the same
    person on Zalo, Messenger, Telegram and the web chat."""
    if not customer.phone:
        return Order.customer_id == customer.id
    same_person = select(Customer.id).where(or_(Customer.id == customer.id, Customer.phone == customer.phone))
    return Order.customer_id.in_(same_person)


async def find_order(session: AsyncSession, code: str, customer: Customer | None = None) -> Order | None:
    """An order by code; with a customer, only if it is theirs."""
    query = select(Order).where(Order.code == code.upper())
    if customer is not None:
        query = query.where(owned_by(customer))
    return await session.scalar(query)


async def checkout_siblings(session: AsyncSession, order: Order) -> list[str]:
    """Codes of the orders placed in the same checkout as this one (a split cart), in order, itself included."""
    query = select(Order.code).where(Order.checkout_code == order.checkout_code).order_by(Order.id)
    return list((await session.scalars(query)).all())


async def customer_orders(session: AsyncSession, customer: Customer, limit: int = 5) -> Sequence[Order]:
    """A buyer's latest orders on every channel, newest first."""
    query = select(Order).where(owned_by(customer)).order_by(Order.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def list_orders(session: AsyncSession, limit: int = 100, offset: int = 0) -> Sequence[Order]:
    """All orders, newest first, for the admin API."""
    query = select(Order).order_by(Order.id.desc()).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


def can_cancel(order: Order) -> bool:
    """A buyer may cancel until a partner has accepted."""
    return order.status in BUYER_CANCELLABLE


async def cancel_order(session: AsyncSession, customer: Customer, code: str, by: str = "buyer") -> Order:
    """Cancel a buyer's own pending order and give its stock back; raises `OrderNotFound` or `CannotCancel`."""
    order = await session.scalar(
        select(Order).where(Order.code == code.upper(), owned_by(customer)).with_for_update(of=Order)
    )
    if order is None:
        raise OrderNotFound(code)
    if not can_cancel(order):
        raise CannotCancel(order)
    change_status(order, CANCELLED, by=by, note="cancelled by the buyer")
    await release_stock(session, [order])
    await flag_refund(session, order, "the buyer cancelled it")
    await session.flush()
    return order


async def flag_refund(session: AsyncSession, order: Order, why: str) -> None:
    """Money already transferred for an order that will not be delivered: its bank transactions wait for a
    person (`htx payments list`) to refund it. Nothing happens when nothing was paid."""
    if not order.paid_amount:
        return
    note = f"Refund {order.paid_amount} đ to the buyer: order {order.code} ({order.total} đ) was cancelled, {why}."
    await session.execute(
        update(BankTransaction)
        .where(BankTransaction.order_id == order.id)
        .values(needs_review=True, review_note=note)
        .execution_options(synchronize_session=False)
    )
