"""Harvest batches: readable unique codes, suffixes for more batches a day, date bounds, concurrent recording."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from catalog.harvests import MAX_AGE_DAYS, HarvestRefused, record_batch
from catalog.models import HarvestBatch, Product, vietnam_day
from tests.conftest import POSTGRES_URL


async def _product(session, sku: str = "TL-RD-HD") -> Product:
    product = await session.scalar(select(Product).where(Product.sku == sku))
    assert product is not None
    return product


async def test_a_batch_code_is_the_sku_and_the_harvest_day(session):
    product = await _product(session)
    day = vietnam_day() - timedelta(days=10)
    batch = await record_batch(session, product, day, Decimal(200), "test")
    assert batch.code == f"TL-RD-HD-{day:%y%m%d}"
    assert (batch.product_id, batch.harvested_on, batch.quantity, batch.recorded_by) == (product.id, day, 200, "test")


async def test_more_batches_the_same_day_get_suffixes(session):
    product = await _product(session)
    day = vietnam_day() - timedelta(days=10)
    codes = [(await record_batch(session, product, day, Decimal(50), "test")).code for _ in range(3)]
    base = f"TL-RD-HD-{day:%y%m%d}"
    assert codes == [base, f"{base}-2", f"{base}-3"]


async def test_a_code_taken_by_an_imported_batch_moves_on_to_the_next_suffix(session):
    product = await _product(session)
    day = vietnam_day() - timedelta(days=10)
    base = f"TL-RD-HD-{day:%y%m%d}"
    await record_batch(session, await _product(session, "TL-RT-HD"), day, Decimal(5), "import", code=f"{base}-1X")
    await record_batch(session, await _product(session, "TL-RT-HD"), day, Decimal(5), "import", code=base)
    assert (await record_batch(session, product, day, Decimal(50), "test")).code == f"{base}-2"


async def test_an_explicit_code_already_used_is_refused(session):
    product = await _product(session)
    day = vietnam_day() - timedelta(days=10)
    await record_batch(session, product, day, Decimal(1), "import", code="lo-1")
    with pytest.raises(HarvestRefused) as refused:
        await record_batch(session, product, day, Decimal(1), "import", code="LO-1")
    assert refused.value.reason == "code_taken"


async def test_a_harvest_in_the_future_or_too_long_ago_is_refused(session):
    product, today = await _product(session), vietnam_day()
    for day, reason in ((today + timedelta(days=1), "future"), (today - timedelta(days=MAX_AGE_DAYS + 1), "too_old")):
        with pytest.raises(HarvestRefused) as refused:
            await record_batch(session, product, day, Decimal(10), "test")
        assert refused.value.reason == reason
    assert (await record_batch(session, product, today - timedelta(days=MAX_AGE_DAYS), Decimal(10), "test")).code


async def test_the_import_may_record_an_old_harvest_but_not_a_future_one(session):
    product, today = await _product(session), vietnam_day()
    old = await record_batch(session, product, today - timedelta(days=400), Decimal(10), "import", max_age_days=None)
    assert old.harvested_on == today - timedelta(days=400)
    with pytest.raises(HarvestRefused):
        await record_batch(session, product, today + timedelta(days=1), Decimal(10), "import", max_age_days=None)


async def test_a_quantity_that_is_not_positive_is_refused(session):
    with pytest.raises(HarvestRefused) as refused:
        await record_batch(session, await _product(session), vietnam_day(), Decimal(0), "test")
    assert refused.value.reason == "quantity"


@pytest.mark.skipif(not POSTGRES_URL, reason="concurrent writers need PostgreSQL (SQLite serialises them)")
async def test_two_people_recording_the_same_product_and_day_at_once_both_get_a_code(sessions):
    day = vietnam_day() - timedelta(days=7)
    started = asyncio.Event()

    async def record(who: str) -> str:
        async with sessions.begin() as session:
            product = await _product(session)
            await started.wait()
            batch = await record_batch(session, product, day, Decimal(10), who)
            await asyncio.sleep(0.2)  # hold the transaction open so the other insert meets the unique constraint
            return batch.code

    tasks = [asyncio.create_task(record(f"test:{n}")) for n in range(4)]
    await asyncio.sleep(0.1)
    started.set()
    codes = await asyncio.gather(*tasks)
    base = f"TL-RD-HD-{day:%y%m%d}"
    assert sorted(codes) == sorted([base, f"{base}-2", f"{base}-3", f"{base}-4"])
    async with sessions.begin() as session:
        stored = await session.scalars(select(HarvestBatch.code).where(HarvestBatch.harvested_on == day))
        assert sorted(stored) == sorted(codes)
        await session.execute(delete(HarvestBatch).where(HarvestBatch.harvested_on == day))
