"""An order after confirmation: given to a partner, accepted or rejected, shipped, delivered, or escalated.

Every function takes the order's row lock first, changes the status through `orders.status.change_status`
(one `order_events` row each), and leaves telling people to bot/order_news.py, which reads those events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from catalog.models import Product, utcnow, vietnam_day
from orders.models import Order, Partner
from orders.routing import Line, active_partners, plan, take_capacity
from orders.status import (
    ACCEPTED,
    DELIVERED,
    ESCALATED,
    EXPIRED,
    FAILED,
    NEW,
    REJECTED,
    RETURNED,
    ROUTED,
    SHIPPING,
    TransitionNotAllowed,
    change_status,
)

log = logging.getLogger(__name__)

# What a partner may do to its order, by chat or API.
PARTNER_ACTIONS = (ACCEPTED, REJECTED, SHIPPING, DELIVERED, FAILED, RETURNED)
SYSTEM = "system"
# How long an order may stay "new" before the sweep routes it (placing routes at once; only old data waits).
NEW_GRACE = timedelta(minutes=1)


class NotYourOrder(LookupError):
    """No order with that code is, or was, routed to this partner."""


@dataclass(frozen=True)
class Outcome:
    """What a partner's action did: the order as it is now, and whether anything changed."""

    order: Order
    changed: bool


async def lines_for_routing(session: AsyncSession, order: Order) -> list[Line]:
    """The order's lines with their products' categories, as `routing.plan` wants them."""
    ids = [line.product_id for line in order.lines]
    categories = dict((await session.execute(select(Product.id, Product.category).where(Product.id.in_(ids)))).all())
    return [Line(line.product_id, categories.get(line.product_id, ""), line.amount) for line in order.lines]


async def give_to(session: AsyncSession, order: Order, partner: Partner, by: str = SYSTEM) -> None:
    """Route the order to this partner (its capacity already taken) and start its acceptance clock."""
    order.partner_id, order.partner, order.routed_at = partner.id, partner, utcnow()
    order.accept_by = order.routed_at + timedelta(minutes=partner.accept_timeout_minutes)
    change_status(order, ROUTED, by=by, note=partner.code)


def tried_partners(order: Order) -> set[int]:
    """Partners that already rejected this order or let it expire: it never goes back to them."""
    return {e.partner_id for e in order.events if e.to_status in (REJECTED, EXPIRED) and e.partner_id is not None}


async def route_again(session: AsyncSession, order: Order, by: str = SYSTEM) -> Partner | None:
    """Give the order to the next eligible partner that takes all of it, or escalate it when none is left.

    The buyer keeps the shipping fee they agreed to, whatever the next partner charges.
    """
    day = vietnam_day()
    partners = list(await active_partners(session))
    excluded = tried_partners(order)
    lines = await lines_for_routing(session, order)
    while True:
        chosen = plan(lines, order.province, order.ward, partners, day, exclude=excluded)
        if len(chosen.parcels) != 1 or chosen.undeliverable:
            if order.status == ESCALATED:
                return None  # reassigned with still no partner: it stays with the cooperatives' managers
            order.partner_id, order.partner, order.routed_at, order.accept_by = None, None, None, None
            change_status(order, ESCALATED, by=by, note="no partner left to deliver it")
            log.warning("order escalated", extra={"order": order.code})
            return None
        partner = chosen.parcels[0].partner
        if await take_capacity(session, partner, day):
            await give_to(session, order, partner, by)
            return partner
        excluded.add(partner.id)  # full since it was read: try the next one


async def locked_order(session: AsyncSession, code: str) -> Order | None:
    """The order with that code, its row locked for this transaction (PostgreSQL)."""
    return await session.scalar(
        select(Order)
        .where(Order.code == code.strip().upper())
        .with_for_update(of=Order)
        .execution_options(populate_existing=True)
    )


async def act(
    session: AsyncSession,
    partner: Partner,
    code: str,
    to: str,
    note: str = "",
    tracking_number: str | None = None,
) -> Outcome:
    """A partner moves its order on: accepted, rejected, shipping, delivered, failed or returned.

    Asking for the status the order already has changes nothing (retries are safe); so does rejecting an
    order the partner has already rejected. Raises `NotYourOrder` for another partner's order (whether or
    not it exists), `TransitionNotAllowed` for anything the life cycle does not allow, and `ValueError`
    for an action partners cannot take.
    """
    if to not in PARTNER_ACTIONS:
        raise ValueError(f"a partner cannot set status {to!r}")
    order = await locked_order(session, code)
    if order is None:
        raise NotYourOrder(code)
    if order.partner_id != partner.id:
        if to == REJECTED and partner.id in tried_partners(order):
            return Outcome(order, changed=False)
        raise NotYourOrder(code)
    if order.status == to:
        return Outcome(order, changed=False)
    by = f"partner:{partner.code}"
    change_status(order, to, by=by, note=note)
    if to == SHIPPING and tracking_number:
        order.tracking_number = tracking_number
    if to == REJECTED:
        log.info("order rejected", extra={"order": order.code, "partner": partner.code})
        await route_again(session, order)
    await session.flush()
    return Outcome(order, changed=True)


async def expire_overdue(session: AsyncSession, now: datetime | None = None, limit: int = 50) -> list[str]:
    """Orders a partner did not accept within its timeout go to the next partner (or are escalated).

    Rows locked by another worker are skipped; PostgreSQL checks `accept_by` again once it holds a row, so an
    order another worker has just given to a new partner is not expired twice. Returns the codes moved on.
    """
    now = now or utcnow()
    due = await claim_orders(session, (Order.status == ROUTED) & (Order.accept_by <= now), Order.accept_by, limit)
    for order in due:
        minutes = order.partner.accept_timeout_minutes if order.partner else 0
        change_status(order, EXPIRED, by=SYSTEM, note=f"not accepted within {minutes} minutes")
        await route_again(session, order)
    await session.flush()
    return [order.code for order in due]


async def route_stale_new(session: AsyncSession, now: datetime | None = None, limit: int = 50) -> list[str]:
    """Give orders still "new" a minute after they were created (data migrated from before routing) to a
    partner, or escalate them. Returns their codes."""
    stale = (Order.status == NEW) & (Order.created_at <= (now or utcnow()) - NEW_GRACE)
    orders = await claim_orders(session, stale, Order.id, limit)
    for order in orders:
        await route_again(session, order)
    await session.flush()
    return [order.code for order in orders]


async def claim_orders(
    session: AsyncSession, condition: ColumnElement[bool], order_by: InstrumentedAttribute[Any], limit: int
) -> Sequence[Order]:
    """Lock up to `limit` orders meeting the condition, skipping rows another worker holds (PostgreSQL)."""
    query = (
        select(Order)
        .where(condition)
        .order_by(order_by)
        .limit(limit)
        .with_for_update(of=Order, skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).all()


async def reassign(session: AsyncSession, code: str, by: str) -> Order:
    """Route an escalated order again (a manager's decision, or partners added since); with still no partner
    for it, it stays escalated. `TransitionNotAllowed` unless it is escalated, `NotYourOrder` when there is no
    such order."""
    order = await locked_order(session, code)
    if order is None:
        raise NotYourOrder(code)
    if order.status != ESCALATED:
        raise TransitionNotAllowed(order, ROUTED)
    await route_again(session, order, by=by)
    await session.flush()
    return order


async def partner_orders(
    session: AsyncSession, partner: Partner, statuses: Sequence[str] = (), limit: int = 100, offset: int = 0
) -> Sequence[Order]:
    """A partner's own orders, newest first, optionally of some statuses only."""
    query = select(Order).where(Order.partner_id == partner.id)
    if statuses:
        query = query.where(Order.status.in_(statuses))
    return (await session.scalars(query.order_by(Order.id.desc()).limit(limit).offset(offset))).all()
