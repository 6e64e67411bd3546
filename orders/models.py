"""Tables of buyers, carts, orders with their line snapshots and status history, and trading partners."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.models import Base, Product, Quantity, utcnow


class Customer(Base):
    """A buyer, known by the chat account they write from; remembers their last delivery details."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    # Indexed: the same buyer on several channels is recognised by phone ("đơn của tôi" shows all their orders).
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CartLine(Base):
    """One product in a buyer's cart, in the product's sale unit."""

    __tablename__ = "cart_lines"
    __table_args__ = (UniqueConstraint("customer_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)

    product: Mapped[Product] = relationship(lazy="joined")


class Partner(Base):
    """A partner trading cooperative (HTX thương mại) that delivers orders in some provinces."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Provinces served; empty means every province no other partner serves.
    provinces: Mapped[list[str]] = mapped_column(default=list)
    shipping_fee: Mapped[int] = mapped_column(Integer)
    free_shipping_from: Mapped[int | None] = mapped_column(Integer)
    fruit_only: Mapped[bool] = mapped_column(default=False)
    by_carrier: Mapped[bool] = mapped_column(default=False)


class Order(Base):
    """A confirmed order: buyer details and money as they were when the buyer confirmed."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    payment_method: Mapped[str] = mapped_column(String(20))
    payment_status: Mapped[str] = mapped_column(String(20))
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_phone: Mapped[str] = mapped_column(String(20))
    buyer_address: Mapped[str] = mapped_column(Text)
    subtotal: Mapped[int] = mapped_column(Integer)
    shipping_fee: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        lazy="selectin", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        lazy="selectin", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    partner: Mapped[Partner | None] = relationship(lazy="joined")


class OrderLine(Base):
    """A snapshot of one product as ordered: name, unit and price do not follow later catalogue edits."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20))
    unit_price: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    amount: Mapped[int] = mapped_column(Integer)


class OrderEvent(Base):
    """One status change of an order: who, when, from, to and why."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
