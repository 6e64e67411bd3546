"""/them: a cooperative adds a product step by step: name, unit, price, stock, certifications, photo."""

from __future__ import annotations

from decimal import Decimal

from bot.context import Context
from bot.flows import Flow
from bot.nlu.numbers import parse_price
from bot.nlu.units import COUNT_UNITS
from catalog import accounts, changes
from catalog.models import CoopAccount
from catalog.search import fold
from channels.types import Button

NAME, UNIT, PRICE, STOCK, CERTIFICATIONS, PHOTO = (
    "coop.new.name",
    "coop.new.unit",
    "coop.new.price",
    "coop.new.stock",
    "coop.new.certs",
    "coop.new.photo",
)
UNITS = {"kg": "kg", "ky": "kg", "ki": "kg", **COUNT_UNITS}
CERTIFICATIONS_OFFERED = ("VietGAP", "GlobalGAP", "Hữu cơ")
_NONE = {"khong", "khong co", "ko", "k", "bo qua", "skip", "chua co"}


async def start(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/them: begin with the product's name."""
    ctx.data["new_product"] = {}
    ctx.say(
        ctx._("New product for {coop}. What is its name? (e.g. Thanh long ruột đỏ loại 1)").format(
            coop=account.cooperative.name
        )
    )
    return NAME


async def name_answer(ctx: Context) -> str | None:
    """The name, then the unit it is sold by."""
    name = " ".join((ctx.incoming.text or "").split())
    if not 2 <= len(name) <= 120 or not any(c.isalpha() for c in name):
        ctx.say(ctx._("Please type the product's name in words."))
        return NAME
    ctx.data["new_product"]["name"] = name
    ctx.say(ctx._("Sold by which unit?"), [Button(u, f"unit:{u}") for u in ("kg", "hộp", "bó", "trái", "thùng")])
    return UNIT


async def unit_answer(ctx: Context) -> str | None:
    """The unit, then the price."""
    said = (ctx.payload or "").partition(":")[2] or fold(ctx.incoming.text or "").strip()
    unit = UNITS.get(fold(said), said if said in UNITS.values() else None)
    if unit is None:
        ctx.say(ctx._("Please choose a unit: kg, hộp, bó, trái, thùng …"))
        return UNIT
    ctx.data["new_product"]["unit"] = unit
    ctx.say(ctx._("Price of one {unit}? (e.g. 35k or 35.000)").format(unit=unit))
    return PRICE


async def price_answer(ctx: Context) -> str | None:
    """The price, then the stock."""
    price = parse_price(fold(ctx.incoming.text or ""))
    if price is None:
        ctx.say(ctx._("Please type a price, for example 35k."))
        return PRICE
    ctx.data["new_product"]["price"] = price
    ctx.say(ctx._("How many {unit} do you have now?").format(unit=ctx.data["new_product"]["unit"]))
    return STOCK


async def stock_answer(ctx: Context) -> str | None:
    """The stock, then the certifications."""
    number = ctx.parsed.number if ctx.parsed else None
    if number is None or number < 0:
        ctx.say(ctx._("Please type a number, for example 3."))
        return STOCK
    ctx.data["new_product"]["stock"] = str(number)
    ctx.say(
        ctx._('Certifications? Choose, or type them separated by commas; "không" if none.'),
        [Button(c, f"cert:{c}") for c in CERTIFICATIONS_OFFERED] + [Button(ctx._("None"), "cert:")],
    )
    return CERTIFICATIONS


async def certifications_answer(ctx: Context) -> str | None:
    """The certifications, then a photo."""
    if ctx.payload is not None:
        chosen = ctx.payload.partition(":")[2]
        certifications = [chosen] if chosen else []
    else:
        text = (ctx.incoming.text or "").strip()
        certifications = (
            [] if fold(text) in _NONE else [c.strip() for c in text.replace(";", ",").split(",") if c.strip()]
        )
    ctx.data["new_product"]["certifications"] = certifications[:5]
    ctx.say(ctx._('Send a photo of the product, or type "bỏ qua" to add it without one.'))
    return PHOTO


async def photo_answer(ctx: Context) -> str | None:
    """The photo (or none): the product is created and shown to buyers at once."""
    if ctx.incoming.image_url is None and fold(ctx.incoming.text or "").strip() not in _NONE:
        ctx.say(ctx._('Please send a photo, or type "bỏ qua".'))
        return PHOTO
    account = await accounts.account_of(ctx.session, ctx.incoming.channel, ctx.incoming.user_id)
    details = ctx.data.pop("new_product", {})
    if account is None or not {"name", "unit", "price", "stock"} <= set(details):
        return None
    product = await changes.add_product(
        ctx.session,
        account.cooperative,
        name=details["name"],
        unit=details["unit"],
        price=details["price"],
        stock=Decimal(details["stock"]),
        certifications=details.get("certifications", []),
        image_url=ctx.incoming.image_url,
        actor=f"{ctx.incoming.channel}:{ctx.incoming.user_id}",
    )
    ctx.say(
        ctx._("Added {name} ({sku}): {price}/{unit}, {stock} {unit}. Buyers can find it now.").format(
            name=product.name,
            sku=product.sku,
            price=ctx.money(product.price),
            unit=product.unit,
            stock=ctx.qty(product.stock),
        )
    )
    return None


FLOW = Flow(
    name="coop_new_product",
    states={
        NAME: name_answer,
        UNIT: unit_answer,
        PRICE: price_answer,
        STOCK: stock_answer,
        CERTIFICATIONS: certifications_answer,
        PHOTO: photo_answer,
    },
    payloads={"unit": unit_answer, "cert": certifications_answer},
)
