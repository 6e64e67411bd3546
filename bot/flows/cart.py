"""The cart: add by button or free text, ask a quantity, choose between close products, show and change."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bot.context import NOT_MINE, Context
from bot.flows import Flow
from bot.flows.browse import not_found
from bot.nlu.parse import Item
from bot.nlu.units import to_sale_unit
from catalog.models import Product
from catalog.queries import get_product
from channels.types import Button
from orders.cart import (
    InvalidQuantity,
    NotEnoughStock,
    add_to_cart,
    cart_lines,
    clear_cart,
    find_line,
    line_amount,
    remove_from_cart,
    set_quantity,
)

ASKING_QUANTITY = "cart.quantity"
CHOOSING = "cart.choose"
# Products taken from one message; more is noise or a wholesale order for a person to handle.
MAX_ITEMS_PER_MESSAGE = 10


def after_add_buttons(ctx: Context) -> list[Button]:
    """What a buyer usually does next after adding something."""
    return [
        Button(ctx._("View cart"), "cart"),
        Button(ctx._("Check out"), "checkout"),
        Button(ctx._("Keep shopping"), "browse"),
    ]


async def add(ctx: Context, product: Product, quantity: Decimal, replace: bool = False) -> bool:
    """Put a quantity of a product in the cart and say so; explain politely when it cannot be done."""
    _ = ctx._
    try:
        if replace:
            line = await set_quantity(ctx.session, ctx.customer, product, quantity)
        else:
            line = await add_to_cart(ctx.session, ctx.customer, product, quantity)
    except InvalidQuantity:
        ctx.say(_("The quantity must be more than 0 and at most 5000."))
        return False
    except NotEnoughStock as short:
        explain_shortage(ctx, short)
        return False
    ctx.say(
        _("Added: {name}, {quantity} {unit} in your cart ({amount}).").format(
            name=product.name,
            quantity=ctx.qty(line.quantity),
            unit=product.unit,
            amount=ctx.money(line_amount(product.price, line.quantity)),
        )
    )
    return True


def explain_shortage(ctx: Context, short: NotEnoughStock) -> None:
    """Tell the buyer a product is sold out, or how much of it is left."""
    product = short.product
    if short.available <= 0:
        ctx.say(ctx._("Sorry, {name} is sold out for now.").format(name=product.name))
    else:
        ctx.say(
            ctx._("Sorry, only {available} {unit} of {name} are left. Please order at most that.").format(
                available=ctx.qty(short.available), unit=product.unit, name=product.name
            )
        )


async def ask_quantity(ctx: Context, product: Product) -> str:
    """Ask how much of a product, with a few common amounts as buttons."""
    ctx.data["picking"] = product.sku
    weight = f" ({ctx.qty(product.unit_weight_kg)} kg)" if product.unit_weight_kg and product.unit != "kg" else ""
    ctx.say(
        ctx._("How many {unit}{weight} of {name} would you like? ({price}/{unit})").format(
            unit=product.unit, weight=weight, name=product.name, price=ctx.money(product.price)
        ),
        [Button(f"{n} {product.unit}", f"add:{product.sku}:{n}") for n in (1, 2, 5, 10)],
    )
    return ASKING_QUANTITY


async def take_item(ctx: Context, item: Item, replace: bool = False) -> str | None:
    """Act on one product the buyer named: add it, ask how much, or ask which one."""
    if item.sku is None:
        return await ask_which(ctx, item)
    product = await get_product(ctx.session, item.sku)
    if product is None:
        return None
    if item.negative:
        ctx.say(ctx._("The quantity must be more than 0 and at most 5000."))
        return await ask_quantity(ctx, product)
    if item.quantity is None:
        if item.said_quantity is not None:
            ctx.say(
                ctx._("{name} is sold by the {unit}, so I could not count {said} in {unit}.").format(
                    name=product.name, unit=product.unit, said=item.said
                )
            )
        return await ask_quantity(ctx, product)
    if not await add(ctx, product, item.quantity, replace=replace):
        return await ask_quantity(ctx, product)
    return None


async def ask_which(ctx: Context, item: Item) -> str:
    """Several products fit equally: list them numbered (for channels without buttons) and as buttons."""
    products = [p for p in [await get_product(ctx.session, s) for s in item.candidates] if p]
    quantity = str(item.quantity) if item.quantity is not None else None
    ctx.data["choosing"] = {"skus": [p.sku for p in products], "quantity": quantity}
    listed = "\n".join(f"{n}. {p.name} – {ctx.money(p.price)}/{p.unit}" for n, p in enumerate(products, 1))
    ctx.say(
        ctx._("Which one do you mean? Tap it or type its number:") + "\n" + listed,
        [
            Button(f"{n}. {p.name}", f"add:{p.sku}:{quantity}" if quantity is not None else f"pick:{p.sku}")
            for n, p in enumerate(products, 1)
        ],
    )
    return CHOOSING


async def which_answer(ctx: Context) -> str | None:
    """The answer to "which one?": its number, or words that fit one of the choices better than the others."""
    choosing = ctx.data.get("choosing") or {}
    choices: list[str] = choosing.get("skus", [])
    parsed = ctx.parsed
    chosen = None
    if parsed is not None and parsed.number is not None and parsed.number_unit is None:
        position = int(parsed.number) if parsed.number == parsed.number.to_integral_value() else 0
        chosen = choices[position - 1] if 1 <= position <= len(choices) else None
    elif parsed is not None:
        chosen = ctx.index.best_of(choices, parsed.words)
    if chosen is None:
        if parsed is not None and (parsed.intent not in {"unknown", "search"} or parsed.number is not None):
            return NOT_MINE
        ctx.say(ctx._("Please type the number of the product you want, for example 1."))
        return CHOOSING
    ctx.data.pop("choosing", None)
    product = await get_product(ctx.session, chosen)
    if product is None:
        return no_longer_listed(ctx)
    if choosing.get("quantity") is None:
        return await ask_quantity(ctx, product)
    if not await add(ctx, product, Decimal(choosing["quantity"])):
        return await ask_quantity(ctx, product)
    ctx.say(ctx._("Anything else?"), after_add_buttons(ctx))
    return None


async def order(ctx: Context) -> str | None:
    """Free-text order: every product named, each with its quantity; what matched nothing is said once."""
    assert ctx.parsed is not None
    named = [item for item in ctx.parsed.items if item.candidates]
    missing = [item for item in ctx.parsed.items if not item.candidates]
    if missing:
        await not_found(ctx, missing[0].said, missing[0].unknown)
    if len(named) > MAX_ITEMS_PER_MESSAGE:
        ctx.say(ctx._("I can take up to 10 products per message; please send the rest in another message."))
    next_state = None
    for item in named[:MAX_ITEMS_PER_MESSAGE]:
        next_state = await take_item(ctx, item) or next_state
    added = any(item.sku and item.quantity is not None for item in named)
    # A message that also gave checkout details goes on to checkout (see the engine), so no "anything else?".
    if next_state is None and added and not ctx.parsed.has_buyer_details:
        ctx.say(ctx._("Anything else?"), after_add_buttons(ctx))
    return next_state


async def quantity_answer(ctx: Context) -> str | None:
    """The answer to "how many?": a number, maybe with a unit; anything else goes back to the intents."""
    parsed = ctx.parsed
    product = await get_product(ctx.session, ctx.data.get("picking", ""))
    if product is None:
        return None
    if parsed is None or parsed.number is None:
        if parsed is not None and (parsed.items or parsed.intent not in {"unknown"}):
            return NOT_MINE
        ctx.say(ctx._("Please type a number, for example 3."))
        return await ask_quantity(ctx, product)
    quantity = to_sale_unit(parsed.number, parsed.number_unit, product.unit, product.unit_weight_kg)
    if quantity is None:
        ctx.say(ctx._("{name} is sold by the {unit}. How many {unit}?").format(name=product.name, unit=product.unit))
        return ASKING_QUANTITY
    if not await add(ctx, product, quantity):
        return ASKING_QUANTITY
    ctx.data.pop("picking", None)
    ctx.say(ctx._("Anything else?"), after_add_buttons(ctx))
    return None


async def pick(ctx: Context) -> str | None:
    """Button "choose quantity" (`pick:SKU`)."""
    product = await get_product(ctx.session, (ctx.payload or "").partition(":")[2])
    if product is None:
        return no_longer_listed(ctx)
    return await ask_quantity(ctx, product)


async def add_button(ctx: Context) -> str | None:
    """Button `add:SKU:QUANTITY`; a quantity that is not a number asks for one."""
    parts = (ctx.payload or "").split(":")
    sku = parts[1] if len(parts) > 1 else ""
    amount = parts[2] if len(parts) == 3 else ""
    product = await get_product(ctx.session, sku)
    if product is None:
        return no_longer_listed(ctx)
    try:
        quantity = Decimal(amount)
    except InvalidOperation:
        return await ask_quantity(ctx, product)
    if not quantity.is_finite() or not await add(ctx, product, quantity):
        return await ask_quantity(ctx, product)
    ctx.data.pop("picking", None)
    ctx.say(ctx._("Anything else?"), after_add_buttons(ctx))
    return None


def no_longer_listed(ctx: Context) -> str | None:
    """A button for a product the catalogue no longer has (an old message, a changed catalogue)."""
    ctx.say(ctx._("That product is no longer listed."), [Button(ctx._("Browse products"), "browse")])
    return None


async def show(ctx: Context) -> str | None:
    """The cart with its total and the buttons to change it or check out."""
    _ = ctx._
    lines = await cart_lines(ctx.session, ctx.customer)
    if not lines:
        ctx.say(_("Your cart is empty."), [Button(_("Browse products"), "browse")])
        return None
    rows = [
        f"• {line.product.name}: {ctx.qty(line.quantity)} {line.product.unit} × {ctx.money(line.product.price)}"
        f" = {ctx.money(line_amount(line.product.price, line.quantity))}"
        for line in lines
    ]
    total = sum(line_amount(line.product.price, line.quantity) for line in lines)
    rows.append(_("Total: {total}").format(total=ctx.money(total)))
    buttons = [Button(_("Check out"), "checkout")]
    for line in lines[:4]:
        buttons += [
            Button(f"+1 {line.product.name}", f"inc:{line.product.sku}"),
            Button(f"−1 {line.product.name}", f"dec:{line.product.sku}"),
        ]
    buttons += [Button(_("Empty cart"), "clear"), Button(_("Keep shopping"), "browse")]
    ctx.say(_("Your cart:") + "\n" + "\n".join(rows), buttons)
    return None


async def edit(ctx: Context) -> str | None:
    """Free-text changes: "bỏ rau muống" removes, "sửa cà chua 2 ký" sets; otherwise show the cart."""
    assert ctx.parsed is not None
    for item in ctx.parsed.items:
        if ctx.parsed.cart_action == "remove" and item.sku:
            await _remove(ctx, item.sku)
        elif ctx.parsed.cart_action == "set" and item.sku and item.quantity is not None:
            await take_item(ctx, item, replace=True)
    return await show(ctx)


async def _remove(ctx: Context, sku: str) -> None:
    product = await get_product(ctx.session, sku)
    if product and await remove_from_cart(ctx.session, ctx.customer, product):
        ctx.say(ctx._("Removed {name} from your cart.").format(name=product.name))


async def step_button(ctx: Context) -> str | None:
    """Buttons `inc:SKU` and `dec:SKU`: one sale unit more or less (down to removing the line)."""
    action, _, sku = (ctx.payload or "").partition(":")
    product = await get_product(ctx.session, sku)
    line = await find_line(ctx.session, ctx.customer, product) if product else None
    if product is None or line is None:
        return await show(ctx)
    quantity = line.quantity + (1 if action == "inc" else -1)
    if quantity <= 0:
        await _remove(ctx, sku)
    else:
        await add(ctx, product, quantity, replace=True)
    return await show(ctx)


async def remove_button(ctx: Context) -> str | None:
    """Button `rm:SKU`."""
    await _remove(ctx, (ctx.payload or "").partition(":")[2])
    return await show(ctx)


async def empty(ctx: Context) -> str | None:
    """Button "empty cart"."""
    await clear_cart(ctx.session, ctx.customer)
    ctx.say(ctx._("Your cart is now empty."), [Button(ctx._("Browse products"), "browse")])
    return None


FLOW = Flow(
    name="cart",
    entry={"order": order, "cart": edit},
    states={ASKING_QUANTITY: quantity_answer, CHOOSING: which_answer},
    payloads={
        "cart": show,
        "pick": pick,
        "add": add_button,
        "inc": step_button,
        "dec": step_button,
        "rm": remove_button,
        "clear": empty,
    },
)


async def has_items(ctx: Context) -> bool:
    """True when the buyer's cart holds anything."""
    return bool(await cart_lines(ctx.session, ctx.customer))
