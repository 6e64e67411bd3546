"""Recording harvest batches (lô thu hoạch) with their readable codes, for chat (/nhap) and the origin import alike."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import HarvestBatch, Product, vietnam_day

log = logging.getLogger(__name__)

# A harvest recorded by chat lies at most this many days back: an older date is most likely a typo ("20/1" for
# "20/11"); the import, which records history on purpose, passes no bound.
MAX_AGE_DAYS = 60
# Suffixes tried for one product and day before giving up (two people would have to record 50 batches at once).
MAX_ATTEMPTS = 50


class HarvestRefused(ValueError):
    """A batch that cannot be recorded; `reason` is "future", "too_old", "quantity" or "code_taken"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def batch_code(product: Product, harvested_on: date, number: int = 1) -> str:
    """The readable code of a product's `number`-th batch of a day: "TL-RD-HD-261126", then "TL-RD-HD-261126-2"."""
    base = f"{product.sku}-{harvested_on:%y%m%d}".upper()
    return base if number == 1 else f"{base}-{number}"


def check_harvest_day(harvested_on: date, today: date, max_age_days: int | None = MAX_AGE_DAYS) -> None:
    """Refuse a harvest day in the future (by Vietnam's calendar) or, with a bound, too far back."""
    if harvested_on > today:
        raise HarvestRefused("future", f"harvest date {harvested_on.isoformat()} is in the future")
    if max_age_days is not None and harvested_on < today - timedelta(days=max_age_days):
        raise HarvestRefused("too_old", f"harvest date {harvested_on.isoformat()} is more than {max_age_days} days ago")


async def record_batch(
    session: AsyncSession,
    product: Product,
    harvested_on: date,
    quantity: Decimal,
    actor: str,
    *,
    code: str | None = None,
    max_age_days: int | None = MAX_AGE_DAYS,
) -> HarvestBatch:
    """Create a harvest batch of the product with its readable unique code (or the explicit `code` given).

    Two people recording the same product and day at once both succeed: each insert runs in a savepoint, and a
    code taken meanwhile (the unique constraint) moves on to the next suffix. Raises `HarvestRefused`.
    """
    check_harvest_day(harvested_on, vietnam_day(), max_age_days)
    if quantity <= 0:
        raise HarvestRefused("quantity", f"harvest quantity {quantity} is not positive")
    if code is not None:
        codes = [code.strip().upper()]
    else:
        same_day = HarvestBatch.product_id == product.id, HarvestBatch.harvested_on == harvested_on
        first = 1 + (await session.scalar(select(func.count()).select_from(HarvestBatch).where(*same_day)) or 0)
        codes = [batch_code(product, harvested_on, number) for number in range(first, first + MAX_ATTEMPTS)]
    for candidate in codes:
        batch = await _insert(session, product, candidate, harvested_on, quantity, actor)
        if batch is not None:
            log.info("harvest batch recorded", extra={"sku": product.sku, "batch": candidate})
            return batch
    raise HarvestRefused("code_taken", f"batch code {codes[-1]} is already used")


async def _insert(
    session: AsyncSession, product: Product, code: str, harvested_on: date, quantity: Decimal, actor: str
) -> HarvestBatch | None:
    """The new batch, or None when its code is taken (the savepoint is rolled back, the transaction goes on)."""
    batch = HarvestBatch(code=code, product=product, harvested_on=harvested_on, quantity=quantity, recorded_by=actor)
    try:
        async with session.begin_nested():
            session.add(batch)
    except IntegrityError:
        return None
    return batch
