"""Checkout: name, phone, address, payment, confirm; each asked only if not already known."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.context import NOT_MINE, Context, Step
from bot.flows import Flow
from bot.flows.cart import explain_shortage
from bot.flows.cart import show as show_cart
from bot.flows.coop_admin import alert_low_stock
from bot.flows.menu import menu_buttons
from bot.nlu.address import locate
from bot.nlu.slots import clean_address, clean_name, normalize_phone
from bot.order_texts import payment_request
from catalog.models import Product
from channels.types import Button
from orders.cart import NotEnoughStock, cart_lines, line_amount
from orders.placing import (
    BANK_TRANSFER,
    CASH_ON_DELIVERY,
    Buyer,
    Chat,
    EmptyCart,
    NothingDeliverable,
    PlanChanged,
    delivery_plan,
    place_order,
)

log = logging.getLogger(__name__)

NAME, PHONE, ADDRESS, PROVINCE, PAYMENT, CONFIRM = (
    "checkout.name",
    "checkout.phone",
    "checkout.address",
    "checkout.province",
    "checkout.payment",
    "checkout.confirm",
)
_PAY_COD_WORDS = ("cod", "tien mat", "khi nhan", "nhan hang", "thanh toan khi")
_PAY_TRANSFER_WORDS = ("chuyen khoan", "ck", "vietqr", "qr", "ngan hang")
_YES_WORDS = {"xac nhan", "dong y", "ok", "oke", "co", "dat", "dat hang", "chot", "yes", "uh", "u", "vang", "da"}


def remember_slots(ctx: Context) -> None:
    """Keep every checkout detail the message carried, whatever step the buyer is at."""
    contact = normalize_phone(ctx.incoming.contact_phone or "")
    if contact:  # a phone number shared with the platform's own button (Telegram contact)
        ctx.buyer["phone"] = contact
    if ctx.parsed is None:
        return
    for key in ("name", "phone", "address"):
        value = getattr(ctx.parsed, key)
        if value:
            if key == "address" and value != ctx.buyer.get("address"):
                ctx.buyer.pop("province", None)  # where it lies is read again from the new address
                ctx.buyer.pop("ward", None)
            ctx.buyer[key] = value


def names_products(ctx: Context) -> bool:
    """True when the message names a product of the catalogue: an order in the middle of checkout."""
    return ctx.parsed is not None and any(item.candidates for item in ctx.parsed.items)


async def start(ctx: Context) -> str | None:
    """Begin checkout: reuse the details the buyer gave last time, then ask what is missing."""
    for key in ("name", "phone", "address"):
        saved = getattr(ctx.customer, key)
        if saved and key not in ctx.buyer:
            ctx.buyer[key] = saved
    return await ask_next(ctx)


def nothing_to_check_out(ctx: Context) -> str | None:
    """Checkout with an empty cart: say so and point to the products."""
    ctx.say(
        ctx._("Your cart is empty, so there is nothing to check out yet. Add a product first."),
        [Button(ctx._("Browse products"), "browse")],
    )
    return None


async def ask_next(ctx: Context) -> str | None:
    """Ask for the first missing detail, or show the summary to confirm; an empty cart ends checkout."""
    _ = ctx._
    if not await cart_lines(ctx.session, ctx.customer):
        return nothing_to_check_out(ctx)
    buyer = ctx.buyer
    if "name" not in buyer:
        ctx.say(_("Who should receive the order? Please type the receiver's full name."))
        return NAME
    if "phone" not in buyer:
        ctx.say(_("What is the receiver's mobile number? (e.g. 0912345678)"))
        return PHONE
    if "address" not in buyer:
        ctx.say(_("What is the delivery address? (house number, street, ward/commune, province)"))
        return ADDRESS
    if "province" not in buyer:
        place = locate(buyer["address"])
        if place is None:
            ctx.say(
                _(
                    "Which province or city is that address in? Please type its name (for example: Lâm Đồng, "
                    "Hồ Chí Minh)."
                )
            )
            return PROVINCE
        buyer["province"] = place.province
        if place.ward:
            buyer["ward"] = place.ward
    if "payment" not in buyer:
        choices = [Button(_("Cash on delivery (COD)"), f"pay:{CASH_ON_DELIVERY}")]
        if await _transfer_possible(ctx):
            choices.append(Button(_("Bank transfer (VietQR)"), f"pay:{BANK_TRANSFER}"))
        ctx.say(_("How would you like to pay?"), choices)
        return PAYMENT
    return await summary(ctx)


def _buyer(ctx: Context) -> Buyer:
    details = ctx.buyer
    return Buyer(details["name"], details["phone"], details["address"], details.get("province"), details.get("ward"))


async def summary(ctx: Context) -> str | None:
    """The order as it will be placed and who delivers what for which fee, with confirm / change / stop buttons.

    A cart that goes to several partners is shown as its parts; products nobody delivers to the address are
    named before the buyer confirms (they stay in the cart).
    """
    _ = ctx._
    lines = await cart_lines(ctx.session, ctx.customer)
    buyer = _buyer(ctx)
    plan = await delivery_plan(ctx.session, lines, buyer)
    by_product = {line.product_id: line for line in lines}

    def row(product_id: int) -> str:
        line = by_product[product_id]
        amount = line_amount(line.product.price, line.quantity)
        return f"• {line.product.name}: {ctx.qty(line.quantity)} {line.product.unit} = {ctx.money(amount)}"

    if ctx.buyer.get("payment") == BANK_TRANSFER and not all(p.partner.takes_transfers for p in plan.parcels):
        # The address changed to one whose partner takes cash only: ask how to pay again.
        ctx.buyer.pop("payment")
        ctx.say(_("The trading cooperative delivering this order takes cash on delivery only."))
        return await ask_next(ctx)
    missing = ", ".join(by_product[pid].product.name for pid in plan.undeliverable)
    if not plan.parcels:
        ctx.say(
            _("Sorry, no trading cooperative delivers {products} to {province} yet.").format(
                products=missing, province=buyer.province
            ),
            [Button(_("Change details"), "edit"), Button(_("View cart"), "cart"), Button(_("Main menu"), "menu")],
        )
        ctx.data.pop("plan", None)
        return None
    text = [_("Please check your order:")]
    for number, parcel in enumerate(plan.parcels, start=1):
        if len(plan.parcels) > 1:
            text.append(
                _("Part {number} of {count}, delivered by {partner}:").format(
                    number=number, count=len(plan.parcels), partner=parcel.partner.name
                )
            )
        else:
            text.append(_("Delivered by {partner}:").format(partner=parcel.partner.name))
        text += [row(product_id) for product_id in parcel.product_ids]
        text.append(_("Shipping fee: {fee}").format(fee=ctx.money(parcel.fee) if parcel.fee else _("free")))
    if missing:
        text.append(
            _("Cannot be delivered to {province}: {products} (they stay in your cart).").format(
                province=buyer.province, products=missing
            )
        )
    total = sum(parcel.subtotal + parcel.fee for parcel in plan.parcels)
    text += [
        _("Total to pay: {total}").format(total=ctx.money(total)),
        _("Receiver: {name}, {phone}").format(name=buyer.name, phone=buyer.phone),
        _("Address: {address}").format(address=buyer.address),
        _("Payment: bank transfer (VietQR); the QR code comes once you confirm")
        if ctx.buyer.get("payment") == BANK_TRANSFER
        else _("Payment: cash on delivery"),
    ]
    ctx.data["plan"] = plan.signature()
    ctx.say(
        "\n".join(text),
        [Button(_("Confirm order"), "confirm"), Button(_("Change details"), "edit"), Button(_("Stop"), "abort")],
    )
    return CONFIRM


def detail_answer(key: str, state: str, read: Callable[[str], str | None], retry: Callable[[Context], str]) -> Step:
    """The step for one typed checkout detail: taken from the message's slots or read from the whole text.

    A message naming products is an order in the middle of checkout and goes back to the intents.
    """

    async def answer(ctx: Context) -> str | None:
        if names_products(ctx):
            return NOT_MINE
        value = ctx.buyer.get(key) or read(ctx.parsed.text if ctx.parsed else "")
        if not value:
            ctx.say(retry(ctx))
            return state
        ctx.buyer[key] = value
        return await ask_next(ctx)

    return answer


name_answer = detail_answer(
    "name",
    NAME,
    clean_name,
    lambda ctx: ctx._("Please type the receiver's name in letters only, at most 60 characters."),
)
# The phone is only ever taken from the message's slots, which check it is a Vietnamese mobile number.
phone_answer = detail_answer(
    "phone",
    PHONE,
    lambda _text: None,
    lambda ctx: ctx._(
        "That is not a valid Vietnamese mobile number. Please type 10 digits starting with 0 "
        "(or +84), for example 0912345678."
    ),
)
address_answer = detail_answer(
    "address",
    ADDRESS,
    clean_address,
    lambda ctx: ctx._("Please type a full delivery address: house number, street, ward/commune, province."),
)


def _province_of(text: str) -> str | None:
    place = locate(text)
    return place.province if place else None


province_answer = detail_answer(
    "province",
    PROVINCE,
    _province_of,
    lambda ctx: ctx._("I do not know that province. Please type its name, for example: Lâm Đồng."),
)


async def _transfer_possible(ctx: Context) -> bool:
    """Can every partner delivering this cart take a VietQR transfer (has a receiving account)?"""
    plan = await delivery_plan(ctx.session, await cart_lines(ctx.session, ctx.customer), _buyer(ctx))
    return bool(plan.parcels) and all(parcel.partner.takes_transfers for parcel in plan.parcels)


async def payment_answer(ctx: Context) -> str | None:
    """Cash on delivery or VietQR bank transfer, by button or words ("tiền mặt", "chuyển khoản")."""
    text = " ".join(ctx.parsed.words) if ctx.parsed else ""
    if ctx.payload == f"pay:{CASH_ON_DELIVERY}" or any(w in text for w in _PAY_COD_WORDS) or text == "1":
        ctx.buyer["payment"] = CASH_ON_DELIVERY
        return await ask_next(ctx)
    wants_transfer = ctx.payload == f"pay:{BANK_TRANSFER}" or text == "2"
    if wants_transfer or any(w in f" {text} " for w in (f" {w} " for w in _PAY_TRANSFER_WORDS)):
        if await _transfer_possible(ctx):
            ctx.buyer["payment"] = BANK_TRANSFER
        else:
            ctx.say(ctx._("The trading cooperative delivering this order takes cash on delivery only."))
    return await ask_next(ctx)


async def confirm_answer(ctx: Context) -> str | None:
    """Place the order on "confirm"; anything else shows the summary again."""
    text = " ".join(ctx.parsed.words) if ctx.parsed else ""
    if ctx.payload != "confirm" and text not in _YES_WORDS:
        if names_products(ctx):
            return NOT_MINE
        return await ask_next(ctx)
    return await _place(ctx)


async def _place(ctx: Context) -> str | None:
    _ = ctx._
    buyer = ctx.buyer
    if buyer.get("payment") == BANK_TRANSFER and not await _transfer_possible(ctx):
        return await summary(ctx)  # says why and asks how to pay again
    chat = Chat(ctx.incoming.channel, ctx.incoming.chat_id, ctx.locale)
    try:
        orders = await place_order(
            ctx.session, ctx.customer, _buyer(ctx), chat, agreed=ctx.data.get("plan"), payment_method=buyer["payment"]
        )
    except EmptyCart:
        return nothing_to_check_out(ctx)
    except NotEnoughStock as short:
        explain_shortage(ctx, short)
        return await show_cart(ctx)
    except (PlanChanged, NothingDeliverable):
        ctx.say(_("Delivery has changed since you looked (a trading cooperative is full today). Please check again."))
        return await summary(ctx)
    ordered = [await ctx.session.get(Product, line.product_id) for order in orders for line in order.lines]
    await alert_low_stock(ctx, [product for product in ordered if product is not None])
    ctx.customer.name, ctx.customer.phone, ctx.customer.address = buyer["name"], buyer["phone"], buyer["address"]
    ctx.data.pop("buyer", None)
    ctx.data.pop("plan", None)
    ctx.data["last_order"] = orders[0].code
    for order in orders:
        log.info("order placed", extra={"order": order.code, "channel": ctx.incoming.channel})
    rows = [
        _("• {code}: {total}, delivered by {partner}").format(
            code=order.code, total=ctx.money(order.total), partner=order.partner.name if order.partner else "?"
        )
        for order in orders
    ]
    ctx.say(
        "\n".join(
            [
                _("Thank you! Your order is placed, cash on delivery:")
                if buyer["payment"] == CASH_ON_DELIVERY
                else _("Thank you! Your order is placed; please pay it by bank transfer:"),
                *rows,
                _(
                    "We will tell you here when the trading cooperative accepts it. "
                    'Type "kiểm tra đơn {code}" to follow it.'
                ).format(code=orders[0].code),
            ]
        ),
        [
            *(Button(_("Order {code}").format(code=order.code), f"status:{order.code}") for order in orders[:2]),
            Button(_("Main menu"), "menu"),
        ],
    )
    for order in orders:
        if order.payment_method == BANK_TRANSFER:
            ctx.reply(payment_request(order, ctx.locale, ctx.settings.payment_deadline))
    return None


async def confirm_button(ctx: Context) -> str | None:
    """Button "confirm": place the order if one waits for confirmation, else say why nothing happens."""
    if ctx.state == CONFIRM:
        return await _place(ctx)
    code = ctx.data.get("last_order")
    if code:
        ctx.say(
            ctx._("Your order {code} is already confirmed; nothing more to do.").format(code=code),
            [Button(ctx._("Order status"), f"status:{code}")],
        )
    else:
        ctx.say(ctx._("There is no order waiting for confirmation."), menu_buttons(ctx))
    return None


async def edit(ctx: Context) -> str | None:
    """Ask the details of this order again (the saved ones change only when an order is placed)."""
    ctx.data["buyer"] = {}
    return await ask_next(ctx)


FLOW = Flow(
    name="checkout",
    entry={"checkout": start},
    states={
        NAME: name_answer,
        PHONE: phone_answer,
        ADDRESS: address_answer,
        PROVINCE: province_answer,
        PAYMENT: payment_answer,
        CONFIRM: confirm_answer,
    },
    payloads={"checkout": start, "pay": payment_answer, "confirm": confirm_button, "edit": edit},
)
