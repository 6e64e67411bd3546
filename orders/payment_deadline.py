"""Bank-transfer orders not paid in time: the buyer is reminded once, then the order is cancelled and its stock
released.

The rule: `after` hours from confirming, an order whose transfer has not (fully) arrived is reminded, and asked to
pay within `grace` more hours; still not paid then, it is cancelled. Only orders the buyer could still cancel
(no partner has accepted them) are touched: once a partner has accepted, it sees "not paid yet" and decides.
Orders are claimed like the partner timeouts (`claim_orders`: `SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on
SQLite), so any number of processes may sweep at once and each order is reminded, and cancelled, exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import utcnow
from orders.lifecycle import claim_orders
from orders.models import Order
from orders.placing import BANK_TRANSFER, PARTIAL, UNPAID, flag_refund, release_stock
from orders.status import CANCELLED, TRANSITIONS, change_status

log = logging.getLogger(__name__)

# Who cancels an order whose transfer did not arrive in time (the `by` of its order event).
PAYMENT_DEADLINE = "payment deadline"
# Statuses an order can be cancelled from: the only ones the deadline applies to.
CANCELLABLE = frozenset(status for status, following in TRANSITIONS.items() if status and CANCELLED in following)


# The default rule's hours, also HTX_PAYMENT_DEADLINE_HOURS' and HTX_PAYMENT_GRACE_HOURS' defaults (bot/settings.py).
AFTER_HOURS = 24
GRACE_HOURS = 2


@dataclass(frozen=True)
class Deadline:
    """How long a transfer may take: reminded `after` confirming, cancelled `grace` after the reminder."""

    after: timedelta = timedelta(hours=AFTER_HOURS)
    grace: timedelta = timedelta(hours=GRACE_HOURS)

    def pay_by(self, order: Order) -> datetime:
        """The time the buyer is asked to pay by: the deadline, or once reminded, the end of the grace period."""
        if order.payment_reminded_at is not None:
            return order.payment_reminded_at + self.grace
        return order.created_at + self.after


# The default rule; `htx serve` reads its own from HTX_PAYMENT_DEADLINE_HOURS and HTX_PAYMENT_GRACE_HOURS.
DEADLINE = Deadline()


def still_to_pay(order: Order) -> int:
    """Đồng the buyer still has to transfer for the order."""
    return max(order.total - order.paid_amount, 0)


_WAITING = (
    (Order.payment_method == BANK_TRANSFER)
    & Order.payment_status.in_((UNPAID, PARTIAL))
    & Order.status.in_(CANCELLABLE)
)


async def remind_unpaid(
    session: AsyncSession, deadline: Deadline, now: datetime | None = None, limit: int = 50
) -> Sequence[Order]:
    """Mark transfer orders past the deadline and not reminded yet as reminded now, and return them: the caller
    tells their buyers in this same transaction, so each is told exactly once."""
    now = now or utcnow()
    due = _WAITING & Order.payment_reminded_at.is_(None) & (Order.created_at <= now - deadline.after)
    orders = await claim_orders(session, due, Order.created_at, limit)
    for order in orders:
        order.payment_reminded_at = now
    await session.flush()
    return orders


async def cancel_unpaid(
    session: AsyncSession, deadline: Deadline, now: datetime | None = None, limit: int = 50
) -> list[str]:
    """Cancel transfer orders still not paid `grace` after their reminder and give their stock back; money that
    came in part is flagged on its bank transactions for a person to refund. Returns the codes cancelled."""
    now = now or utcnow()
    due = _WAITING & (Order.payment_reminded_at <= now - deadline.grace)
    orders = await claim_orders(session, due, Order.payment_reminded_at, limit)
    for order in orders:
        change_status(order, CANCELLED, by=PAYMENT_DEADLINE, note="the bank transfer did not arrive in time")
        await flag_refund(session, order, "the transfer did not arrive in time")
        log.info("unpaid order cancelled", extra={"order": order.code, "paid": order.paid_amount})
    await release_stock(session, orders)
    await session.flush()
    return [order.code for order in orders]
