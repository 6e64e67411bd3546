"""Telling everyone what happened to an order: each `order_events` row becomes outbox messages exactly once.

Whatever moved the order (a buyer, a partner in chat or through the API, the timeout sweep), the change is
an event row written in that transaction; `announce_next` later turns one order's new events into messages
for the buyer, the partner's chats, the partner's webhook and, when escalated, the producer cooperatives'
owners, and marks them announced in the same transaction. The order's row lock keeps two processes from
announcing the same events, and each order's messages in the order its events happened.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapper, object_session

from bot import i18n
from bot.api import partner_view
from bot.models import OutboundMessage
from bot.order_texts import buyer_update, line_rows, partner_order_message
from catalog.accounts import owners_of
from catalog.models import CoopAccount, Product
from channels.types import Event, Reply, Text, reply_to_dict
from orders import status as st
from orders.models import Order, OrderEvent, Partner
from orders.partner_accounts import partner_chats
from orders.payment_deadline import PAYMENT_DEADLINE

log = logging.getLogger(__name__)

# The outbox channel of partners' signed webhooks (bot/partner_webhooks.py); its chat id is the partner's code.
WEBHOOK_CHANNEL = "partner"
PARTNER_LOCALE = "vi"
# The session key marking a transaction that wrote order events (see `wrote_news`).
NEWS_WRITTEN = "order_news_written"


@event.listens_for(OrderEvent, "after_insert")
def _mark_news(_mapper: Mapper[OrderEvent], _connection: Connection, order_event: OrderEvent) -> None:
    session = object_session(order_event)
    if session is not None:
        session.info[NEWS_WRITTEN] = True


def wrote_news(session: AsyncSession) -> bool:
    """Whether this session's transaction wrote order events, so the announcer has work once it commits: a turn
    that only greeted need not wake it (its empty look for news cost a transaction per turn)."""
    return bool(session.info.get(NEWS_WRITTEN))


async def announce_next(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Announce the new events of one order; False when no order has any."""
    async with sessions.begin() as session:
        order = await session.scalar(
            select(Order)
            .where(Order.id.in_(select(OrderEvent.order_id).where(OrderEvent.announced.is_(False))))
            .order_by(Order.id)
            .limit(1)
            .with_for_update(of=Order, skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if order is None:
            return False
        for event in order.events:
            if not event.announced:
                for channel, chat_id, reply in await messages_for(session, order, event):
                    session.add(
                        OutboundMessage(channel=channel, chat_id=chat_id, body=reply_to_dict(reply), proactive=True)
                    )
                event.announced = True
    return True


async def messages_for(session: AsyncSession, order: Order, event: OrderEvent) -> list[tuple[str, str, Reply]]:
    """(channel, chat id, reply) of everyone who hears of this event."""
    messages: list[tuple[str, str, Reply]] = []
    update = buyer_update(order, event, order.locale)
    if update is not None and order.channel:
        messages.append((order.channel, order.chat_id, update))
    partner = await session.get(Partner, event.partner_id) if event.partner_id else None
    if partner is not None:
        note = _partner_note(order, event, partner)
        if note is not None:
            messages += [(chat.channel, chat.chat_id, note) for chat in await partner_chats(session, partner.id)]
        if partner.webhook_url:
            kind = "order.routed" if event.to_status == st.ROUTED else "order.status_changed"
            change = {"from": event.from_status, "to": event.to_status, "by": event.by, "note": event.note}
            messages.append(webhook_event(f"evt_{event.id}", kind, event.at, change, order, partner))
    if event.to_status == st.ESCALATED:
        messages += [(a.channel, a.user_id, _escalation(order)) for a in await _owners(session, order)]
    return messages


def webhook_event(
    event_id: str, kind: str, at: datetime, change: dict[str, Any], order: Order, partner: Partner
) -> tuple[str, str, Reply]:
    """The outbox message of one event on a partner's signed webhook (docs/partner-webhooks.md): what changed,
    and the whole order as that partner sees it now."""
    body = {
        "id": event_id,
        "type": kind,
        "created_at": at.isoformat(),
        "event": change,
        "order": partner_view(order, partner.id),
    }
    return WEBHOOK_CHANNEL, partner.code, Event(kind, body)


def _partner_note(order: Order, event: OrderEvent, partner: Partner) -> Reply | None:
    """What a partner's chats hear of an event they did not cause themselves."""
    _ = i18n.translations(PARTNER_LOCALE).gettext
    if event.to_status == st.ROUTED:
        return partner_order_message(order, PARTNER_LOCALE)
    if event.to_status == st.EXPIRED:
        return Text(
            _("Order {code} was not accepted within {minutes} minutes and has gone to another cooperative.").format(
                code=order.code, minutes=partner.accept_timeout_minutes
            )
        )
    if event.to_status == st.CANCELLED and event.by == PAYMENT_DEADLINE:
        text = _("Order {code} is cancelled: the buyer did not pay it in time. Do not deliver it.")
        text = text.format(code=order.code)
        if order.paid_amount:
            text += "\n" + _("Please refund the {amount} received to the buyer ({phone}).").format(
                amount=i18n.money(order.paid_amount, PARTNER_LOCALE), phone=order.buyer_phone
            )
        return Text(text)
    if event.to_status == st.CANCELLED:
        return Text(_("The buyer cancelled order {code}: do not deliver it.").format(code=order.code))
    return None


def _escalation(order: Order) -> Reply:
    _ = i18n.translations(PARTNER_LOCALE).gettext
    return Text(
        "\n".join(
            [
                _(
                    "No trading cooperative can deliver order {code} to {province}. Please arrange delivery with the "
                    "buyer or cancel it:"
                ).format(code=order.code, province=order.province or order.buyer_address),
                *line_rows(order, PARTNER_LOCALE),
                _("Receiver: {name}, {phone}").format(name=order.buyer_name, phone=order.buyer_phone),
                _("Address: {address}").format(address=order.buyer_address),
            ]
        )
    )


async def _owners(session: AsyncSession, order: Order) -> Sequence[CoopAccount]:
    """Owner accounts of the cooperatives whose products the order holds."""
    product_ids = [line.product_id for line in order.lines]
    coops = await session.scalars(select(Product.cooperative_id).where(Product.id.in_(product_ids)).distinct())
    return await owners_of(session, coops.all())
