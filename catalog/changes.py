"""A cooperative's changes to its products (stock, harvests, prices, visibility), each an audit row."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Cooperative, Product, ProductChange
from catalog.search import words

# Changes this large are asked about before they are made: a typo of one zero is common on a phone.
SUSPICIOUS_STOCK_FACTOR = 10
SUSPICIOUS_PRICE_SHARE = Decimal("0.5")


class BelowReserved(ValueError):
    """The stock on hand would be less than what open orders already hold."""

    def __init__(self, reserved: Decimal) -> None:
        super().__init__(f"{reserved} reserved")
        self.reserved = reserved


async def locked(session: AsyncSession, product: Product) -> Product:
    """The product re-read under a row lock, so a buyer confirming at the same moment waits for this change."""
    fresh = await session.scalar(select(Product).where(Product.id == product.id).with_for_update(of=Product))
    assert fresh is not None
    return fresh


def looks_like_a_mistake(field: str, old: Decimal, new: Decimal) -> bool:
    """Stock ten times (or a tenth of) what it was, or a price moved by more than half: ask first."""
    if old <= 0 or new <= 0:
        return False
    if field == "stock":
        return new >= old * SUSPICIOUS_STOCK_FACTOR or new * SUSPICIOUS_STOCK_FACTOR <= old
    return abs(new - old) / old > SUSPICIOUS_PRICE_SHARE


async def set_on_hand(
    session: AsyncSession, product: Product, on_hand: Decimal, reserved: Decimal, actor: str
) -> Decimal:
    """Record how much the cooperative now has; buyers can get what open orders do not already hold.

    Returns the new available stock; raises `BelowReserved` when `on_hand` is less than `reserved`.
    """
    if on_hand < reserved:
        raise BelowReserved(reserved)
    return await _set(session, product, "stock", product.stock, on_hand - reserved, actor)


async def add_harvest(session: AsyncSession, product: Product, quantity: Decimal, actor: str) -> Decimal:
    """Add a harvest to the available stock (it also sets the default low-stock level). Returns the new stock."""
    product.last_harvest = quantity
    return await _set(session, product, "stock", product.stock, product.stock + quantity, actor)


async def set_low_stock_level(session: AsyncSession, product: Product, level: Decimal, actor: str) -> None:
    """Below this stock the cooperative's accounts are told, once until the stock is back above it."""
    await _set(session, product, "low_stock_at", product.low_stock_at or Decimal(0), level, actor)
    product.low_stock_at = level


def low_stock_level(product: Product) -> Decimal | None:
    """The level set by the cooperative, else 10% of the last harvest entered, else none."""
    if product.low_stock_at is not None:
        return product.low_stock_at
    return product.last_harvest * Decimal("0.1") if product.last_harvest else None


def take_low_stock_alert(product: Product) -> bool:
    """True exactly once when the stock has fallen below its level; re-armed when it is back above."""
    level = low_stock_level(product)
    if level is None or product.stock >= level:
        product.low_stock_alerted = False
        return False
    if product.low_stock_alerted:
        return False
    product.low_stock_alerted = True
    return True


async def set_price(session: AsyncSession, product: Product, price: int, actor: str) -> None:
    """Change the price buyers see from now on (confirmed orders keep theirs)."""
    await _set(session, product, "price", Decimal(product.price), Decimal(price), actor)
    product.price = price


async def set_hidden(session: AsyncSession, product: Product, hidden: bool, actor: str) -> None:
    """Hide a product from buyers, or show it again."""
    if product.hidden != hidden:
        session.add(
            ProductChange(product_id=product.id, actor=actor, field="hidden", old=str(product.hidden), new=str(hidden))
        )
        product.hidden = hidden
        await session.flush()


async def _set(session: AsyncSession, product: Product, field: str, old: Decimal, new: Decimal, actor: str) -> Decimal:
    session.add(ProductChange(product_id=product.id, actor=actor, field=field, old=_text(old), new=_text(new)))
    if field == "stock":
        product.stock = new
    await session.flush()
    return new


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


async def history(session: AsyncSession, product: Product, limit: int = 10) -> Sequence[ProductChange]:
    """The latest changes to a product, newest first."""
    query = select(ProductChange).where(ProductChange.product_id == product.id)
    return (await session.scalars(query.order_by(ProductChange.id.desc()).limit(limit))).all()


async def add_product(
    session: AsyncSession,
    cooperative: Cooperative,
    *,
    name: str,
    unit: str,
    price: int,
    stock: Decimal,
    certifications: list[str],
    image_url: str | None,
    actor: str,
) -> Product:
    """A new product of the cooperative, with an SKU made from its code and name (kept unique)."""
    base = f"{cooperative.code}-" + "-".join(words(name))[:40].upper().strip("-")
    sku, n = base, 1
    while await session.scalar(select(Product.id).where(Product.sku == sku)) is not None:
        n += 1
        sku = f"{base}-{n}"
    product = Product(
        sku=sku,
        cooperative=cooperative,
        name=name,
        category=name,
        aliases=[],
        unit=unit,
        unit_weight_kg=Decimal(1) if unit == "kg" else None,
        price=price,
        stock=stock,
        certifications=certifications,
        ocop_stars=None,
        image_url=image_url,
        origin=f"{cooperative.name}, {cooperative.province}".strip(", "),
    )
    session.add(product)
    await session.flush()
    session.add(ProductChange(product_id=product.id, actor=actor, field="created", old="", new=sku))
    await session.flush()
    return product
