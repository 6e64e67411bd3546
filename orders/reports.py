"""What one Vietnam day meant for a partner and for a producer cooperative: the queries behind daily summaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, distinct, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.accounts import OWNER
from catalog.models import VIETNAM, CoopAccount, Cooperative, Product
from orders.models import Order, OrderEvent, OrderLine, Partner, PartnerAccount
from orders.placing import CASH_ON_DELIVERY, UNPAID
from orders.status import ACCEPTED, CANCELLED, CLOSED, DELIVERED, ESCALATED, FAILED, ROUTED, SHIPPING

# What a partner still has to do, in the order its summary lists them.
PARTNER_WAITING = (ROUTED, ACCEPTED, SHIPPING, FAILED)
# Codes listed per group; the rest is only counted, so a summary stays one chat message.
CODES_SHOWN = 10


def vietnam_span(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """The UTC moments where Vietnam day `first` starts and the day after `last` (default `first`) starts."""
    start = datetime.combine(first, time(), VIETNAM).astimezone(UTC)
    end = datetime.combine((last or first) + timedelta(days=1), time(), VIETNAM).astimezone(UTC)
    return start, end


@dataclass(frozen=True)
class Tally:
    """How many orders, and how many đồng they are worth."""

    count: int = 0
    amount: int = 0


@dataclass(frozen=True)
class Codes:
    """Order codes of one group, oldest first: at most `CODES_SHOWN` of them, and how many there are in all."""

    total: int = 0
    codes: tuple[str, ...] = ()

    @property
    def more(self) -> int:
        """Orders counted but not listed."""
        return self.total - len(self.codes)


@dataclass(frozen=True)
class PartnerDay:
    """A partner's day: orders routed to it (amount: cash it collects), delivered, and what still waits on it."""

    partner: Partner
    day: date
    routed: Tally
    delivered: Tally
    waiting: dict[str, Codes] = field(default_factory=dict)

    @property
    def open(self) -> int:
        """Orders still waiting on the partner, whatever day they came."""
        return sum(codes.total for codes in self.waiting.values())

    @property
    def empty(self) -> bool:
        """Nothing happened and nothing waits: no summary is worth sending."""
        return not (self.routed.count or self.delivered.count or self.open)


@dataclass(frozen=True)
class CooperativeDay:
    """A producer cooperative's day: orders holding its products (amount: its own lines), and its open orders."""

    cooperative: Cooperative
    day: date
    ordered: Tally
    waiting: Codes
    escalated: Codes

    @property
    def empty(self) -> bool:
        """Nothing ordered and nothing open."""
        return not (self.ordered.count or self.waiting.total or self.escalated.total)


async def partners_with_chats(session: AsyncSession) -> Sequence[Partner]:
    """Partners with at least one linked chat, in code order: who can receive a summary."""
    linked = exists().where(PartnerAccount.partner_id == Partner.id)
    return (await session.scalars(select(Partner).where(linked).order_by(Partner.code))).all()


async def cooperatives_with_owners(session: AsyncSession) -> Sequence[Cooperative]:
    """Cooperatives with at least one owner account, in code order."""
    owned = exists().where(CoopAccount.cooperative_id == Cooperative.id, CoopAccount.role == OWNER)
    return (await session.scalars(select(Cooperative).where(owned).order_by(Cooperative.code))).all()


async def partner_day(session: AsyncSession, partner: Partner, day: date, shown: int = CODES_SHOWN) -> PartnerDay:
    """The partner's day: orders routed to it that day and kept (not cancelled), orders it delivered that day,
    and its orders routed but not accepted, accepted but not shipped, shipping, or failed."""
    start, end = vietnam_span(day)
    mine = Order.partner_id == partner.id
    collect = func.coalesce(
        func.sum(Order.total).filter(Order.payment_method == CASH_ON_DELIVERY, Order.payment_status == UNPAID), 0
    )
    routed_count, to_collect = (
        await session.execute(
            select(func.count(Order.id), collect).where(
                mine, Order.routed_at >= start, Order.routed_at < end, Order.status != CANCELLED
            )
        )
    ).one()
    delivered_today = select(OrderEvent.order_id).where(
        OrderEvent.to_status == DELIVERED, OrderEvent.at >= start, OrderEvent.at < end
    )
    delivered_count, delivered_total = (
        await session.execute(
            select(func.count(Order.id), func.coalesce(func.sum(Order.total), 0)).where(
                mine, Order.status == DELIVERED, Order.id.in_(delivered_today)
            )
        )
    ).one()
    waiting = {
        status: await _codes(session, select(Order.code).where(mine, Order.status == status), shown)
        for status in PARTNER_WAITING
    }
    return PartnerDay(partner, day, Tally(routed_count, to_collect), Tally(delivered_count, delivered_total), waiting)


async def cooperative_day(
    session: AsyncSession, cooperative: Cooperative, day: date, shown: int = CODES_SHOWN
) -> CooperativeDay:
    """The cooperative's day: orders placed that day holding its products (not cancelled), with the amount of its
    own lines; its open orders (not delivered, returned or cancelled), the escalated ones apart."""
    start, end = vietnam_span(day)
    its_lines = (
        select(OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(Product.cooperative_id == cooperative.id)
    )
    ordered_count, ordered_amount = (
        await session.execute(
            select(func.count(distinct(Order.id)), func.coalesce(func.sum(OrderLine.amount), 0))
            .select_from(OrderLine)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Product, Product.id == OrderLine.product_id)
            .where(
                Product.cooperative_id == cooperative.id,
                Order.created_at >= start,
                Order.created_at < end,
                Order.status != CANCELLED,
            )
        )
    ).one()
    holding: ColumnElement[bool] = Order.id.in_(its_lines)
    waiting = select(Order.code).where(holding, Order.status.not_in([*CLOSED, ESCALATED]))
    escalated = select(Order.code).where(holding, Order.status == ESCALATED)
    return CooperativeDay(
        cooperative,
        day,
        Tally(ordered_count, ordered_amount),
        await _codes(session, waiting, shown),
        await _codes(session, escalated, shown),
    )


async def _codes(session: AsyncSession, query: Select[str], shown: int) -> Codes:
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    codes = (await session.scalars(query.order_by(Order.created_at, Order.id).limit(shown))).all()
    return Codes(total or 0, tuple(codes))
