"""Turning a cart into an order with stock reserved atomically, finding orders, and cancelling them."""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product
from orders.cart import NotEnoughStock, cart_lines, clear_cart, line_amount
from orders.models import Customer, Order, OrderLine
from orders.status import CANCELLED, PENDING, change_status

CODE_ALPHABET = string.digits + string.ascii_uppercase
CASH_ON_DELIVERY = "cod"
UNPAID = "unpaid"


@dataclass(frozen=True)
class Buyer:
    """Who receives the order and where."""

    name: str
    phone: str
    address: str


class EmptyCart(ValueError):
    """Checkout with nothing in the cart."""


class OrderNotFound(LookupError):
    """No order with that code belongs to this buyer."""


class CannotCancel(ValueError):
    """The order has gone too far (a partner accepted it) or is already closed."""

    def __init__(self, order: Order) -> None:
        super().__init__(f"{order.code} is {order.status}")
        self.order = order


def new_order_code() -> str:
    """A fresh order code, `DH` and six characters of 0-9A-Z."""
    return "DH" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


async def place_order(
    session: AsyncSession, customer: Customer, buyer: Buyer, payment_method: str = CASH_ON_DELIVERY
) -> Order:
    """Reserve stock for every cart line and store the order, all or nothing.

    Each reservation is one conditional UPDATE, so concurrent buyers can never oversell (DESIGN §6).
    Raises `EmptyCart`, or `NotEnoughStock` for the first line that no longer fits (nothing is kept).
    """
    lines = await cart_lines(session, customer)
    if not lines:
        raise EmptyCart()
    async with session.begin_nested():
        order = Order(
            code=await _unused_code(session),
            customer_id=customer.id,
            payment_method=payment_method,
            payment_status=UNPAID,
            buyer_name=buyer.name,
            buyer_phone=buyer.phone,
            buyer_address=buyer.address,
            shipping_fee=0,
        )
        # Lock products in one global order (by id) so two carts can never deadlock on PostgreSQL.
        for line in sorted(lines, key=lambda line: line.product_id):
            await _reserve(session, line.product, line.quantity)
        order.lines = [
            OrderLine(
                product_id=line.product.id,
                sku=line.product.sku,
                name=line.product.name,
                unit=line.product.unit,
                unit_price=line.product.price,
                quantity=line.quantity,
                amount=line_amount(line.product.price, line.quantity),
            )
            for line in lines
        ]
        order.subtotal = sum(line.amount for line in order.lines)
        order.total = order.subtotal + order.shipping_fee
        change_status(order, PENDING, by="buyer", note="buyer confirmed")
        session.add(order)
        await clear_cart(session, customer)
        await session.flush()
    return order


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


async def _release(session: AsyncSession, order: Order) -> None:
    for line in order.lines:
        await session.execute(
            update(Product)
            .where(Product.id == line.product_id)
            .values(stock=Product.stock + line.quantity)
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
    return order.status == PENDING


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
    await _release(session, order)
    await session.flush()
    return order
