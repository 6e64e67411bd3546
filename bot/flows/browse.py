"""Browsing the catalogue: cooperatives, their products as cards, search by free text, prices."""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import Context
from bot.flows import Flow
from bot.flows.menu import menu_buttons
from bot.flows.origin import origin_button
from catalog.models import Product
from catalog.queries import get_cooperative, get_product, list_cooperatives, list_products
from channels.types import Button, Card, Cards

MAX_CARDS = 10


def product_card(ctx: Context, product: Product) -> Card:
    """A product as a card: price per unit, cooperative, certifications, stock, buy buttons and its origin.

    Three buttons at most: Messenger's generic template shows no more per card."""
    _ = ctx._
    facts = [f"{ctx.money(product.price)}/{product.unit} · {product.cooperative.name}"]
    labels = list(product.certifications)
    if product.ocop_stars:
        labels.append(_("OCOP {stars} stars").format(stars=product.ocop_stars))
    if labels:
        facts.append(" · ".join(labels))
    if product.stock > 0:
        facts.append(_("In stock: {quantity} {unit}").format(quantity=ctx.qty(product.stock), unit=product.unit))
    else:
        facts.append(_("Sold out"))
    buying = (
        (
            Button(_("Buy 1 {unit}").format(unit=product.unit), f"add:{product.sku}:1"),
            Button(_("Choose quantity"), f"pick:{product.sku}"),
        )
        if product.stock > 0
        else ()
    )
    return Card(product.name, "\n".join(facts), product.image_url, (*buying, origin_button(_("Origin"), product.sku)))


def show_products(ctx: Context, products: Sequence[Product]) -> None:
    """Show products as cards, at most `MAX_CARDS`."""
    ctx.reply(Cards(tuple(product_card(ctx, p) for p in products[:MAX_CARDS])))


async def cooperatives(ctx: Context) -> str | None:
    """List the producer cooperatives as buttons."""
    coops = await list_cooperatives(ctx.session)
    if not coops:
        ctx.say(ctx._("The catalogue is empty for now. Please come back later."))
        return None
    buttons = [Button(c.name, f"coop:{c.code}") for c in coops]
    ctx.say(ctx._("Our cooperatives. Choose one to see its products:"), buttons)
    return None


async def cooperative_products(ctx: Context) -> str | None:
    """Show one cooperative's products (payload `coop:CODE`)."""
    code = (ctx.payload or "").partition(":")[2]
    coop = await get_cooperative(ctx.session, code)
    if coop is None:
        ctx.say(ctx._("That cooperative is no longer listed."), menu_buttons(ctx))
        return None
    ctx.say(f"{coop.name}\n{coop.description}".strip())
    show_products(ctx, await list_products(ctx.session, code))
    return None


async def search(ctx: Context) -> str | None:
    """Products matching the words of the message, as cards; suggestions when nothing fits."""
    assert ctx.parsed is not None
    skus = [sku for item in ctx.parsed.items for sku in item.candidates]
    if not skus:
        missing = ctx.parsed.items[0] if ctx.parsed.items else None
        return await not_found(ctx, missing.said if missing else ctx.parsed.text, missing.unknown if missing else "")
    products = [p for p in [await get_product(ctx.session, s) for s in dict.fromkeys(skus)] if p]
    show_products(ctx, products)
    return None


async def price(ctx: Context) -> str | None:
    """Answer "giá bao nhiêu": the price of each product named, and what a given quantity costs."""
    assert ctx.parsed is not None
    lines, priced = [], []
    for item in ctx.parsed.items:
        for sku in item.candidates:
            product = await get_product(ctx.session, sku)
            if product is None:
                continue
            line = ctx._("{name}: {price}/{unit}").format(
                name=product.name, price=ctx.money(product.price), unit=product.unit
            )
            if item.quantity is not None and item.sku:
                line += ctx._(" → {quantity} {unit} = {amount}").format(
                    quantity=ctx.qty(item.quantity),
                    unit=product.unit,
                    amount=ctx.money(round(product.price * item.quantity)),
                )
            lines.append(line)
            priced.append(product)
    if not lines:
        return await not_found(ctx, ctx.parsed.text)
    ctx.say("\n".join(lines), [Button(ctx._("Buy {name}").format(name=p.name), f"pick:{p.sku}") for p in priced[:3]])
    return None


async def not_found(ctx: Context, said: str, words: str = "") -> str | None:
    """Say nothing matched, offering the products whose names read closest, and the catalogue."""
    suggested = [p for p in [await get_product(ctx.session, s) for s in ctx.index.suggest(words or said)] if p]
    if suggested:
        ctx.say(
            ctx._('I could not find "{said}". Did you mean:').format(said=said[:60]),
            [Button(p.name, f"pick:{p.sku}") for p in suggested],
        )
    else:
        ctx.say(
            ctx._('I could not find "{said}" in our catalogue.').format(said=said[:60]),
            [Button(ctx._("Browse products"), "browse")],
        )
    return None


FLOW = Flow(
    name="browse",
    entry={"browse": cooperatives, "search": search, "price": price},
    payloads={"browse": cooperatives, "coop": cooperative_products},
)
