"""Partner trading cooperatives work their orders by chat: accept, reject, ship, deliver, and `/donmoi`.

A chat linked with `/lienket CODE` from a partner invite (bot/flows/coop_admin.py `link`) is a partner chat, known
by (channel, chat id): a Telegram group, a Zalo account. The engine hands every text of such a chat to `route`,
so a partner's group never gets the buyer's shopping replies. Each routed order arrives there with its buttons
`po:<status>:<code>` (bot/order_texts.py, sent by bot/order_news.py); on Zalo they are numbered options.

    po:accepted|delivered|returned:CODE ──> act ──> the order again, with its next buttons
    po:rejected:CODE ──> partner.reason ──(preason:KEY | typed reason)──> act(rejected, note) ──> next partner
    po:failed:CODE ───> partner.reason ──(preason:KEY | typed reason)──> act(failed, note)
    po:shipping:CODE ─> partner.tracking ──(typed number | pskip)──> act(shipping, tracking_number)
    "hủy" / "thôi" / "menu" at a question ──> dropped, the order unchanged
    /donmoi, "đơn mới" ──> orders waiting for the partner (pv:CODE opens one)    /lenh ──> the commands
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import select

from bot.context import NOT_MINE, Context
from bot.flows import Flow, coop_admin
from bot.order_texts import PARTNER_PAYLOAD, partner_actions, partner_order_message, status_name
from catalog.search import fold
from channels.types import Button
from orders import lifecycle
from orders.models import Order, Partner
from orders.partner_accounts import partner_account
from orders.status import (
    ACCEPTED,
    AWAITING_PARTNER,
    DELIVERED,
    FAILED,
    REJECTED,
    RETURNED,
    SHIPPING,
    TRANSITIONS,
    TransitionNotAllowed,
)

log = logging.getLogger(__name__)

REASON, TRACKING = "partner.reason", "partner.tracking"
# Button payloads besides `po:`: open one order, pick a common reason, ship without a tracking number.
VIEW_PAYLOAD, REASON_PAYLOAD, SKIP_PAYLOAD = "pv", "preason", "pskip"
# The action waiting for its answer (a reason, a tracking number): {"code", "to", "by" (who pressed)}.
PENDING = "partner_action"
MAX_LISTED = 10
MAX_TRACKING = 64  # orders.tracking_number is String(64)
MAX_NOTE = 500
# On folded text. Telegram groups send a command picked from the bot's menu as "/donmoi@TenBot".
_COMMAND = re.compile(r"^\s*/([a-z]+)(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
_NEW_ORDERS = re.compile(r"^\s*/?don\s*moi\s*$")
_SKIP = {"bo qua", "skip", "khong", "khong co", "ko", "k", "chua co", "khong can"}
# Intents that drop an open question: "hủy", "thôi", "menu", "xin chào".
_LEAVE = {"cancel", "greet"}


async def route(ctx: Context) -> str | None:
    """Every text of a linked partner chat; elsewhere only the partners' commands (refused), else NOT_MINE."""
    text = fold(ctx.incoming.text or "").strip()
    command = _COMMAND.match(text)
    name, rest = (command.group(1), (command.group(2) or "").strip()) if command else (None, "")
    if name == "lienket" or text.startswith("lien ket "):
        # coop_admin.route links with "/lienket CODE" (a partner's code too); only the "/lienket@TenBot CODE" that
        # a group's command menu sends needs reading here.
        mention = name == "lienket" and "@" in text.split()[0]
        return await coop_admin.link(ctx, rest) if mention and rest else NOT_MINE
    account = await partner_account(ctx.session, ctx.incoming.channel, ctx.incoming.chat_id)
    if _NEW_ORDERS.match(text) and (name is not None or account is not None):
        name = "donmoi"  # "/don moi", or the plain words in a partner chat (elsewhere they are a buyer's)
    if account is None:
        if name in PARTNER_ONLY:
            _only_partner_chats(ctx)
            return None
        return NOT_MINE
    partner = account.partner
    if name is not None:
        ctx.data.pop(PENDING, None)
        return await COMMANDS.get(name, commands_help)(ctx, partner)
    if ctx.state in (REASON, TRACKING):
        if _in_group(ctx) and (ctx.data.get(PENDING) or {}).get("by") != ctx.incoming.user_id:
            return ctx.state  # another member's talk: the question waits for the one who pressed the button
        return await STATE_STEPS[ctx.state](ctx)
    _short_help(ctx, partner)
    return None


async def action(ctx: Context) -> str | None:
    """A partner's button `po:<status>:<code>`: act at once, or first ask why (reject, failed) or for the tracking
    number (shipping)."""
    _, to, code = f"{ctx.payload}::".split(":")[:3]
    partner = await _linked_partner(ctx)
    if partner is None:
        return None
    ctx.data.pop(PENDING, None)
    if to not in (REJECTED, FAILED, SHIPPING):
        return await _act(ctx, partner, code, to)
    order = await _actionable(ctx, partner, code, to)
    if order is None:
        return None
    ctx.data[PENDING] = {"code": order.code, "to": to, "by": ctx.incoming.user_id}
    if to == SHIPPING:
        ctx.say(
            ctx._("Order {code}: what is the tracking number? Type it, or press Skip if there is none.").format(
                code=order.code
            ),
            [Button(ctx._("Skip"), SKIP_PAYLOAD)],
        )
        return TRACKING
    question = (
        ctx._("Why can you not take order {code}? Choose a reason or type it (send “thôi” to keep the order).")
        if to == REJECTED
        else ctx._("Why could order {code} not be delivered? Choose or type the reason; the buyer will read it.")
    )
    reasons = _reasons(ctx, to)
    ctx.say(
        question.format(code=order.code), [Button(title, f"{REASON_PAYLOAD}:{key}") for key, title in reasons.items()]
    )
    return REASON


async def reason_chosen(ctx: Context) -> str | None:
    """A common reason's button `preason:KEY` at "why?"."""
    pending = ctx.data.get(PENDING)
    if ctx.state != REASON or pending is None:
        return _closed(ctx)
    reason = _reasons(ctx, pending["to"]).get((ctx.payload or "").partition(":")[2])
    if reason is None:
        return _closed(ctx)
    return await _finish(ctx, note=reason)


async def reason_typed(ctx: Context) -> str | None:
    """A typed answer to "why?"; "hủy"/"thôi"/"menu" keep the order as it is."""
    if _leaves(ctx):
        return _dropped(ctx)
    reason = (ctx.incoming.text or "").strip()
    if not reason:
        ctx.say(ctx._("Please type the reason, or send “thôi” to leave the order as it is."))
        return REASON
    return await _finish(ctx, note=reason[:MAX_NOTE])


async def tracking_typed(ctx: Context) -> str | None:
    """A typed answer to "tracking number?": the number, "bỏ qua"/"không" for none, or "hủy" to leave it."""
    text = (ctx.incoming.text or "").strip()
    if " ".join(fold(text).split()) in _SKIP:
        return await _finish(ctx)
    if _leaves(ctx):
        return _dropped(ctx)
    if not text or len(text) > MAX_TRACKING:
        ctx.say(
            ctx._("A tracking number has at most {limit} characters. Type it again, or press Skip.").format(
                limit=MAX_TRACKING
            ),
            [Button(ctx._("Skip"), SKIP_PAYLOAD)],
        )
        return TRACKING
    return await _finish(ctx, tracking_number=text)


async def skip_tracking(ctx: Context) -> str | None:
    """The Skip button `pskip` at "tracking number?": ship without one."""
    if ctx.state != TRACKING or ctx.data.get(PENDING) is None:
        return _closed(ctx)
    return await _finish(ctx)


async def view(ctx: Context) -> str | None:
    """Button `pv:CODE` (from `/donmoi`): one of the partner's orders with the actions it has now."""
    partner = await _linked_partner(ctx)
    if partner is None:
        return None
    ctx.data.pop(PENDING, None)
    code = (ctx.payload or "").partition(":")[2].strip().upper()
    order = await ctx.session.scalar(select(Order).where(Order.code == code, Order.partner_id == partner.id))
    if order is None:
        _not_yours(ctx, partner, code)
        return None
    ctx.reply(partner_order_message(order, ctx.locale))
    return None


async def new_orders(ctx: Context, partner: Partner) -> str | None:
    """/donmoi: the partner's orders waiting for it to act, newest first; one alone is shown whole."""
    orders = await lifecycle.partner_orders(ctx.session, partner, sorted(AWAITING_PARTNER), limit=MAX_LISTED)
    if not orders:
        ctx.say(ctx._("No orders are waiting for {partner} right now.").format(partner=partner.name))
        return None
    if len(orders) == 1:
        ctx.reply(partner_order_message(orders[0], ctx.locale))
        return None
    rows = [
        f"• {o.code} ({status_name(o.status, ctx.locale)}): "
        + ", ".join(f"{line.name} {ctx.qty(line.quantity)} {line.unit}" for line in o.lines)
        + f" – {ctx.money(o.total)}"
        for o in orders
    ]
    ctx.say(
        ctx._("Orders waiting for {partner}, newest first:").format(partner=partner.name)
        + "\n"
        + "\n".join(rows)
        + "\n"
        + ctx._("Choose one to see it and act on it."),
        [Button(o.code, f"{VIEW_PAYLOAD}:{o.code}") for o in orders],
    )
    return None


async def commands_help(ctx: Context, partner: Partner) -> str | None:
    """/lenh (and any other command) in a partner chat: what the partner can do here."""
    ctx.say(
        ctx._(
            "Commands for {partner}:\n"
            "/donmoi – orders waiting for you\n"
            "/lenh – these commands\n"
            "Each new order arrives here with its buttons: Accept, Reject, Shipping, Delivered, Delivery failed."
        ).format(partner=partner.name)
    )
    return None


COMMANDS = {"donmoi": new_orders, "lenh": commands_help}
# Commands only a partner chat has: elsewhere they are refused rather than read as a buyer's words.
PARTNER_ONLY = frozenset({"donmoi"})
STATE_STEPS = {REASON: reason_typed, TRACKING: tracking_typed}


async def _act(
    ctx: Context, partner: Partner, code: str, to: str, note: str = "", tracking_number: str | None = None
) -> str | None:
    """Move the order on and show it again, or say politely why not."""
    try:
        outcome = await lifecycle.act(ctx.session, partner, code, to, note=note, tracking_number=tracking_number)
    except lifecycle.NotYourOrder:
        _not_yours(ctx, partner, code)
        return None
    except TransitionNotAllowed as refused:
        _not_allowed(ctx, refused.order, to)
        return None
    except ValueError:
        ctx.say(ctx._("That action is not available. Send /donmoi to see your orders."))
        return None
    order = outcome.order
    log.info(
        "partner acted", extra={"order": order.code, "partner": partner.code, "to": to, "changed": outcome.changed}
    )
    if to == REJECTED:
        message = (
            ctx._("Thank you. Order {code} has been passed on; there is nothing more to do.")
            if outcome.changed
            else ctx._("You already declined order {code}; it has been passed on.")
        )
        ctx.say(message.format(code=order.code))
    elif not outcome.changed:
        ctx.say(
            ctx._("Order {code} is already {status}: nothing changed.").format(
                code=order.code, status=status_name(order.status, ctx.locale)
            ),
            partner_actions(order, ctx.locale),
        )
    else:
        ctx.reply(partner_order_message(order, ctx.locale))
    return None


async def _actionable(ctx: Context, partner: Partner, code: str, to: str) -> Order | None:
    """The partner's order when it can become `to` now, before asking anything; otherwise say why and None.

    `lifecycle.act` checks again when the answer comes: the order may have moved on meanwhile.
    """
    order = await lifecycle.locked_order(ctx.session, code)
    if order is not None and to == REJECTED and partner.id in lifecycle.tried_partners(order):
        ctx.say(ctx._("You already declined order {code}; it has been passed on.").format(code=order.code))
        return None
    if order is None or order.partner_id != partner.id:
        _not_yours(ctx, partner, code)
        return None
    if order.status == to:
        ctx.say(
            ctx._("Order {code} is already {status}: nothing changed.").format(
                code=order.code, status=status_name(order.status, ctx.locale)
            ),
            partner_actions(order, ctx.locale),
        )
        return None
    if to not in TRANSITIONS[order.status]:
        _not_allowed(ctx, order, to)
        return None
    return order


async def _finish(ctx: Context, note: str = "", tracking_number: str | None = None) -> str | None:
    """Take the action that waited for its answer."""
    pending = ctx.data.pop(PENDING, None)
    partner = await _linked_partner(ctx)
    if pending is None or partner is None:
        return None
    return await _act(ctx, partner, pending["code"], pending["to"], note=note, tracking_number=tracking_number)


async def _linked_partner(ctx: Context) -> Partner | None:
    """The partner this chat acts for; when none, say that only a linked partner chat can do that."""
    account = await partner_account(ctx.session, ctx.incoming.channel, ctx.incoming.chat_id)
    if account is None:
        _only_partner_chats(ctx)
        return None
    return account.partner


def _reasons(ctx: Context, to: str) -> dict[str, str]:
    """Common reasons offered as buttons, by key (the payload keeps the key, the note the words)."""
    _ = ctx._
    if to == REJECTED:
        return {"stock": _("Out of stock"), "area": _("Outside our delivery area"), "busy": _("Too many orders today")}
    return {
        "phone": _("Could not reach the buyer"),
        "refused": _("The buyer refused the goods"),
        "address": _("Wrong or incomplete address"),
    }


def _action_title(ctx: Context, to: str) -> str:
    """The button title of an action (the same words as bot/order_texts.py `partner_actions`)."""
    _ = ctx._
    titles = {
        ACCEPTED: _("Accept"),
        REJECTED: _("Reject"),
        SHIPPING: _("Shipping"),
        DELIVERED: _("Delivered"),
        FAILED: _("Delivery failed"),
        RETURNED: _("Goods returned"),
    }
    return titles.get(to, to)


def _in_group(ctx: Context) -> bool:
    """A group chat (Telegram): the chat is not the sender's own."""
    return ctx.incoming.chat_id != ctx.incoming.user_id


def _leaves(ctx: Context) -> bool:
    return ctx.parsed is not None and ctx.parsed.intent in _LEAVE


def _dropped(ctx: Context) -> str | None:
    pending = ctx.data.pop(PENDING, None)
    if pending is None:
        return _closed(ctx)
    ctx.say(
        ctx._("Alright, order {code} stays as it is. Press its buttons again whenever you are ready.").format(
            code=pending["code"]
        )
    )
    return None


def _closed(ctx: Context) -> str | None:
    ctx.data.pop(PENDING, None)
    ctx.say(ctx._("That question is closed. Press the order's button again, or send /donmoi."))
    return None


def _not_yours(ctx: Context, partner: Partner, code: str) -> None:
    log.info("partner action refused: not its order", extra={"partner": partner.code, "order": code})
    ctx.say(
        ctx._("Order {code} is not among the orders of {partner}.").format(
            code=code.strip().upper() or "?", partner=partner.name
        )
    )


def _not_allowed(ctx: Context, order: Order, to: str) -> None:
    log.info("partner action refused: not allowed", extra={"order": order.code, "status": order.status, "to": to})
    ctx.say(
        ctx._("Order {code} is {status} now, so it cannot be marked “{action}”.").format(
            code=order.code, status=status_name(order.status, ctx.locale), action=_action_title(ctx, to)
        ),
        partner_actions(order, ctx.locale),
    )


def _only_partner_chats(ctx: Context) -> None:
    log.info("partner action refused: chat not linked", extra={"channel": ctx.incoming.channel})
    ctx.say(
        ctx._(
            "Only a linked partner chat can do that. Ask HTX Connect for a code, then send /lienket CODE from the "
            "chat where you want the orders."
        )
    )


def _short_help(ctx: Context, partner: Partner) -> None:
    """Free text in a partner chat: a short reminder in a one-person chat; a group's own talk is left alone
    unless it names an order."""
    if _in_group(ctx) and (ctx.parsed is None or ctx.parsed.order_code is None):
        return
    ctx.say(
        ctx._(
            "This chat receives the orders of {partner}. Send /donmoi to see the orders waiting for you, /lenh for "
            "the commands."
        ).format(partner=partner.name)
    )


FLOW = Flow(
    name="partner",
    states={REASON: reason_typed, TRACKING: tracking_typed},
    payloads={
        PARTNER_PAYLOAD: action,
        VIEW_PAYLOAD: view,
        REASON_PAYLOAD: reason_chosen,
        SKIP_PAYLOAD: skip_tracking,
    },
)
