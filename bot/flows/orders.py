"""A buyer's orders: list them, follow one by its code, cancel one no partner has accepted yet."""

from __future__ import annotations

from bot.context import Context
from bot.flows import Flow
from bot.flows.menu import menu_buttons
from bot.i18n import when
from bot.order_texts import line_rows, status_name
from channels.types import Button
from orders.models import Order
from orders.placing import (
    CannotCancel,
    OrderNotFound,
    can_cancel,
    cancel_order,
    checkout_siblings,
    customer_orders,
    find_order,
)
from orders.status import CANCELLED, FAILED

# Events whose note the buyer should read (why it failed or was cancelled); other notes are internal.
NOTED = frozenset({FAILED, CANCELLED})


def order_buttons(ctx: Context, order: Order) -> list[Button]:
    """Follow-up buttons for one order."""
    buttons = [Button(ctx._("Order status"), f"status:{order.code}")]
    if can_cancel(order):
        buttons.append(Button(ctx._("Cancel order {code}").format(code=order.code), f"cancel:{order.code}"))
    return buttons


async def my_orders(ctx: Context) -> str | None:
    """The buyer's latest orders with their status."""
    orders = await customer_orders(ctx.session, ctx.customer)
    if not orders:
        ctx.say(ctx._("You have no orders yet."), menu_buttons(ctx))
        return None
    rows = [
        f"• {o.code} ({when(o.created_at, ctx.locale)}): {ctx.money(o.total)} – {status_name(o.status, ctx.locale)}"
        for o in orders
    ]
    ctx.say(
        ctx._("Your latest orders:") + "\n" + "\n".join(rows), [b for o in orders[:3] for b in order_buttons(ctx, o)]
    )
    return None


async def status(ctx: Context) -> str | None:
    """One order in detail (text "kiểm tra đơn DH…" or button `status:CODE`); only the buyer's own."""
    code = _code(ctx)
    if code is None:
        return await my_orders(ctx)
    order = await find_order(ctx.session, code, ctx.customer)
    if order is None:
        return _not_found(ctx, code)
    _ = ctx._
    text = [
        _("Order {code}, placed {at}").format(code=order.code, at=when(order.created_at, ctx.locale)),
        *line_rows(order, ctx.locale),
        _("Shipping fee: {fee}").format(fee=ctx.money(order.shipping_fee) if order.shipping_fee else _("free")),
        _("Total: {total}").format(total=ctx.money(order.total)),
        _("Status: {status}").format(status=status_name(order.status, ctx.locale)),
    ]
    if order.partner:
        text.append(_("Delivered by: {partner}").format(partner=order.partner.name))
    if order.tracking_number:
        text.append(_("Tracking number: {number}").format(number=order.tracking_number))
    siblings = [code for code in await checkout_siblings(ctx.session, order) if code != order.code]
    if siblings:
        text.append(_("Placed together with: {codes}").format(codes=", ".join(siblings)))
    text.append(_("History:"))
    text += [
        f"• {ctx.when(event.at)}: {status_name(event.to_status, ctx.locale)}"
        + (f" ({event.note})" if event.to_status in NOTED and event.note else "")
        for event in order.events
    ]
    ctx.say("\n".join(text), order_buttons(ctx, order))
    return None


async def cancel(ctx: Context) -> str | None:
    """Cancel an order by code (text "hủy đơn DH…" or button `cancel:CODE`); without a code, offer the choices."""
    code = _code(ctx)
    if code is None:
        cancellable = [o for o in await customer_orders(ctx.session, ctx.customer) if can_cancel(o)]
        if not cancellable:
            ctx.say(ctx._("You have no order that can still be cancelled."), menu_buttons(ctx))
        else:
            ctx.say(
                ctx._("Which order do you want to cancel?"),
                [Button(ctx._("Cancel order {code}").format(code=o.code), f"cancel:{o.code}") for o in cancellable[:5]],
            )
        return None
    try:
        order = await cancel_order(ctx.session, ctx.customer, code)
    except OrderNotFound:
        return _not_found(ctx, code)
    except CannotCancel as refused:
        ctx.say(
            ctx._("Order {code} is {status}, so it can no longer be cancelled here. Please talk to our staff.").format(
                code=code, status=status_name(refused.order.status, ctx.locale)
            ),
            [Button(ctx._("Talk to staff"), "handoff")],
        )
        return None
    cancelled = (
        ctx._("Order {code} is cancelled. The trading cooperative will refund the {amount} you transferred.").format(
            code=order.code, amount=ctx.money(order.paid_amount)
        )
        if order.paid_amount
        else ctx._("Order {code} is cancelled. Nothing will be delivered or charged.").format(code=order.code)
    )
    ctx.say(cancelled, menu_buttons(ctx))
    return None


def _code(ctx: Context) -> str | None:
    if ctx.payload:
        return ctx.payload.partition(":")[2].upper() or None
    return ctx.parsed.order_code if ctx.parsed else None


def _not_found(ctx: Context, code: str) -> str | None:
    ctx.say(
        ctx._("I cannot find order {code} among your orders. Please check the code.").format(code=code),
        [Button(ctx._("My orders"), "orders")],
    )
    return None


FLOW = Flow(
    name="orders",
    entry={"order_status": status, "cancel": cancel},
    payloads={"orders": my_orders, "status": status, "cancel": cancel},
)
