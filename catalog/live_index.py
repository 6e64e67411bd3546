"""A search index kept in step with the database, reading only the products changed since the last look."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product, utcnow
from catalog.queries import search_entry
from catalog.search import ProductIndex

# Re-read products changed this long before the last look, so a transaction that committed late (or a
# process whose clock is a little behind) is never missed. Unchanged products cost one comparison.
OVERLAP = timedelta(seconds=60)


class LiveIndex:
    """One per process: every turn asks for `current()`, which applies the catalogue's latest changes."""

    def __init__(self) -> None:
        self.index = ProductIndex()
        self._seen_until: datetime | None = None
        self._lock = asyncio.Lock()

    async def current(self, session: AsyncSession) -> ProductIndex:
        """The index with every product, alias, price or stock change up to now applied."""
        async with self._lock:
            started = utcnow()
            query = select(Product)
            if self._seen_until is not None:
                query = query.where(Product.updated_at >= self._seen_until - OVERLAP)
            for product in (await session.scalars(query)).unique():
                entry = search_entry(product)
                if product.hidden:
                    self.index.remove(entry.sku)  # hidden by its cooperative: buyers no longer find it
                elif self.index.entries.get(entry.sku) != entry:
                    self.index.upsert(entry)
            self._seen_until = started
        return self.index
