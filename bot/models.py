"""Tables the engine owns (conversations, inbox, outbox), and the complete metadata for migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, exists
from sqlalchemy.orm import Mapped, aliased, mapped_column

import orders.models  # noqa: F401  (registers the orders tables on Base.metadata)
from catalog.models import Base, utcnow

__all__ = ["Base", "ChannelToken", "Chart", "Conversation", "InboundEvent", "OutboundMessage"]


class Conversation(Base):
    """Where one chat stands: its flow state and the data the flow has gathered so far."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    state: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    locale: Mapped[str] = mapped_column(String(8))
    # When the user last wrote: platforms allow free replies only within a window (Messenger 24 h, Zalo 7 days).
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InboundEvent(Base):
    """A message as received, stored before it is handled: the durable inbox, unique per platform event."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        Index("ix_inbound_events_pending", "status", "id"),
        # The claim's look for an earlier pending event of the same chat (`first_pending_of_its_chat`), as the
        # outbox has: without it PostgreSQL read every pending event per claim once a backlog built up.
        Index("ix_inbound_events_chat", "channel", "chat_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # A turn that failed is tried again after a backoff; until then the conversation's later messages wait.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()


class OutboundMessage(Base):
    """A reply written in the same transaction as the turn that produced it: the durable outbox."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_messages_pending", "status", "id"),
        # One chat's rows: delivery order per chat, a Zalo chat's latest numbered menu, the web chat's updates.
        Index("ix_outbound_messages_chat", "channel", "chat_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Notifications sent later (order updates) rather than replies; some platforms only allow them tagged.
    proactive: Mapped[bool] = mapped_column(default=False)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A delivery worker holds the row until then while it sends; a crashed worker's lease simply runs out.
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class ChannelToken(Base):
    """A platform's current access/refresh token pair (Zalo refresh tokens are single-use, so they live here)."""

    __tablename__ = "channel_tokens"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Chart(Base):
    """A rendered chart image (a sales report), served at `/charts/{token}.png` so every platform can fetch it."""

    __tablename__ = "charts"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def first_pending_of_its_chat(model: type[InboundEvent] | type[OutboundMessage]) -> ColumnElement[bool]:
    """True for a row no earlier pending row of the same chat precedes: how inbox and outbox keep each chat's
    messages in order while several workers and processes take rows concurrently."""
    earlier = aliased(model)
    return ~exists().where(
        earlier.channel == model.channel,
        earlier.chat_id == model.chat_id,
        earlier.status == "pending",
        earlier.id < model.id,
    )
