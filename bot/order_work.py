"""The periodic order work of every process: expire overdue orders, route stale new ones, remind then cancel
unpaid transfer orders, send daily summaries.

A `Worker` runs `sweep` about every `SWEEP_EVERY` seconds in each process that has workers. Every part is
safe to run in several processes at once: expiry, routing and the payment deadline lock the orders they move
(`SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), a payment reminder is written in the transaction that
marks its order reminded, and each daily summary is claimed by inserting its
`DailySummary(day, recipient)` row, unique, in a savepoint: the process that loses the insert skips it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import i18n
from bot.models import OutboundMessage
from bot.order_texts import payment_reminder
from catalog.accounts import owners_of
from catalog.models import VIETNAM, Cooperative, utcnow
from channels.types import Reply, Text, reply_to_dict
from orders import status as st
from orders.lifecycle import expire_overdue, route_stale_new
from orders.models import DailySummary, Partner
from orders.partner_accounts import partner_chats
from orders.payment_deadline import DEADLINE, Deadline, cancel_unpaid, remind_unpaid
from orders.reports import (
    Codes,
    CooperativeDay,
    PartnerDay,
    cooperative_day,
    cooperatives_with_owners,
    partner_day,
    partners_with_chats,
)

log = logging.getLogger(__name__)

# Seconds between two sweeps of an idle process.
SWEEP_EVERY = 30.0
# Orders moved per transaction; a sweep that moved some runs again at once.
BATCH = 50
# Placing an order routes it in the same transaction, so only orders from before routing existed stay "new".
# Summaries are written for people in Vietnam, in Vietnamese.
SUMMARY_LOCALE = "vi"

Message = tuple[str, str, str]  # channel, chat id, text
Compose = Callable[[AsyncSession], Awaitable[list[Message]]]


@dataclass(frozen=True)
class Swept:
    """What one sweep did: orders expired (and passed on), stale new orders routed, unpaid transfer orders
    reminded and cancelled, summaries sent."""

    expired: list[str]
    routed: list[str]
    summaries: int
    reminded: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    @property
    def events(self) -> bool:
        """Did orders change, so that the order news worker has something to tell?"""
        return bool(self.expired or self.routed or self.cancelled)

    @property
    def messages(self) -> bool:
        """Did the sweep write messages to the outbox itself (summaries, payment reminders)?"""
        return bool(self.summaries or self.reminded)

    def __bool__(self) -> bool:
        return self.events or self.messages


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    summary_hour: int | None,
    now: datetime | None = None,
    deadline: Deadline = DEADLINE,
) -> Swept:
    """One round of the periodic work, each part in its own transaction; no daily summary when the hour is None."""
    now = now or utcnow()
    async with sessions.begin() as session:
        expired = await expire_overdue(session, now, limit=BATCH)
    async with sessions.begin() as session:
        routed = await route_stale_new(session, now, limit=BATCH)
    async with sessions.begin() as session:
        cancelled = await cancel_unpaid(session, deadline, now, limit=BATCH)
    reminded = await remind_buyers(sessions, deadline, now)
    summaries = 0 if summary_hour is None else await send_daily_summaries(sessions, summary_hour, now)
    swept = Swept(expired, routed, summaries, reminded, cancelled)
    if swept.events or reminded:
        counts = {"expired": expired, "routed": routed, "reminded": reminded, "cancelled": cancelled}
        log.info("orders swept", extra={name: len(codes) for name, codes in counts.items()})
    return swept


async def remind_buyers(sessions: async_sessionmaker[AsyncSession], deadline: Deadline, now: datetime) -> list[str]:
    """Remind the buyers of transfer orders past the deadline, in their chat and language, in the transaction that
    marks each order reminded: a buyer is told once, whatever the processes sweeping. Returns the codes."""
    async with sessions.begin() as session:
        orders = await remind_unpaid(session, deadline, now, limit=BATCH)
        for order in orders:
            replies: list[Reply] = payment_reminder(order, order.locale, deadline) if order.channel else []
            for reply in replies:
                body = reply_to_dict(reply)
                session.add(OutboundMessage(channel=order.channel, chat_id=order.chat_id, body=body, proactive=True))
    return [order.code for order in orders]


async def send_daily_summaries(
    sessions: async_sessionmaker[AsyncSession], hour: int, now: datetime | None = None
) -> int:
    """From `hour` o'clock Vietnam time, once a day, summarise the day to each partner's chats and each
    cooperative's owners. Returns how many recipients were sent one."""
    local = (now or utcnow()).astimezone(VIETNAM)
    if local.hour < hour:
        return 0
    day = local.date()
    async with sessions() as session:
        done = set((await session.scalars(select(DailySummary.recipient).where(DailySummary.day == day))).all())
        pending: list[tuple[str, Compose]] = [
            (f"partner:{p.code}", _for_partner(p.id, day)) for p in await partners_with_chats(session)
        ]
        pending += [
            (f"cooperative:{c.code}", _for_cooperative(c.id, day)) for c in await cooperatives_with_owners(session)
        ]
    sent = 0
    for recipient, compose in pending:
        if recipient in done:
            continue
        try:
            sent += await _summarise(sessions, day, recipient, compose)
        except Exception:  # one recipient's failure must not hold back the others' summaries
            log.exception("daily summary failed", extra={"recipient": recipient})
    return sent


async def _summarise(
    sessions: async_sessionmaker[AsyncSession],
    day: date,
    recipient: str,
    compose: Compose,
) -> bool:
    """Claim the recipient's summary of the day and write its messages, in one transaction; False when another
    process claimed it first or there was nothing to tell (the claim then stands: the day is done)."""
    async with sessions.begin() as session:
        try:
            async with session.begin_nested():
                session.add(DailySummary(day=day, recipient=recipient))
        except IntegrityError:
            return False
        messages = await compose(session)
        for channel, chat_id, text in messages:
            body = reply_to_dict(Text(text))
            session.add(OutboundMessage(channel=channel, chat_id=chat_id, body=body, proactive=True))
    return bool(messages)


def _for_partner(partner_id: int, day: date) -> Compose:
    async def compose(session: AsyncSession) -> list[Message]:
        partner = await session.get(Partner, partner_id)
        if partner is None:
            return []
        report = await partner_day(session, partner, day)
        if report.empty:
            return []
        text = partner_summary(report, SUMMARY_LOCALE)
        return [(chat.channel, chat.chat_id, text) for chat in await partner_chats(session, partner_id)]

    return compose


def _for_cooperative(cooperative_id: int, day: date) -> Compose:
    async def compose(session: AsyncSession) -> list[Message]:
        cooperative = await session.get(Cooperative, cooperative_id)
        if cooperative is None:
            return []
        report = await cooperative_day(session, cooperative, day)
        if report.empty:
            return []
        text = cooperative_summary(report, SUMMARY_LOCALE)
        return [(owner.channel, owner.user_id, text) for owner in await owners_of(session, [cooperative_id])]

    return compose


def partner_summary(report: PartnerDay, locale: str) -> str:
    """A partner's day in a few lines: routed and cash to collect, delivered, and what still waits on it."""
    _ = i18n.translations(locale).gettext
    money = lambda amount: i18n.money(amount, locale)  # noqa: E731
    text = [_("Daily summary {day} – {name}").format(day=_day(report.day), name=report.partner.name)]
    if report.routed.count:
        text.append(
            _("Orders routed to you today: {count}, cash to collect {amount}.").format(
                count=report.routed.count, amount=money(report.routed.amount)
            )
        )
    else:
        text.append(_("No new orders today."))
    if report.delivered.count:
        text.append(
            _("Orders delivered today: {count}, {amount}.").format(
                count=report.delivered.count, amount=money(report.delivered.amount)
            )
        )
    groups = {
        st.ROUTED: _("Not accepted yet"),
        st.ACCEPTED: _("Accepted, not shipped yet"),
        st.SHIPPING: _("Shipping"),
        st.FAILED: _("Delivery failed"),
    }
    waiting = [(groups[status], codes) for status, codes in report.waiting.items() if codes.total]
    if waiting:
        text.append(_("Still waiting:"))
        text += [f"• {title} ({codes.total}): {_codes(codes, locale)}" for title, codes in waiting]
    else:
        text.append(_("Nothing is waiting for you."))
    return "\n".join(text)


def cooperative_summary(report: CooperativeDay, locale: str) -> str:
    """A producer cooperative's day: orders holding its products and their worth to it, open and escalated ones."""
    _ = i18n.translations(locale).gettext
    text = [_("Daily summary {day} – {name}").format(day=_day(report.day), name=report.cooperative.name)]
    if report.ordered.count:
        text.append(
            _("Orders with your products today: {count}, your products worth {amount}.").format(
                count=report.ordered.count, amount=i18n.money(report.ordered.amount, locale)
            )
        )
    else:
        text.append(_("No orders with your products today."))
    if report.waiting.total:
        text.append(
            _("Open orders not delivered yet ({count}): {codes}").format(
                count=report.waiting.total, codes=_codes(report.waiting, locale)
            )
        )
    if report.escalated.total:
        text.append(
            _(
                "No trading cooperative can deliver these orders ({count}): {codes}. Please arrange delivery with the "
                "buyers or cancel them."
            ).format(count=report.escalated.total, codes=_codes(report.escalated, locale))
        )
    return "\n".join(text)


def _codes(codes: Codes, locale: str) -> str:
    listed = ", ".join(codes.codes)
    if not codes.more:
        return listed
    _ = i18n.translations(locale).gettext
    return listed + " " + _("and {count} more").format(count=codes.more)


def _day(day: date) -> str:
    return day.strftime("%d/%m/%Y")
