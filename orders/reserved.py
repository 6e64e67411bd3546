"""What orders mean for a cooperative: stock they hold, its open and recent orders, its sales."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product
from orders.models import Order, OrderLine
from orders.status import CANCELLED, CLOSED, HOLDING, RETURNED


async def reserved(session: AsyncSession, product_ids: Iterable[int]) -> dict[int, Decimal]:
    """For each product, the quantity open orders hold (0 when none)."""
    ids = list(product_ids)
    rows = await session.execute(
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.product_id.in_(ids), Order.status.in_(list(HOLDING)))
        .group_by(OrderLine.product_id)
    )
    held = {product_id: Decimal(total) for product_id, total in rows.all()}
    return {product_id: held.get(product_id, Decimal(0)) for product_id in ids}


async def orders_for_cooperative(
    session: AsyncSession, cooperative_id: int, since: datetime, limit: int = 20
) -> Sequence[Order]:
    """Orders holding any product of a cooperative that are still open, or were placed since `since`."""
    mine = (
        select(OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(Product.cooperative_id == cooperative_id)
    )
    query = (
        select(Order)
        .where(Order.id.in_(mine), or_(Order.status.not_in(list(CLOSED)), Order.created_at >= since))
        .order_by(Order.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def sales_by_product(
    session: AsyncSession, cooperative_id: int, since: datetime
) -> list[tuple[str, str, Decimal, int]]:
    """(name, unit, quantity, amount) sold per product of a cooperative since a moment, best-selling first.

    Orders that were cancelled, or whose goods came back, do not count.
    """
    rows = await session.execute(
        select(OrderLine.name, OrderLine.unit, func.sum(OrderLine.quantity), func.sum(OrderLine.amount))
        .join(Order, Order.id == OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Product.cooperative_id == cooperative_id,
            Order.created_at >= since,
            Order.status.not_in((CANCELLED, RETURNED)),
        )
        .group_by(OrderLine.name, OrderLine.unit)
        .order_by(func.sum(OrderLine.amount).desc())
    )
    return [(name, unit, Decimal(quantity), int(amount)) for name, unit, quantity, amount in rows.all()]
