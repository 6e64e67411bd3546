"""An order's life after confirmation on a real database: partners accept, reject, ship; expiry; escalation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product, vietnam_day
from catalog.queries import get_product
from orders.cart import add_to_cart, cart_lines
from orders.customers import get_or_create_customer
from orders.lifecycle import NotYourOrder, act, expire_overdue, reassign
from orders.models import Order, Partner
from orders.placing import Buyer, Chat, PlanChanged, cancel_order, delivery_plan, place_order
from orders.status import TransitionNotAllowed

LAM_DONG = Buyer("Nguyễn Thị Lan", "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng", "Phường Phan Thiết")
FRUIT, VEG = "TL-RD-HD", "RAU-CACHUA-TP"


async def only_partners(session: AsyncSession, *rules: dict[str, Any]) -> list[Partner]:
    """Switch the demo partners off and add these, nationwide and carrying everything unless told."""
    await session.execute(update(Partner).values(active=False))
    partners = [Partner(name=rule["code"], **{"shipping_fee": 10_000, **rule}) for rule in rules]
    session.add_all(partners)
    await session.flush()
    return partners


async def place(session: AsyncSession, who: str = "lan", items: tuple[tuple[str, int], ...] = ((FRUIT, 3),)) -> Order:
    """One buyer's checkout that goes to a single partner."""
    [order] = await place_all(session, who, items)
    return order


async def place_all(session: AsyncSession, who: str, items: tuple[tuple[str, int], ...]) -> list[Order]:
    customer = await get_or_create_customer(session, "web", who)
    for sku, quantity in items:
        await add_to_cart(session, customer, await product(session, sku), Decimal(quantity))
    return await place_order(session, customer, LAM_DONG, Chat("web", who))


async def product(session: AsyncSession, sku: str) -> Product:
    found = await get_product(session, sku)
    assert found is not None
    return found


async def stock(session: AsyncSession, sku: str) -> Decimal:
    left = await session.scalar(select(Product.stock).where(Product.sku == sku))
    assert left is not None
    return left


def history(order: Order) -> list[tuple[str | None, str, str, int | None]]:
    return [(e.from_status, e.to_status, e.by, e.partner_id) for e in order.events]


async def test_the_owning_partner_accepts_ships_and_delivers(session):
    [first] = await only_partners(session, {"code": "FIRST"})
    order = await place(session)

    accepted = await act(session, first, order.code.lower(), "accepted")
    shipping = await act(session, first, order.code, "shipping", tracking_number="GHN123")
    delivered = await act(session, first, order.code, "delivered", note="đã giao")

    assert accepted.changed and shipping.changed and delivered.changed
    assert delivered.order.status == "delivered" and delivered.order.tracking_number == "GHN123"
    assert history(delivered.order) == [
        (None, "new", "buyer", None),
        ("new", "routed", "system", first.id),
        ("routed", "accepted", "partner:FIRST", first.id),
        ("accepted", "shipping", "partner:FIRST", first.id),
        ("shipping", "delivered", "partner:FIRST", first.id),
    ]
    assert delivered.order.events[-1].note == "đã giao"


async def test_repeating_an_action_changes_nothing(session):
    [first] = await only_partners(session, {"code": "FIRST"})
    order = await place(session)
    assert (await act(session, first, order.code, "accepted")).changed
    again = await act(session, first, order.code, "accepted")
    assert not again.changed and again.order.status == "accepted"
    assert [e.to_status for e in again.order.events] == ["new", "routed", "accepted"]


async def test_another_partner_cannot_tell_its_order_from_a_code_that_does_not_exist(session):
    first, other = await only_partners(session, {"code": "FIRST"}, {"code": "OTHER", "shipping_fee": 90_000})
    order = await place(session)
    for code in (order.code, "DH000000"):
        with pytest.raises(NotYourOrder):
            await act(session, other, code, "accepted")
    with pytest.raises(NotYourOrder):
        await act(session, first, "DH000000", "accepted")
    assert [e.to_status for e in order.events] == ["new", "routed"]


async def test_a_partner_can_neither_skip_steps_nor_set_a_status_of_the_buyer_or_the_system(session):
    [first] = await only_partners(session, {"code": "FIRST"})
    order = await place(session)
    with pytest.raises(TransitionNotAllowed):
        await act(session, first, order.code, "delivered")
    for status in ("cancelled", "escalated", "expired", "new", "routed"):
        with pytest.raises(ValueError):
            await act(session, first, order.code, status)
    assert order.status == "routed"


async def test_rejections_and_expiry_move_the_order_on_and_never_back_then_a_new_partner_takes_it(session):
    first, second, third = await only_partners(
        session,
        {"code": "FIRST", "shipping_fee": 10_000},
        {"code": "SECOND", "shipping_fee": 20_000, "accept_timeout_minutes": 60},
        {"code": "THIRD", "shipping_fee": 30_000, "accept_timeout_minutes": 600},
    )
    order = await place(session)
    assert order.partner_id == first.id and order.shipping_fee == 10_000

    rejected = await act(session, first, order.code, "rejected", note="hết xe")
    assert rejected.changed and rejected.order.partner_id == second.id
    assert await expire_overdue(session, now=order.routed_at + timedelta(minutes=61)) == [order.code]
    assert order.partner_id == third.id
    # FIRST repeating its rejection changes nothing; it can no longer accept.
    assert not (await act(session, first, order.code, "rejected")).changed
    with pytest.raises(NotYourOrder):
        await act(session, first, order.code, "accepted")
    with pytest.raises(NotYourOrder):
        await act(session, second, order.code, "accepted")

    escalated = await act(session, third, order.code, "rejected")
    assert escalated.order.status == "escalated" and escalated.order.partner_id is None
    assert history(order) == [
        (None, "new", "buyer", None),
        ("new", "routed", "system", first.id),
        ("routed", "rejected", "partner:FIRST", first.id),
        ("rejected", "routed", "system", second.id),
        ("routed", "expired", "system", second.id),
        ("expired", "routed", "system", third.id),
        ("routed", "rejected", "partner:THIRD", third.id),
        ("rejected", "escalated", "system", None),
    ]
    assert order.events[2].note == "hết xe" and order.events[4].note == "not accepted within 60 minutes"
    assert order.shipping_fee == 10_000  # the buyer keeps the fee they agreed to

    fourth = Partner(code="FOURTH", name="FOURTH", shipping_fee=50_000)
    session.add(fourth)
    await session.flush()
    reassigned = await reassign(session, order.code, by="coop:HAMDUC")
    assert reassigned.status == "routed" and reassigned.partner_id == fourth.id
    assert history(order)[-1] == ("escalated", "routed", "coop:HAMDUC", fourth.id)
    assert (await act(session, fourth, order.code, "accepted")).order.status == "accepted"


async def test_a_rejection_skips_a_partner_that_filled_up_since_it_was_read(session):
    first, second, third = await only_partners(
        session,
        {"code": "FIRST", "shipping_fee": 10_000},
        {"code": "SECOND", "shipping_fee": 20_000, "daily_capacity": 2},
        {"code": "THIRD", "shipping_fee": 30_000},
    )
    order = await place(session)
    # Filled by other checkouts: the Partner object this session holds still shows it empty.
    await session.execute(
        update(Partner)
        .where(Partner.id == second.id)
        .values(load=2, load_day=vietnam_day())
        .execution_options(synchronize_session=False)
    )
    outcome = await act(session, first, order.code, "rejected")
    assert outcome.order.partner_id == third.id
    assert await session.scalar(select(Partner.load).where(Partner.id == second.id)) == 2


async def test_reassign_refuses_an_order_that_is_not_escalated_or_unknown(session):
    await only_partners(session, {"code": "FIRST"})
    order = await place(session)
    with pytest.raises(TransitionNotAllowed):
        await reassign(session, order.code, by="coop:HAMDUC")
    with pytest.raises(NotYourOrder):
        await reassign(session, "DH000000", by="coop:HAMDUC")


async def test_reassign_with_still_no_partner_leaves_the_order_escalated(session):
    [first] = await only_partners(session, {"code": "FIRST"})
    order = await place(session)
    await act(session, first, order.code, "rejected")
    assert order.status == "escalated"
    again = await reassign(session, order.code, by="coop:HAMDUC")
    assert again.status == "escalated" and again.partner_id is None
    assert [e.to_status for e in order.events] == ["new", "routed", "rejected", "escalated"]


async def test_an_order_not_accepted_in_time_moves_to_the_next_partner(session):
    first, second = await only_partners(
        session,
        {"code": "FIRST", "shipping_fee": 10_000, "accept_timeout_minutes": 60},
        {"code": "SECOND", "shipping_fee": 20_000},
    )
    order = await place(session)
    routed_at = order.routed_at
    assert await expire_overdue(session, now=routed_at + timedelta(minutes=59)) == []
    assert order.partner_id == first.id
    assert await expire_overdue(session, now=routed_at + timedelta(minutes=60)) == [order.code]
    assert order.status == "routed" and order.partner_id == second.id
    assert [(e.to_status, e.by, e.partner_id) for e in order.events][-2:] == [
        ("expired", "system", first.id),
        ("routed", "system", second.id),
    ]
    with pytest.raises(NotYourOrder):
        await act(session, first, order.code, "accepted")


async def test_an_accepted_order_never_expires(session):
    [first] = await only_partners(session, {"code": "FIRST", "accept_timeout_minutes": 60})
    order = await place(session)
    await act(session, first, order.code, "accepted")
    assert await expire_overdue(session, now=order.routed_at + timedelta(days=3)) == []
    assert order.status == "accepted"


async def test_a_due_order_is_expired_even_behind_older_ones_that_are_not_due(session):
    slow, fast, spare = await only_partners(
        session,
        {"code": "SLOW", "provinces": ["Hà Nội"], "accept_timeout_minutes": 600},
        {"code": "FAST", "provinces": ["Lâm Đồng"], "accept_timeout_minutes": 60},
        {"code": "SPARE", "provinces": ["Lâm Đồng"], "shipping_fee": 90_000},
    )
    hanoi = Buyer("Trần Văn Bình", "0987654321", "1 Tràng Tiền", "Hà Nội")
    for n in range(5):
        customer = await get_or_create_customer(session, "web", f"hanoi-{n}")
        await add_to_cart(session, customer, await product(session, FRUIT), Decimal(1))
        [older] = await place_order(session, customer, hanoi, Chat("web", f"hanoi-{n}"))
        assert older.partner_id == slow.id
    order = await place(session)
    assert order.partner_id == fast.id

    assert await expire_overdue(session, now=order.routed_at + timedelta(minutes=90), limit=1) == [order.code]
    assert order.partner_id == spare.id


async def test_capacity_filled_before_confirmation_raises_plan_changed_and_keeps_nothing(session):
    _veg, fruit = await only_partners(
        session,
        {"code": "RAU", "categories": ["rau"], "shipping_fee": 10_000},
        {"code": "TRAICAY", "categories": ["thanh long"], "shipping_fee": 20_000, "daily_capacity": 5},
    )
    customer = await get_or_create_customer(session, "web", "lan")
    for sku in (VEG, FRUIT):
        await add_to_cart(session, customer, await product(session, sku), Decimal(2))
    shown = await delivery_plan(session, await cart_lines(session, customer), LAM_DONG)
    assert [code for code, *_ in shown.signature()] == ["RAU", "TRAICAY"]
    before = (await stock(session, VEG), await stock(session, FRUIT))
    # Another checkout fills TRAICAY between what the buyer was shown and their confirmation.
    await session.execute(
        update(Partner)
        .where(Partner.id == fruit.id)
        .values(load=5, load_day=vietnam_day())
        .execution_options(synchronize_session=False)
    )

    with pytest.raises(PlanChanged) as changed:
        await place_order(session, customer, LAM_DONG, Chat("web", "lan"), agreed=shown.signature())

    assert [code for code, *_ in changed.value.plan.signature()] == ["RAU"]
    assert (await stock(session, VEG), await stock(session, FRUIT)) == before
    assert await session.scalar(select(func.count()).select_from(Order)) == 0
    assert len(await cart_lines(session, customer)) == 2
    loads = dict((await session.execute(select(Partner.code, Partner.load).where(Partner.active))).all())
    assert loads == {"RAU": 0, "TRAICAY": 5}


async def test_stock_stays_reserved_through_rejection_expiry_and_escalation_and_comes_back_on_cancel(session):
    first, _second = await only_partners(
        session, {"code": "FIRST", "shipping_fee": 10_000}, {"code": "SECOND", "accept_timeout_minutes": 60}
    )
    initial = await stock(session, FRUIT)
    order = await place(session, items=((FRUIT, 3),))
    assert await stock(session, FRUIT) == initial - 3
    await act(session, first, order.code, "rejected")
    assert await stock(session, FRUIT) == initial - 3
    await expire_overdue(session, now=order.routed_at + timedelta(minutes=61))
    assert order.status == "escalated"
    assert await stock(session, FRUIT) == initial - 3

    customer = await get_or_create_customer(session, "web", "lan")
    cancelled = await cancel_order(session, customer, order.code)
    assert cancelled.status == "cancelled" and cancelled.events[-1].from_status == "escalated"
    assert await stock(session, FRUIT) == initial


async def test_delivered_goods_keep_their_stock_taken(session):
    [first] = await only_partners(session, {"code": "FIRST"})
    initial = await stock(session, VEG)
    order = await place(session, items=((VEG, 4),))
    for status in ("accepted", "shipping", "delivered"):
        await act(session, first, order.code, status)
    assert await stock(session, VEG) == initial - 4


async def test_a_failed_delivery_is_shipped_again_or_returned(session):
    [first] = await only_partners(session, {"code": "FIRST"})
    again = await place(session, "lan")
    back = await place(session, "binh")
    for order in (again, back):
        for status in ("accepted", "shipping", "failed"):
            await act(session, first, order.code, status)
    await act(session, first, again.code, "shipping")
    await act(session, first, again.code, "delivered")
    await act(session, first, back.code, "returned")
    assert [e.to_status for e in again.events][-4:] == ["shipping", "failed", "shipping", "delivered"]
    assert back.status == "returned"
    with pytest.raises(TransitionNotAllowed):
        await act(session, first, back.code, "shipping")
