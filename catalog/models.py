"""Tables of the catalogue, and the declarative `Base` every package's tables share."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
# https://docs.sqlalchemy.org/en/20/core/constraints.html#configuring-constraint-naming-conventions
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Quantity = Numeric(12, 3)


VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the data layer uses."""
    return datetime.now(UTC)


def vietnam_day(moment: datetime | None = None) -> date:
    """The calendar day in Vietnam at a moment (now by default): daily capacities and summaries count by it."""
    return (moment or utcnow()).astimezone(VIETNAM).date()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every database: SQLite drops the zone, so UTC is put back on load.

    https://docs.sqlalchemy.org/en/20/core/custom_types.html#store-timezone-aware-timestamps-as-timezone-naive-utc
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base shared by catalog, orders and bot tables."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON, datetime: UTCDateTime}


class Cooperative(Base):
    """A producer cooperative (HTX) that sells through the bot."""

    __tablename__ = "cooperatives"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # Shown on traceability pages (Circular 02/2024/TT-BKHCN: the producer's name, address and contact).
    address: Mapped[str] = mapped_column(Text, default="", server_default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    # Business registration or tax code of the cooperative.
    registration_code: Mapped[str | None] = mapped_column(String(32))

    products: Mapped[list[Product]] = relationship(back_populates="cooperative", order_by="Product.id")


class Product(Base):
    """One thing a cooperative sells, in its sale unit (kg, hộp, bó ...), priced in integer đồng."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100))
    aliases: Mapped[list[str]] = mapped_column(default=list)
    unit: Mapped[str] = mapped_column(String(20))
    # Weight of one sale unit in kg (a 5 kg box: 5; a 0.5 kg bunch: 0.5); None when it varies.
    unit_weight_kg: Mapped[Decimal | None] = mapped_column(Quantity)
    price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[Decimal] = mapped_column(Quantity)
    certifications: Mapped[list[str]] = mapped_column(default=list)
    ocop_stars: Mapped[int | None] = mapped_column(Integer)
    image_url: Mapped[str | None] = mapped_column(String(500))
    origin: Mapped[str] = mapped_column(Text, default="")
    # Mã số vùng trồng: the planting-area code issued by the Plant Protection Department, printed on export cartons.
    growing_area_code: Mapped[str | None] = mapped_column(String(40))
    # Hidden by its cooperative ("/an"): not offered to buyers, kept for open orders and history.
    hidden: Mapped[bool] = mapped_column(default=False)
    # Low-stock alert: below `low_stock_at` (or 10% of the last harvest when unset) the cooperative is told once.
    low_stock_at: Mapped[Decimal | None] = mapped_column(Quantity)
    last_harvest: Mapped[Decimal | None] = mapped_column(Quantity)
    low_stock_alerted: Mapped[bool] = mapped_column(default=False)
    # Indexed: the live search index reads the products changed since its last look (catalog/live_index.py).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    cooperative: Mapped[Cooperative] = relationship(back_populates="products", lazy="joined")


class Certificate(Base):
    """A certificate behind one of a product's certification labels (VietGAP, GlobalGAP, organic, OCOP):
    its number, who issued it and until when it is valid; traceability pages show expired ones as expired."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    # The label as in `Product.certifications` ("VietGAP", "GlobalGAP", "Hữu cơ", "OCOP").
    scheme: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(80))
    issuer: Mapped[str] = mapped_column(String(200), default="", server_default="")
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)


class HarvestBatch(Base):
    """One harvest of a product (lô thu hoạch): its code printed on packaging labels, date and quantity."""

    __tablename__ = "harvest_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Readable and unique: the SKU and the harvest day, e.g. "TL-RD-HD-261126" (then "-2", "-3" the same day).
    code: Mapped[str] = mapped_column(String(80), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    harvested_on: Mapped[date] = mapped_column(Date)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    recorded_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(lazy="joined")


class CoopAccount(Base):
    """A chat account that acts for a cooperative, as its owner or as staff."""

    __tablename__ = "coop_accounts"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(128))
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperatives.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    cooperative: Mapped[Cooperative] = relationship(lazy="joined")


class InviteCode(Base):
    """A one-time code that links a chat account to a cooperative, or a chat to a partner trading cooperative
    (`partner_id`, orders/partner_accounts.py); only its hash is stored."""

    __tablename__ = "invite_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    cooperative_id: Mapped[int | None] = mapped_column(ForeignKey("cooperatives.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    role: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(160))
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    used_by: Mapped[str | None] = mapped_column(String(160))


class LinkAttempt(Base):
    """A try at linking with a code, kept to slow down anyone guessing codes."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index("ix_link_attempts_who_at", "channel", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(128))
    succeeded: Mapped[bool] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductChange(Base):
    """One change a cooperative made to a product: who, from which channel, what, old → new, when."""

    __tablename__ = "product_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    actor: Mapped[str] = mapped_column(String(160))
    field: Mapped[str] = mapped_column(String(20))
    old: Mapped[str] = mapped_column(String(200))
    new: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)
