"""Tables of buyers, carts, orders with their line snapshots and status history, and trading partners."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.models import Base, Product, Quantity, utcnow

# Đồng amounts that can pass 2^31 (bank transfers and their sums): BIGINT on PostgreSQL, where INTEGER stops at
# about 2.1 billion đồng; SQLite's INTEGER holds 64 bits already, so its tables need no rebuild.
BIG_AMOUNT = BigInteger().with_variant(Integer(), "sqlite")


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
    """A partner trading cooperative (HTX thương mại): where it delivers, what it carries, what it charges.

    Routing (orders/routing.py) reads these rules; `load` counts the orders routed to it on `load_day`.
    """

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Provinces served (post-2025 names, as address.locate gives them); empty means the whole country.
    provinces: Mapped[list[str]] = mapped_column(default=list)
    # Wards (communes) served, when the partner covers only part of its provinces; empty means all of them.
    wards: Mapped[list[str]] = mapped_column(default=list)
    # Product categories carried ("thanh long", "rau"); empty means every category.
    categories: Mapped[list[str]] = mapped_column(default=list)
    min_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    daily_capacity: Mapped[int | None] = mapped_column(Integer)
    shipping_fee: Mapped[int] = mapped_column(Integer)
    free_shipping_from: Mapped[int | None] = mapped_column(Integer)
    accept_timeout_minutes: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    by_carrier: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Signed webhooks (docs/partner-webhooks.md): where to POST order events, and the key that signs them.
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    # Where buyers paying by VietQR transfer send the money (the partner collects it); BIN from orders/vietqr.py.
    bank_bin: Mapped[str | None] = mapped_column(String(6))
    bank_account: Mapped[str | None] = mapped_column(String(19))
    bank_account_name: Mapped[str | None] = mapped_column(String(100))
    load_day: Mapped[date | None] = mapped_column(Date)
    load: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def takes_transfers(self) -> bool:
        """Has the partner a receiving bank account for VietQR transfers?"""
        return bool(self.bank_bin and self.bank_account and self.bank_account_name)


class PartnerAccount(Base):
    """A chat (a Telegram group, a Zalo account) where a partner receives and acts on its orders."""

    __tablename__ = "partner_accounts"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(128))
    linked_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    partner: Mapped[Partner] = relationship(lazy="joined")


class PartnerToken(Base):
    """A bearer token of the partner API; only its SHA-256 is stored, and it can be revoked."""

    __tablename__ = "partner_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Order(Base):
    """A confirmed order: buyer details and money as they were when the buyer confirmed.

    One partner delivers one order; a cart no single partner can take becomes several orders that share
    `checkout_code` (the code of the first).
    """

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status_accept_by", "status", "accept_by"),
        # The payment-deadline sweep reads unpaid transfer orders, oldest first.
        Index("ix_orders_payment_status_created_at", "payment_status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    checkout_code: Mapped[str] = mapped_column(String(8), index=True, server_default="")
    # Where the buyer confirmed: their updates go back to that chat, in that language.
    channel: Mapped[str] = mapped_column(String(20), server_default="")
    chat_id: Mapped[str] = mapped_column(String(128), server_default="")
    locale: Mapped[str] = mapped_column(String(8), server_default="vi")
    province: Mapped[str | None] = mapped_column(String(100))
    ward: Mapped[str | None] = mapped_column(String(100))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    payment_method: Mapped[str] = mapped_column(String(20))
    payment_status: Mapped[str] = mapped_column(String(20))
    # Đồng received so far by bank transfer (orders/placing.py names the payment statuses): 64 bits, as a transfer's
    # amount, since a buyer may send far more than the order's total.
    paid_amount: Mapped[int] = mapped_column(BIG_AMOUNT, default=0, server_default="0")
    # When the buyer was reminded that the transfer is overdue; the order is cancelled some hours later.
    payment_reminded_at: Mapped[datetime | None] = mapped_column()
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_phone: Mapped[str] = mapped_column(String(20))
    buyer_address: Mapped[str] = mapped_column(Text)
    subtotal: Mapped[int] = mapped_column(Integer)
    shipping_fee: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    routed_at: Mapped[datetime | None] = mapped_column()
    # When the partner's time to accept runs out (routed_at + its timeout): the timeout sweep reads this index.
    accept_by: Mapped[datetime | None] = mapped_column()
    tracking_number: Mapped[str | None] = mapped_column(String(64))
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
    __table_args__ = (Index("ix_order_events_announced", "announced"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    # The partner responsible when it happened (who rejected, who let it expire, who delivered).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    # Told to the buyer, the partner and the cooperatives yet (bot/order_news.py)?
    announced: Mapped[bool] = mapped_column(default=False, server_default=false())


class DailySummary(Base):
    """A daily summary already sent, one per day and recipient, so several processes send it once."""

    __tablename__ = "daily_summaries"
    __table_args__ = (UniqueConstraint("day", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    # "partner:CODE" or "cooperative:CODE".
    recipient: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankTransaction(Base):
    """A bank transaction reported by a bank-transfer webhook (SePay, Casso), stored once per provider and
    transaction id whatever the redeliveries, with what it did: paid an order, part of one, too much, or
    nothing we could match (kept for a person to look at)."""

    __tablename__ = "bank_transactions"
    __table_args__ = (UniqueConstraint("provider", "txn_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(10))
    txn_id: Mapped[str] = mapped_column(String(64))
    # Đồng, negative for money out. 64 bits: the receiving account also gets transfers of billions that are not
    # for an order, and each is kept.
    amount: Mapped[int] = mapped_column(BIG_AMOUNT)
    memo: Mapped[str] = mapped_column(Text, default="")
    account_number: Mapped[str] = mapped_column(String(32), default="")
    # The bank's own reference (SePay referenceCode, Casso reference/tid).
    reference: Mapped[str] = mapped_column(String(64), default="")
    transacted_at: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    # paid, partial, over, unmatched, late (the order was already paid or cancelled), ignored (money out).
    outcome: Mapped[str] = mapped_column(String(20))
    # Waiting for a person (unmatched, over, late) until `htx payments` marks it done.
    needs_review: Mapped[bool] = mapped_column(default=False, server_default=false(), index=True)
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)

    order: Mapped[Order | None] = relationship(lazy="joined")
