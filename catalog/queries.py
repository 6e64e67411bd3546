"""Reading the catalogue: cooperatives, products, and the search index built from them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Cooperative, Product
from catalog.search import SearchEntry


async def list_cooperatives(session: AsyncSession) -> Sequence[Cooperative]:
    """Every producer cooperative, in the order they joined."""
    return (await session.scalars(select(Cooperative).order_by(Cooperative.id))).all()


async def list_products(
    session: AsyncSession, cooperative_code: str | None = None, include_hidden: bool = False
) -> Sequence[Product]:
    """Every product buyers can see (or all, for their cooperative's staff), optionally of one cooperative."""
    query = select(Product).order_by(Product.id)
    if cooperative_code:
        query = query.join(Product.cooperative).where(Cooperative.code == cooperative_code)
    if not include_hidden:
        query = query.where(Product.hidden.is_(False))
    return (await session.scalars(query)).unique().all()


async def get_product(session: AsyncSession, sku: str, include_hidden: bool = False) -> Product | None:
    """One product by SKU, or None (also when hidden from buyers, unless `include_hidden`)."""
    query = select(Product).where(Product.sku == sku)
    if not include_hidden:
        query = query.where(Product.hidden.is_(False))
    return await session.scalar(query)


async def get_cooperative(session: AsyncSession, code: str) -> Cooperative | None:
    """One cooperative by code, or None."""
    return await session.scalar(select(Cooperative).where(Cooperative.code == code))


def search_entry(product: Product) -> SearchEntry:
    """The part of a product that search reads."""
    return SearchEntry(
        sku=product.sku,
        name=product.name,
        cooperative_code=product.cooperative.code,
        cooperative_name=product.cooperative.name,
        category=product.category,
        aliases=tuple(product.aliases),
        unit=product.unit,
        unit_weight_kg=product.unit_weight_kg,
        sold_out=product.stock <= 0,
    )
