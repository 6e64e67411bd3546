"""Finding or creating the buyer behind a chat account."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import Customer


async def get_or_create_customer(session: AsyncSession, channel: str, user_id: str) -> Customer:
    """The customer for a chat account, created on first contact (safe when two turns race to create it)."""
    query = select(Customer).where(Customer.channel == channel, Customer.user_id == user_id)
    customer = await session.scalar(query)
    if customer is not None:
        return customer
    try:
        async with session.begin_nested():
            customer = Customer(channel=channel, user_id=user_id)
            session.add(customer)
    except IntegrityError:
        customer = await session.scalar(query)
        assert customer is not None
    return customer
