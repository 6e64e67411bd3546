"""Which partner trading cooperative delivers what: coverage, categories, minimum order, capacity, fees.

`plan` is a pure function over the partners' rules, so the buyer sees exactly the split and the fees that
placing the order will use; `take_capacity` claims one of a partner's daily orders with one conditional
UPDATE, so concurrent confirmations can never route more orders to a partner than it can take in a day.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.search import fold
from orders.models import Partner


@dataclass(frozen=True)
class Line:
    """What routing needs to know of one line: which product, its category and its amount in đồng."""

    product_id: int
    category: str
    amount: int


@dataclass(frozen=True)
class Parcel:
    """The lines one partner delivers, with the shipping fee it charges for them."""

    partner: Partner
    product_ids: tuple[int, ...]
    subtotal: int
    fee: int


@dataclass(frozen=True)
class Plan:
    """How a cart is delivered: one parcel per partner, and the products nobody delivers to that address."""

    parcels: tuple[Parcel, ...]
    undeliverable: tuple[int, ...]

    def signature(self) -> list[list[object]]:
        """What the buyer agreed to, comparable as JSON: partner, products and fee of every parcel."""
        return [[p.partner.code, list(p.product_ids), p.fee] for p in self.parcels]


def covers(partner: Partner, province: str | None, ward: str | None) -> bool:
    """Does the partner deliver to this province (and ward, when it lists wards)?"""
    if partner.provinces and (province is None or fold(province) not in {fold(p) for p in partner.provinces}):
        return False
    return not partner.wards or (ward is not None and fold(ward) in {fold(w) for w in partner.wards})


def carries(partner: Partner, category: str) -> bool:
    """Does the partner handle products of this category?"""
    return not partner.categories or fold(category) in {fold(c) for c in partner.categories}


def shipping_fee(partner: Partner, subtotal: int) -> int:
    """The partner's fee for a parcel of this value: flat, or free from its threshold."""
    if partner.free_shipping_from is not None and subtotal >= partner.free_shipping_from:
        return 0
    return partner.shipping_fee


def load_on(partner: Partner, day: date) -> int:
    """Orders routed to the partner on that day."""
    return partner.load if partner.load_day == day else 0


def has_capacity(partner: Partner, day: date) -> bool:
    """Can the partner take one more order that day?"""
    return partner.daily_capacity is None or load_on(partner, day) < partner.daily_capacity


def plan(
    lines: Sequence[Line],
    province: str | None,
    ward: str | None,
    partners: Iterable[Partner],
    day: date,
    exclude: Collection[int] = (),
) -> Plan:
    """The best delivery for these lines to that address.

    Among partners that cover the address and have capacity left, the one that takes every line (and
    whose minimum order the lines reach) with the lowest fee, then the least load, wins. When none takes
    every line, the lines are split: the partner taking the most lines first, and so on. Lines nobody can
    take are `undeliverable`.
    """
    candidates = [
        p for p in partners if p.active and p.id not in exclude and covers(p, province, ward) and has_capacity(p, day)
    ]
    deliverable = [line for line in lines if any(carries(p, line.category) for p in candidates)]
    undeliverable = tuple(line.product_id for line in lines if line not in deliverable)
    parcels: list[Parcel] = []
    rest = deliverable
    while rest:
        offers = []
        for partner in candidates:
            taken = [line for line in rest if carries(partner, line.category)]
            subtotal = sum(line.amount for line in taken)
            if taken and subtotal >= partner.min_order:
                fee = shipping_fee(partner, subtotal)
                offers.append((-len(taken), fee, load_on(partner, day), partner.code, partner, taken, subtotal))
        if not offers:
            undeliverable += tuple(line.product_id for line in rest)
            break
        *_, partner, taken, subtotal = min(offers, key=lambda offer: offer[:4])
        parcels.append(
            Parcel(partner, tuple(line.product_id for line in taken), subtotal, shipping_fee(partner, subtotal))
        )
        candidates.remove(partner)
        rest = [line for line in rest if line not in taken]
    return Plan(tuple(parcels), undeliverable)


async def active_partners(session: AsyncSession) -> Sequence[Partner]:
    """Every partner that takes orders, in code order."""
    return (await session.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.code))).all()


async def take_capacity(session: AsyncSession, partner: Partner, day: date) -> bool:
    """Count one more order for the partner that day, unless its daily capacity is reached. Returns success.

    Capacity counts the orders offered to a partner in a day, whatever it then did with them: a rejected
    order still took its time, and never giving capacity back keeps each routing to one partner row lock.
    """
    result = await session.execute(
        update(Partner)
        .where(
            Partner.id == partner.id,
            or_(
                Partner.daily_capacity.is_(None),
                Partner.load_day.is_(None),
                Partner.load_day != day,
                Partner.load < Partner.daily_capacity,
            ),
        )
        .values(load=case((Partner.load_day == day, Partner.load + 1), else_=1), load_day=day)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(partner, ["load", "load_day"])
    return bool(result.rowcount)  # type: ignore[attr-defined]
