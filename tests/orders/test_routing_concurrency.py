"""A hundred buyers confirm while partners accept, reject and let orders expire, all at once on PostgreSQL.

Each buyer, each partner action and each expiry sweep is its own transaction. At the end no partner holds
more than its daily capacity, stock matches the orders that hold it, and every order's history is a gapless
path through the transition table that never goes back to a partner that turned the order down.
"""

from __future__ import annotations

import asyncio
import os
import zlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import make_engine, make_sessionmaker
from catalog.models import Product, utcnow, vietnam_day
from orders.cart import NotEnoughStock, add_to_cart
from orders.customers import get_or_create_customer
from orders.lifecycle import NotYourOrder, act, expire_overdue, partner_orders
from orders.models import Customer, Order, Partner
from orders.placing import Buyer, CannotCancel, Chat, NothingDeliverable, PlanChanged, cancel_order, place_order
from orders.status import (
    ACCEPTED,
    CANCELLED,
    ESCALATED,
    EXPIRED,
    REJECTED,
    ROUTED,
    TRANSITIONS,
    TransitionNotAllowed,
)
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="real concurrency needs PostgreSQL (HTX_TEST_DATABASE_URL)")

BUYERS = 100
# Connections for many transactions at once: up to 50, fewer when the server (max_connections 100 by default)
# is busy with other clients, and never fewer than 10.
POOL, MIN_POOL = 50, 10
BUYER = Buyer("Khách", "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng", "Phường Phan Thiết")
# SLOW is the cheapest, so the first choice, and never answers: its orders expire and move on.
PARTNERS: list[dict[str, Any]] = [
    {"code": "SLOW", "shipping_fee": 5_000, "daily_capacity": 15, "accept_timeout_minutes": 60},
    {"code": "PA", "shipping_fee": 10_000, "daily_capacity": 25, "accept_timeout_minutes": 600},
    {"code": "PB", "shipping_fee": 10_000, "daily_capacity": 25, "accept_timeout_minutes": 600},
    {"code": "PC", "shipping_fee": 12_000, "daily_capacity": 20, "accept_timeout_minutes": 600},
    {"code": "PD", "shipping_fee": 15_000, "daily_capacity": 20, "accept_timeout_minutes": 600},
]
# Four kinds of cart, so buyers contend on a few rows rather than queue on one. Each lists its higher product id
# first, the reverse of the order checkouts lock rows in: a cancel that released stock in line order would
# deadlock against a checkout.
SCARCE = "TL-HC-PH"
CARTS = [
    (("RAU-XALACH-TP", 1), (SCARCE, 1)),
    (("RAU-CACHUA-TP", 1), ("TL-RD-HD", 2)),
    (("RAU-CAINGOT-TP", 1), ("TL-RT-HD", 1)),
    (("RAU-MUONG-TP", 2), ("TL-RT-TT", 1)),
]
SCARCE_STOCK = 10  # a quarter of the buyers want one each
RETRYABLE = {"40001": "serialization failure", "40P01": "deadlock"}


class Run:
    """What happened during the run, for the assertions and the report."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.retried: list[str] = []
        self.buyers_done = asyncio.Event()


async def in_transaction(
    sessions: async_sessionmaker[AsyncSession], run: Run, work: Callable[[AsyncSession], Awaitable[Any]]
) -> Any:
    """Run `work` in its own transaction, again only if PostgreSQL reports a serialization failure or deadlock."""
    while True:
        try:
            async with sessions.begin() as session:
                return await work(session)
        except DBAPIError as error:
            code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
            if code not in RETRYABLE:
                raise
            run.retried.append(RETRYABLE[code])


async def routed_left(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Order).where(Order.status == ROUTED)) or 0)


async def settled(sessions: async_sessionmaker[AsyncSession], run: Run) -> bool:
    """Once buyers are done and nothing is routed, nothing can be routed again: the run is over."""
    return run.buyers_done.is_set() and await routed_left(sessions) == 0


async def buyer(sessions: async_sessionmaker[AsyncSession], run: Run, n: int, customer_id: int) -> None:
    async def confirm(session: AsyncSession) -> list[str]:
        customer = await session.get_one(Customer, customer_id)
        return [order.code for order in await place_order(session, customer, BUYER, Chat("web", f"buyer-{n}"))]

    for _ in range(5):
        try:
            codes = await in_transaction(sessions, run, confirm)
            break
        except PlanChanged:  # a partner filled up: the buyer is shown the new plan and confirms it
            run.outcomes["plan changed"] += 1
        except (NotEnoughStock, NothingDeliverable) as refused:
            run.outcomes[type(refused).__name__] += 1
            return
    else:
        run.outcomes["gave up"] += 1
        return
    run.outcomes["placed"] += 1
    if n % 6 == 0:

        async def cancel(session: AsyncSession) -> None:
            customer = await session.get_one(Customer, customer_id)
            for code in codes:
                await cancel_order(session, customer, code)

        try:
            await in_transaction(sessions, run, cancel)
            run.outcomes["cancelled"] += 1
        except CannotCancel:
            run.outcomes["too late to cancel"] += 1


def decision(code: str, partner: str) -> str:
    """A partner rejects about one order in three, the same one whenever the test runs on that code."""
    return REJECTED if zlib.crc32(f"{code}:{partner}".encode()) % 3 == 0 else ACCEPTED


async def partner_desk(sessions: async_sessionmaker[AsyncSession], run: Run, partner: Partner) -> None:
    """A partner working through its routed orders, one transaction per action."""
    while not await settled(sessions, run):
        async with sessions() as session:
            codes = [order.code for order in await partner_orders(session, partner, [ROUTED])]
        for code in codes:
            to = decision(code, partner.code)

            async def answer(session: AsyncSession, code: str = code, to: str = to) -> None:
                await act(session, partner, code, to)

            try:
                await in_transaction(sessions, run, answer)
                run.outcomes[to] += 1
            except (NotYourOrder, TransitionNotAllowed):  # the buyer cancelled it meanwhile
                run.outcomes["too late to answer"] += 1
        await asyncio.sleep(0.05)


async def expiry_sweeper(sessions: async_sessionmaker[AsyncSession], run: Run) -> None:
    """The expiry job, 90 minutes ahead: SLOW's orders (60 min) are due, the others' (600 min) are not."""
    while not await settled(sessions, run):

        async def sweep(session: AsyncSession) -> list[str]:
            return await expire_overdue(session, now=utcnow() + timedelta(minutes=90), limit=5)

        run.outcomes["expired"] += len(await in_transaction(sessions, run, sweep))
        await asyncio.sleep(0.05)


async def prepare(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[Partner], list[int], dict[int, Decimal]]:
    async with sessions.begin() as session:
        await session.execute(update(Partner).values(active=False))
        partners = [Partner(name=rules["code"], **rules) for rules in PARTNERS]
        session.add_all(partners)
        await session.execute(update(Product).where(Product.sku == SCARCE).values(stock=SCARCE_STOCK))
        products = {p.sku: p for p in (await session.scalars(select(Product))).all()}
        assert all(products[first].id > products[second].id for (first, _), (second, _) in CARTS)
        customers = []
        for n in range(BUYERS):
            customer = await get_or_create_customer(session, "web", f"buyer-{n}")
            for sku, quantity in CARTS[n % len(CARTS)]:
                await add_to_cart(session, customer, products[sku], Decimal(quantity))
            customers.append(customer.id)
        stock = {p.id: p.stock for p in products.values()}
    return partners, customers, stock


def assert_valid_history(order: Order, partners: dict[int, str], slow_id: int) -> None:
    events = order.events
    assert (events[0].from_status, events[0].to_status) == (None, "new"), order.code
    turned_down: set[int] = set()
    for before, event in zip([None, *events], events, strict=False):
        previous = before.to_status if before else None
        assert event.from_status == previous, (order.code, [(e.from_status, e.to_status) for e in events])
        assert event.to_status in TRANSITIONS[event.from_status], order.code
        if event.to_status not in (ROUTED, REJECTED, EXPIRED):
            continue
        partner = event.partner_id
        assert partner is not None, order.code
        if event.to_status == ROUTED:
            assert partner not in turned_down, f"{order.code} went back to {partners[partner]}"
        else:
            turned_down.add(partner)
        if event.to_status == EXPIRED:
            assert partner == slow_id, f"{order.code} expired at {partners[partner]} before its timeout"
    assert events[-1].to_status == order.status


async def check_invariants(sessions: async_sessionmaker[AsyncSession], initial: dict[int, Decimal]) -> Counter[str]:
    async with sessions() as session:
        orders = (await session.scalars(select(Order))).all()
        rows = (await session.scalars(select(Partner).where(Partner.code.in_([p["code"] for p in PARTNERS])))).all()
        stock_now = dict((await session.execute(select(Product.id, Product.stock))).all())

    statuses = Counter(order.status for order in orders)
    for order in orders:
        assert order.status in (ROUTED, ACCEPTED, ESCALATED, CANCELLED), (order.code, order.status)
        if order.status in (ROUTED, ACCEPTED):
            assert order.partner_id is not None, order.code
        if order.status == ESCALATED:
            assert order.partner_id is None, order.code

    names = {p.id: p.code for p in rows}
    slow_id = next(p.id for p in rows if p.code == "SLOW")
    for order in orders:
        assert_valid_history(order, names, slow_id)

    offered = Counter(e.partner_id for order in orders for e in order.events if e.to_status == ROUTED)
    for partner in rows:
        assert partner.daily_capacity is not None
        load = partner.load if partner.load_day == vietnam_day() else 0
        assert load <= partner.daily_capacity, partner.code
        # Capacity counts every order offered to the partner today, and only those.
        assert load == offered[partner.id], partner.code

    held: dict[int, Decimal] = defaultdict(Decimal)
    for order in orders:
        if order.status != CANCELLED:
            for line in order.lines:
                held[line.product_id] += line.quantity
    for product_id, before in initial.items():
        assert before - stock_now[product_id] == held[product_id], product_id
        assert stock_now[product_id] >= 0
    return statuses


async def pool_size(engine: AsyncEngine) -> int:
    """As many connections as the server can spare, keeping ten for everyone else; under pytest-xdist, no more
    than this worker's share of the server, as the other workers run their own tests at the same time."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    async with engine.connect() as connection:
        allowed, in_use = (
            await connection.execute(
                text(
                    "SELECT current_setting('max_connections')::int"
                    " - current_setting('superuser_reserved_connections')::int, count(*) FROM pg_stat_activity"
                )
            )
        ).one()
    return max(MIN_POOL, min(POOL, allowed - in_use - 10, allowed // workers - 10))


async def test_concurrent_checkouts_and_partner_answers_keep_capacity_stock_and_history_consistent(
    engine: AsyncEngine,
) -> None:
    assert POSTGRES_URL
    size = await pool_size(engine)
    big = make_engine(POSTGRES_URL, pool_size=size, max_overflow=0, pool_timeout=60)
    sessions = make_sessionmaker(big)
    try:
        # Open every connection now, so the run never waits for, or is refused, a new one.
        async with AsyncExitStack() as opened:
            for _ in range(size):
                await opened.enter_async_context(big.connect())
        partners, customers, initial = await prepare(sessions)
        run = Run()

        async def buyers() -> None:
            await asyncio.gather(*(buyer(sessions, run, n, cid) for n, cid in enumerate(customers)))
            run.buyers_done.set()

        acting = [p for p in partners if p.code != "SLOW"]
        await asyncio.wait_for(
            asyncio.gather(
                buyers(),
                *(partner_desk(sessions, run, p) for p in acting),
                expiry_sweeper(sessions, run),
                expiry_sweeper(sessions, run),
            ),
            timeout=60,
        )

        statuses = await check_invariants(sessions, initial)
    finally:
        await big.dispose()

    print(f"\npool {size}\noutcomes {dict(run.outcomes)}\nstatuses {dict(statuses)}\nretried {Counter(run.retried)}")
    assert "deadlock" not in run.retried, "lock ordering is broken somewhere"
    # The run did exercise every path it is meant to.
    assert run.outcomes["placed"] >= 50 and run.outcomes["NotEnoughStock"] > 0
    assert run.outcomes[REJECTED] > 0 and run.outcomes["expired"] > 0 and run.outcomes["cancelled"] > 0
    assert statuses[ACCEPTED] > 0 and statuses[ESCALATED] > 0
