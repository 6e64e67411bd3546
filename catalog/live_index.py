"""A search index kept in step with the database, reading only the products changed since the last look."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product, utcnow
from catalog.queries import search_entry
from catalog.search import ProductIndex

# Re-read products changed this long before the last look, so a transaction that committed late (or a
# process whose clock is a little behind) is never missed. Unchanged products cost one comparison.
OVERLAP = timedelta(seconds=60)
EVER = datetime(1970, 1, 1, tzinfo=UTC)

# Built once: every turn runs the first.
_CHANGED_SINCE = select(Product.id, Product.updated_at).where(Product.updated_at >= bindparam("since"))
_PRODUCTS = select(Product).where(Product.id.in_(bindparam("ids", expanding=True)))


class LiveIndex:
    """One per process: every turn asks for `current()`, which applies the catalogue's latest changes."""

    def __init__(self) -> None:
        self.index = ProductIndex()
        self._seen_until: datetime | None = None
        # Each product's `updated_at` as last read: a product inside the overlap but unchanged is not loaded again.
        self._versions: dict[int, datetime] = {}
        self._lock = asyncio.Lock()

    async def current(self, session: AsyncSession) -> ProductIndex:
        """The index with every product, alias, price or stock change up to now applied.

        It first reads only the ids and change times of recently changed products, and loads just those whose change
        time differs from the one already applied: in a rush every turn falls inside the overlap of many products
        whose stock moved, and loading them all whole, every turn, was a share of each turn's CPU.
        """
        async with self._lock:
            started = utcnow()
            since = EVER if self._seen_until is None else self._seen_until - OVERLAP
            stamps = await session.execute(_CHANGED_SINCE, {"since": since})
            changed = [id_ for id_, updated_at in stamps if self._versions.get(id_) != updated_at]
            if changed:
                for product in (await session.scalars(_PRODUCTS, {"ids": changed})).unique():
                    self._apply(product)
            self._seen_until = started
        return self.index

    def _apply(self, product: Product) -> None:
        entry = search_entry(product)
        if product.hidden:
            self.index.remove(entry.sku)  # hidden by its cooperative: buyers no longer find it
        elif self.index.entries.get(entry.sku) != entry:
            self.index.upsert(entry)
        self._versions[product.id] = product.updated_at
