"""Greeting and main menu, help, thanks, hand-off to a person, and the way out of any flow."""

from __future__ import annotations

import logging

from bot.context import Context
from bot.flows import Flow
from channels.types import Button

log = logging.getLogger(__name__)


def menu_buttons(ctx: Context) -> list[Button]:
    """The main menu, offered at the start and whenever a buyer seems lost."""
    _ = ctx._
    return [
        Button(_("Browse products"), "browse"),
        Button(_("My cart"), "cart"),
        Button(_("My orders"), "orders"),
        Button(_("Talk to staff"), "handoff"),
    ]


async def greet(ctx: Context) -> str | None:
    """Welcome the buyer and show the menu; also what "menu" does at any step."""
    ctx.say(
        ctx._(
            "Hello! This is HTX Connect: dragon fruit and clean vegetables straight from the cooperatives "
            'of Bình Thuận. Type what you want, for example "mua 3 ký thanh long ruột đỏ", or choose below.'
        ),
        menu_buttons(ctx),
    )
    return None


async def help_(ctx: Context) -> str | None:
    """Explain how to order by text."""
    ctx.say(
        ctx._(
            "You can type:\n"
            '• "thanh long ruột đỏ giá bao nhiêu" to ask a price\n'
            '• "mua 2 hộp thanh long Hòa Lễ" to add to your cart\n'
            '• "giỏ hàng" to see your cart, "đặt hàng" to check out\n'
            '• "đơn của tôi" or "kiểm tra đơn DH…" to follow an order\n'
            '• "hủy" or "menu" at any time to stop what you are doing'
        ),
        menu_buttons(ctx),
    )
    return None


async def thanks(ctx: Context) -> str | None:
    """Answer thanks."""
    ctx.say(ctx._("You're welcome! Message us any time you need fresh produce."), menu_buttons(ctx))
    return None


async def handoff(ctx: Context) -> str | None:
    """Ask for a person: note it in the log for the cooperative's staff and tell the buyer what happens."""
    log.info("handoff requested", extra={"channel": ctx.incoming.channel, "chat": ctx.incoming.chat_id})
    ctx.say(
        ctx._(
            "I have asked a staff member of the cooperative to reply to you here, during working hours "
            "(7:00–17:00). Meanwhile you can keep ordering with the menu."
        ),
        menu_buttons(ctx),
    )
    return None


async def abort(ctx: Context) -> str | None:
    """Leave whatever flow the buyer is in; the cart stays."""
    ctx.say(ctx._("Stopped. Your cart is kept. What would you like to do?"), menu_buttons(ctx))
    return None


async def not_understood(ctx: Context) -> str | None:
    """The last resort: say so politely and show what is possible."""
    if ctx.parsed is not None and not ctx.parsed.words:
        ctx.say(ctx._("I only read text for now. Type what you need, or choose below."), menu_buttons(ctx))
    else:
        ctx.say(
            ctx._(
                'Sorry, I did not understand. You can type a product name (e.g. "thanh long", "rau muống") '
                "or choose below."
            ),
            menu_buttons(ctx),
        )
    return None


FLOW = Flow(
    name="menu",
    entry={"greet": greet, "help": help_, "thanks": thanks, "handoff": handoff, "unknown": not_understood},
    payloads={"menu": greet, "help": help_, "handoff": handoff, "abort": abort},
)
