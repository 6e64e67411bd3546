"""Stock held by open orders: taken out of a product's available stock when the buyer confirmed."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import Order, OrderLine
from orders.status import ACCEPTED, PENDING

# Orders whose goods have not left the cooperative yet.
HOLDING = (PENDING, ACCEPTED)


async def reserved(session: AsyncSession, product_ids: Iterable[int]) -> dict[int, Decimal]:
    """For each product, the quantity open orders hold (0 when none)."""
    ids = list(product_ids)
    rows = await session.execute(
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.product_id.in_(ids), Order.status.in_(HOLDING))
        .group_by(OrderLine.product_id)
    )
    held = {product_id: Decimal(total) for product_id, total in rows.all()}
    return {product_id: held.get(product_id, Decimal(0)) for product_id in ids}
