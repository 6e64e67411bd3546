"""A buyer's cart: add, set, remove, list and empty, quantities in each product's sale unit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product
from orders.models import CartLine, Customer

# Larger than any household order; a buyer typing 10000 means a typo, not a truck.
MAX_LINE_QUANTITY = Decimal(5000)


class InvalidQuantity(ValueError):
    """Zero, negative or absurd quantity."""


class NotEnoughStock(ValueError):
    """More than the cooperative has; `available` says how much is left."""

    def __init__(self, product: Product, available: Decimal) -> None:
        super().__init__(f"{product.sku}: {available} left")
        self.product = product
        self.available = available


async def cart_lines(session: AsyncSession, customer: Customer) -> Sequence[CartLine]:
    """The lines of a cart, oldest first."""
    query = select(CartLine).where(CartLine.customer_id == customer.id).order_by(CartLine.id)
    return (await session.scalars(query)).all()


async def find_line(session: AsyncSession, customer: Customer, product: Product) -> CartLine | None:
    """The cart line for one product, or None."""
    return await session.scalar(
        select(CartLine).where(CartLine.customer_id == customer.id, CartLine.product_id == product.id)
    )


async def set_quantity(session: AsyncSession, customer: Customer, product: Product, quantity: Decimal) -> CartLine:
    """Make the cart hold exactly this quantity of a product, checking it against stock."""
    if quantity <= 0 or quantity > MAX_LINE_QUANTITY:
        raise InvalidQuantity(str(quantity))
    if quantity > product.stock:
        raise NotEnoughStock(product, product.stock)
    line = await find_line(session, customer, product)
    if line is None:
        line = CartLine(customer_id=customer.id, product=product, quantity=quantity)
        session.add(line)
    else:
        line.quantity = quantity
    await session.flush()
    return line


async def add_to_cart(session: AsyncSession, customer: Customer, product: Product, quantity: Decimal) -> CartLine:
    """Add a quantity of a product to what the cart already holds of it."""
    if quantity <= 0:
        raise InvalidQuantity(str(quantity))
    line = await find_line(session, customer, product)
    return await set_quantity(session, customer, product, quantity + (line.quantity if line else 0))


async def remove_from_cart(session: AsyncSession, customer: Customer, product: Product) -> bool:
    """Take a product out of the cart; False when it was not there."""
    result = await session.execute(
        delete(CartLine).where(CartLine.customer_id == customer.id, CartLine.product_id == product.id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def clear_cart(session: AsyncSession, customer: Customer) -> None:
    """Empty the cart."""
    await session.execute(delete(CartLine).where(CartLine.customer_id == customer.id))


async def remove_lines(session: AsyncSession, customer: Customer, product_ids: Collection[int]) -> None:
    """Take these products out of the cart (the ones just ordered), keeping the rest."""
    await session.execute(
        delete(CartLine).where(CartLine.customer_id == customer.id, CartLine.product_id.in_(list(product_ids)))
    )


def line_amount(unit_price: int, quantity: Decimal) -> int:
    """Price of a line in whole đồng, half rounded up."""
    return int((unit_price * quantity).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
