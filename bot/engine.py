"""One conversation turn: load the conversation, pick the step from the flow tables, run it, save state.

The order of precedence (DESIGN §3): button payloads; then a linked partner chat's messages, which never reach
the buyer's flows (bot/flows/partner.py); then fallbacks ("hủy", "thôi", "menu" at any step); then the current
state's step; then the entry intents; then the free-text fallback.
"""

from __future__ import annotations

import copy
import dataclasses
import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.context import NOT_MINE, Context, Step
from bot.flows import Flow, browse, cart, checkout, coop_admin, coop_new_product, menu, orders, origin, partner
from bot.models import Conversation, OutboundMessage
from bot.nlu.parse import parse
from bot.settings import Settings
from catalog.models import utcnow
from catalog.search import ProductIndex
from channels.types import Buttons, Cards, Incoming, Reply, reply_from_dict
from channels.zalo import menu_payload
from orders.customers import get_or_create_customer
from orders.models import Customer

log = logging.getLogger(__name__)

# Channels that show buttons as a numbered text menu (channels/zalo.py); the numbers come back as text.
NUMBERED_MENUS = frozenset({"zalo"})
# States in which a bare number is an answer (a quantity), not a menu choice.
NUMBER_STATES = frozenset({cart.ASKING_QUANTITY})

FLOWS: tuple[Flow, ...] = (
    menu.FLOW,
    browse.FLOW,
    cart.FLOW,
    checkout.FLOW,
    orders.FLOW,
    origin.FLOW,
    coop_admin.FLOW,
    coop_new_product.FLOW,
    partner.FLOW,
)
ENTRY: dict[str, Step] = {intent: step for flow in FLOWS for intent, step in flow.entry.items()}
STATES: dict[str, Step] = {state: step for flow in FLOWS for state, step in flow.states.items()}
PAYLOADS: dict[str, Step] = {prefix: step for flow in FLOWS for prefix, step in flow.payloads.items()}


async def run_turn(
    session: AsyncSession,
    incoming: Incoming,
    index: ProductIndex,
    settings: Settings,
) -> tuple[list[Reply], list[tuple[str, str, Reply]]]:
    """Handle one message inside the caller's transaction; returns its replies and its notifications to others."""
    customer = await get_or_create_customer(session, incoming.channel, incoming.user_id)
    conversation = await _conversation(session, incoming, customer, settings.default_locale)
    conversation.last_inbound_at = utcnow()
    incoming = await _menu_choice(session, incoming, conversation)
    # A photo, sticker, location or shared contact has no text: it reads as an empty message.
    parsed = parse(incoming.text or "", index) if incoming.payload is None else None
    ctx = Context(
        incoming=incoming,
        session=session,
        customer=customer,
        index=index,
        parsed=parsed,
        state=conversation.state,
        data=copy.deepcopy(conversation.data),
        locale=conversation.locale,
        settings=settings,
    )
    handled = await partner.route(ctx) if incoming.payload is None else NOT_MINE
    if handled != NOT_MINE:
        next_state = handled  # a trading cooperative's chat (a Telegram group): no buyer's flow, no shopping replies
    else:
        checkout.remember_slots(ctx)
        next_state = await _dispatch(ctx)
        if next_state is None and _wants_checkout(ctx) and await cart.has_items(ctx):
            next_state = await checkout.start(ctx)
    if incoming.channel in NUMBERED_MENUS:
        ctx.data["menu"] = _last_menu(ctx.replies)  # [] when this turn showed none: an old menu is stale
    conversation.state = next_state
    conversation.data = ctx.data
    log.info(
        "turn",
        extra={
            "channel": incoming.channel,
            "chat": incoming.chat_id,
            "intent": parsed.intent if parsed else "payload",
            "state": next_state,
        },
    )
    return ctx.replies, ctx.notifications


async def _dispatch(ctx: Context) -> str | None:
    if ctx.payload is not None:
        step = PAYLOADS.get(ctx.payload.partition(":")[0], menu.not_understood)
        return await step(ctx)
    assert ctx.parsed is not None
    if ctx.state not in STATES or (ctx.incoming.text and ctx.incoming.text.lstrip().startswith("/")):
        handled = await coop_admin.route(ctx)  # a cooperative's commands and plain-word stock updates
        if handled != NOT_MINE:
            return handled
    intent = ctx.parsed.intent
    if intent == "cancel" and ctx.state is not None and ctx.parsed.order_code is None:
        return await menu.abort(ctx)
    if intent == "greet":
        return await menu.greet(ctx)
    if ctx.state in STATES:
        next_state = await STATES[ctx.state](ctx)
        if next_state != NOT_MINE:
            return next_state
    return await ENTRY.get(intent, menu.not_understood)(ctx)


async def _menu_choice(session: AsyncSession, incoming: Incoming, conversation: Conversation) -> Incoming:
    """On a channel without buttons, "2" means the second choice of the last numbered menu, unless the bot
    has just asked for a number (how many?).

    The last menu is that of a notification sent since the chat's last turn, when one offered choices (a new
    order with its actions, in a partner's chat), otherwise the one the last turn showed.
    """
    if incoming.channel not in NUMBERED_MENUS or conversation.state in NUMBER_STATES:
        return incoming
    if not (incoming.text or "").strip().rstrip(".)").strip().isdigit():
        return incoming  # not a menu choice: spare the outbox query
    menu = await _notified_menu(session, incoming) or conversation.data.get("menu") or []
    payload = menu_payload(incoming.text or "", menu)
    return dataclasses.replace(incoming, text=None, payload=payload) if payload else incoming


async def _notified_menu(session: AsyncSession, incoming: Incoming) -> list[str]:
    """The choices of the newest notification to this chat written after its last turn's replies, or []."""
    chat = (OutboundMessage.channel == incoming.channel) & (OutboundMessage.chat_id == incoming.chat_id)
    last_reply = select(func.coalesce(func.max(OutboundMessage.id), 0)).where(
        chat, OutboundMessage.proactive.is_(False)
    )
    bodies = await session.scalars(
        select(OutboundMessage.body)
        .where(chat, OutboundMessage.proactive.is_(True), OutboundMessage.id > last_reply.scalar_subquery())
        .order_by(OutboundMessage.id.desc())
        .limit(20)
    )
    for body in bodies:
        if menu := _last_menu([reply_from_dict(body)]):
            return menu
    return []


def _last_menu(replies: list[Reply]) -> list[str]:
    """The payloads of the last reply that offered choices, in the order a numbered menu lists them."""
    for reply in reversed(replies):
        match reply:
            case Buttons(buttons=buttons) if buttons:
                return [b.payload for b in buttons]
            case Cards(cards=cards) if any(card.buttons for card in cards):
                return [b.payload for card in cards for b in card.buttons]
    return []


def _wants_checkout(ctx: Context) -> bool:
    """An order that also gave name, phone or address goes straight on to what checkout still needs."""
    return ctx.parsed is not None and ctx.parsed.intent == "order" and ctx.parsed.has_buyer_details


async def _conversation(
    session: AsyncSession, incoming: Incoming, customer: Customer, default_locale: str
) -> Conversation:
    """The conversation row, locked for this turn (PostgreSQL; SQLite serialises writers already)."""
    query = (
        select(Conversation)
        .where(Conversation.channel == incoming.channel, Conversation.chat_id == incoming.chat_id)
        .with_for_update()
    )
    conversation = await session.scalar(query)
    if conversation is not None:
        return conversation
    try:
        async with session.begin_nested():
            conversation = Conversation(
                channel=incoming.channel,
                chat_id=incoming.chat_id,
                customer_id=customer.id,
                state=None,
                data={},
                locale=i18n.chat_locale(incoming.locale_hint, default_locale),
            )
            session.add(conversation)
    except IntegrityError:
        conversation = await session.scalar(query)
        assert conversation is not None
    return conversation
