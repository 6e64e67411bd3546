"""Cooperatives run their shop by chat: link an account, see and change stock, harvests, prices, visibility.

Commands (with or without diacritics): /lienket CODE, /kho, /kho SẢN PHẨM SỐ, /kho lichsu SẢN PHẨM,
/nhap SẢN PHẨM SỐ [NGÀY] (a harvest batch; the day is asked when not given), /gia SẢN PHẨM GIÁ, /an SẢN PHẨM,
/hien SẢN PHẨM, /moi [staff|owner], /nhanvien, /xoa ID, /canhbao SẢN PHẨM SỐ, /lenh. Plain words work too for
linked accounts: "thanh long ruột đỏ còn 500 ký", "nhập thêm 200kg ruột trắng", "giá cải ngọt 28k", "hết cà chua rồi".
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from bot import charts
from bot.context import NOT_MINE, Context
from bot.flows import Flow, coop_new_product
from bot.flows.origin import describe
from bot.i18n import VIETNAM
from bot.nlu.dates import find_day, without
from bot.nlu.numbers import parse_price
from bot.nlu.parse import Item, parse
from bot.order_texts import status_name
from catalog import accounts, changes
from catalog.harvests import MAX_AGE_DAYS, HarvestRefused, record_batch
from catalog.models import CoopAccount, Product, vietnam_day
from catalog.origin import origin_of
from catalog.queries import list_products, search_entry
from catalog.search import ProductIndex, fold
from channels.types import Button, Image
from orders.partner_accounts import attach_chat
from orders.reserved import orders_for_cooperative, reserved, sales_by_product

log = logging.getLogger(__name__)

CONFIRMING = "coop.confirm"
CHOOSING = "coop.choose"
HARVEST_DAY = "coop.harvest_day"
_COMMAND = re.compile(r"^\s*/([a-z]+)\b\s*(.*)$", re.DOTALL)
_LINK = re.compile(r"^\s*(?:/lienket|lien ket)\s+([a-z0-9]{4,16})\s*$")
# Plain-words forms, on folded text, for linked accounts only.
_WORDS = [
    ("nhap", re.compile(r"^(?:nhap(?: them)?|thu hoach(?: them)?|them)\b")),
    ("gia", re.compile(r"^(?:gia|doi gia|sua gia)\b")),
    ("het", re.compile(r"^het\b|\bhet hang\b|\bda het\b")),
    ("kho", re.compile(r"\b(?:con|ton|con lai)\b")),
]
_YES = {"co", "ok", "oke", "dong y", "xac nhan", "dung", "u", "uh", "vang", "yes", "1"}


async def route(ctx: Context) -> str | None:
    """Handle a cooperative's message, or return NOT_MINE so it is read as a buyer's."""
    text = fold(ctx.incoming.text or "").strip()
    if not text:
        return NOT_MINE
    linked = _LINK.match(text)
    if linked:
        return await link(ctx, linked.group(1))
    account = await accounts.account_of(ctx.session, ctx.incoming.channel, ctx.incoming.user_id)
    command = _COMMAND.match(text)
    if account is None:
        if command and command.group(1) in COMMANDS:
            ctx.say(
                ctx._(
                    "Only a cooperative's linked accounts can do that. Ask your cooperative for a code, "
                    "then send /lienket CODE."
                )
            )
            log.info("coop command refused: not linked", extra={"channel": ctx.incoming.channel})
            return None
        return NOT_MINE
    if command:
        name, rest = command.group(1), command.group(2)
        if name not in COMMANDS:
            return NOT_MINE
        ctx.data["coop_command"] = name
        return await _after_choice(ctx, await COMMANDS[name](ctx, account, rest))
    for name, pattern in _WORDS:
        if pattern.search(text) and await _names_own_product(ctx, account, text):
            ctx.data["coop_command"] = name
            return await _after_choice(ctx, await COMMANDS[name](ctx, account, text))
    return NOT_MINE


async def _after_choice(ctx: Context, next_state: str | None) -> str | None:
    """Stay on "which product?" when the command had to ask it."""
    return CHOOSING if next_state is None and "coop_choice" in ctx.data else next_state


async def pick(ctx: Context) -> str | None:
    """The answer to "which product?" (button `coopick:SKU`, or its number on Zalo): run the command again."""
    choice = ctx.data.pop("coop_choice", None)
    found = await _own_sku(ctx, (ctx.payload or "").partition(":")[2])
    if choice is None or found is None:
        ctx.say(ctx._("Nothing changed."))
        return None
    account, product = found
    return await _after_choice(ctx, await COMMANDS[choice["command"]](ctx, account, f"{product.name} {choice['rest']}"))


async def _own_sku(ctx: Context, sku: str) -> tuple[CoopAccount, Product] | None:
    """This chat account's cooperative and its product with the SKU (hidden ones included), when both exist."""
    account = await accounts.account_of(ctx.session, ctx.incoming.channel, ctx.incoming.user_id)
    if account is None:
        return None
    products = {p.sku: p for p in await list_products(ctx.session, account.cooperative.code, include_hidden=True)}
    return (account, products[sku]) if sku in products else None


async def link(ctx: Context, code: str) -> str | None:
    """/lienket CODE: make this chat account act for the code's cooperative, or, with a partner's code, make this
    chat (a Telegram group, a Zalo account) receive and act on that partner's orders (bot/flows/partner.py)."""
    channel, user_id = ctx.incoming.channel, ctx.incoming.user_id
    try:
        invite = await accounts.spend(ctx.session, channel, user_id, code)
        if invite.cooperative_id is None and invite.partner_id is None:
            raise accounts.LinkRefused("unknown")
    except accounts.LinkRefused as refused:
        log.warning("link refused", extra={"channel": ctx.incoming.channel, "reason": refused.reason})
        messages = {
            "too_many_attempts": ctx._("Too many wrong codes. Please wait 10 minutes and try again."),
            "expired": ctx._("This code has expired. Ask your cooperative for a new one."),
            "used": ctx._("This code has already been used. Ask your cooperative for a new one."),
        }
        ctx.say(messages.get(refused.reason, ctx._("This code is not valid. Please check it and try again.")))
        return None
    if invite.partner_id is not None:
        chat = await attach_chat(ctx.session, channel, ctx.incoming.chat_id, invite, by=f"{channel}:{user_id}")
        log.info("partner chat linked", extra={"channel": channel, "chat": chat.chat_id, "partner": chat.partner.code})
        ctx.say(
            ctx._(
                "Linked: this chat now receives the orders of {partner}. Send /donmoi to see the orders waiting for "
                "you, /lenh for the commands."
            ).format(partner=chat.partner.name)
        )
        return None
    account = await accounts.attach(ctx.session, channel, user_id, invite)
    log.info("account linked", extra={"channel": ctx.incoming.channel, "coop": account.cooperative.code})
    ctx.say(
        ctx._("Linked: you now act for {coop} as {role}. Send /lenh to see what you can do.").format(
            coop=account.cooperative.name, role=_role(ctx, account.role)
        )
    )
    return None


async def stock(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/kho: the stock list; /kho SẢN PHẨM SỐ: set what is on hand; /kho lichsu SẢN PHẨM: its changes."""
    words = fold(rest).split()
    if not words:
        return await _stock_list(ctx, account)
    if words[0] == "lichsu":
        return await _history(ctx, account, " ".join(words[1:]))
    found = await _product_and_quantity(ctx, account, rest)
    if found is None:
        return None
    product, quantity = found
    return await _change(ctx, account, product, "stock", quantity)


async def harvest(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/nhap SẢN PHẨM SỐ [NGÀY]: a harvest batch ("ngày 20/11", "hôm qua"), added to the stock; without a day, the
    day is asked first."""
    said = find_day(rest, vietnam_day())
    found = await _product_and_quantity(ctx, account, without(rest, said))
    if found is None:
        return None
    product, quantity = found
    if said is None:
        ctx.data["harvest"] = {"sku": product.sku, "quantity": str(quantity)}
        ctx.say(
            ctx._(
                "{name}, {quantity} {unit}: which day was it harvested? Choose, or type the date (e.g. 20/11)."
            ).format(name=product.name, quantity=ctx.qty(quantity), unit=product.unit),
            _day_buttons(ctx),
        )
        return HARVEST_DAY
    if said.value is None:
        ctx.say(ctx._("That date does not exist. Please write it as day/month, for example 20/11."))
        return None
    return await _record_harvest(ctx, product, quantity, said.value)


async def harvest_day_answer(ctx: Context) -> str | None:
    """The answer to "which day was it harvested?": a button (`harvestday:DAYS_AGO`) or a typed date."""
    pending = ctx.data.pop("harvest", None) or {}
    found = await _own_sku(ctx, pending.get("sku", ""))
    if found is None:
        ctx.say(ctx._("Nothing changed."))
        return None
    product = found[1]
    today = vietnam_day()
    days_ago = (ctx.payload or "").partition(":")[2]
    said = find_day(fold(ctx.incoming.text or ""), today) if ctx.payload is None else None
    if days_ago.isdigit():
        day = today - timedelta(days=int(days_ago))
    elif said is not None and said.value is not None:
        day = said.value
    else:
        ctx.data["harvest"] = pending
        ctx.say(ctx._('Please choose the harvest day, or type it (e.g. 20/11); "hủy" to stop.'), _day_buttons(ctx))
        return HARVEST_DAY
    return await _record_harvest(ctx, product, Decimal(pending["quantity"]), day)


def _day_buttons(ctx: Context) -> list[Button]:
    return [Button(ctx._("Today"), "harvestday:0"), Button(ctx._("Yesterday"), "harvestday:1")]


async def _record_harvest(ctx: Context, product: Product, quantity: Decimal, day: date) -> str | None:
    """Record the harvest batch and add it to the stock; the reply gives the batch code and what its label shows."""
    product = await changes.locked(ctx.session, product)
    try:
        batch = await record_batch(ctx.session, product, day, quantity, _actor(ctx))
    except HarvestRefused as refused:
        refusals = {
            "future": ctx._("The harvest date cannot be in the future. Nothing changed."),
            "too_old": ctx._("The harvest date is more than {days} days ago; please check it. Nothing changed.").format(
                days=MAX_AGE_DAYS
            ),
            "quantity": ctx._("Please check the quantity. Nothing changed."),
        }
        ctx.say(refusals.get(refused.reason, ctx._("Nothing changed.")))
        return None
    new = await changes.add_harvest(ctx.session, product, quantity, _actor(ctx))
    added = ctx._("Added {quantity} {unit} of {name}. Available now: {available} {unit}.").format(
        quantity=ctx.qty(quantity), unit=product.unit, name=product.name, available=ctx.qty(new)
    )
    origin = await origin_of(ctx.session, batch.code)
    assert origin is not None
    label = ctx._("Batch code for the labels: {code}. Buyers who scan it see:").format(code=batch.code)
    ctx.say(f"{added}\n\n{label}\n{describe(ctx, origin)}")
    return None


async def price(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/gia SẢN PHẨM GIÁ: change a price ("25k", "25.000", "25 nghìn")."""
    product = await _own_product(ctx, account, rest)
    if product is None:
        return None
    amount = parse_price(fold(rest))
    if amount is None:
        ctx.say(ctx._("Please add the new price, for example: /gia {name} 25k").format(name=product.name))
        return None
    return await _change(ctx, account, product, "price", Decimal(amount))


async def sold_out(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """ "hết cà chua rồi": nothing left on hand."""
    product = await _own_product(ctx, account, rest)
    if product is None:
        return None
    return await _apply(ctx, product, "stock", Decimal(0))


async def hide(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/an SẢN PHẨM: buyers no longer see it."""
    return await _visibility(ctx, account, rest, hidden=True)


async def show(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/hien SẢN PHẨM: buyers see it again."""
    return await _visibility(ctx, account, rest, hidden=False)


async def alert_level(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/canhbao SẢN PHẨM SỐ: below this stock the cooperative's accounts are told."""
    found = await _product_and_quantity(ctx, account, rest)
    if found is None:
        return None
    product, level = found
    await changes.set_low_stock_level(ctx.session, product, level, _actor(ctx))
    ctx.say(
        ctx._("You will be told when {name} falls below {level} {unit}.").format(
            name=product.name, level=ctx.qty(level), unit=product.unit
        )
    )
    await alert_low_stock(ctx, [product])
    return None


async def alert_low_stock(ctx: Context, products: list[Product]) -> None:
    """Tell each linked account of a product's cooperative, once, that its stock fell below the alert level."""
    for product in products:
        if not changes.take_low_stock_alert(product):
            continue
        for account in await accounts.accounts_of(ctx.session, product.cooperative_id):
            ctx.notify(
                account.channel,
                account.user_id,
                ctx._(
                    "Low stock: only {stock} {unit} of {name} left for buyers. Send /nhap {name} <quantity> after "
                    "the next harvest."
                ).format(stock=ctx.qty(product.stock), unit=product.unit, name=product.name),
            )
        log.info("low stock alert", extra={"sku": product.sku})


async def cooperative_orders(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/donhang: open orders and today's orders that contain the cooperative's products."""
    today = datetime.now(VIETNAM).replace(hour=0, minute=0, second=0, microsecond=0)
    found = await orders_for_cooperative(ctx.session, account.cooperative_id, today)
    if not found:
        ctx.say(ctx._("No open orders and no orders today for {coop}.").format(coop=account.cooperative.name))
        return None
    products = {p.id for p in await list_products(ctx.session, account.cooperative.code, include_hidden=True)}
    rows = []
    for order in found:
        lines = ", ".join(
            f"{line.name} {ctx.qty(line.quantity)} {line.unit}" for line in order.lines if line.product_id in products
        )
        handler = order.partner.name if order.partner else ctx._("no trading cooperative yet")
        state = f"{status_name(order.status, ctx.locale)}; {handler}"
        rows.append(f"• {order.code} ({ctx.when(order.created_at)}, {state}): {lines}")
    ctx.say(ctx._("Orders with {coop}'s products:").format(coop=account.cooperative.name) + "\n" + "\n".join(rows))
    return None


async def sales_report(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/baocao [7|30]: what sold, per product, over the last days (7 by default)."""
    days = 30 if fold(rest).strip() == "30" else 7
    since = datetime.now(VIETNAM).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    sales = await sales_by_product(ctx.session, account.cooperative_id, since)
    if not sales:
        ctx.say(ctx._("No sales in the last {days} days.").format(days=days))
        return None
    rows = [f"• {name}: {ctx.qty(quantity)} {unit} – {ctx.money(amount)}" for name, unit, quantity, amount in sales]
    total = sum(amount for *_, amount in sales)
    title = ctx._("Sales of {coop} in the last {days} days:").format(coop=account.cooperative.name, days=days)
    ctx.say(title + "\n" + "\n".join(rows) + "\n" + ctx._("Total: {total}").format(total=ctx.money(total)))
    png = charts.sales_chart(title.rstrip(":"), [(name, Decimal(amount)) for name, _, _, amount in sales])
    path = await charts.store(ctx.session, png)
    ctx.reply(Image(path, title.rstrip(":")))  # each channel makes the path absolute with HTX_PUBLIC_URL
    return None


async def invite(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/moi [staff|owner]: an owner makes a one-time code for a new account."""
    if account.role != accounts.OWNER:
        ctx.say(ctx._("Only an owner of the cooperative can invite new accounts."))
        return None
    role = accounts.OWNER if fold(rest).strip() == "owner" else accounts.STAFF
    code = await accounts.create_invite(ctx.session, account.cooperative, role, _actor(ctx))
    ctx.say(
        ctx._("New code for {role}: {code} (valid 24 hours, once). The new person sends: /lienket {code}").format(
            role=_role(ctx, role), code=code
        )
    )
    return None


async def staff(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/nhanvien: who acts for the cooperative."""
    rows = [
        f"• {a.id}: {a.channel} ({_role(ctx, a.role)})"
        for a in await accounts.accounts_of(ctx.session, account.cooperative_id)
    ]
    ctx.say(ctx._("Accounts of {coop}:").format(coop=account.cooperative.name) + "\n" + "\n".join(rows))
    return None


async def remove(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/xoa ID: an owner unlinks a staff account."""
    target = rest.strip()
    if account.role != accounts.OWNER or not target.isdigit():
        ctx.say(ctx._("An owner can unlink a staff account with /xoa and its number from /nhanvien."))
        return None
    if await accounts.remove_account(ctx.session, account.cooperative_id, int(target)):
        ctx.say(ctx._("Account {id} is unlinked.").format(id=target))
    else:
        ctx.say(ctx._("There is no staff account {id} in your cooperative.").format(id=target))
    return None


async def commands_help(ctx: Context, account: CoopAccount, rest: str) -> str | None:
    """/lenh: what a cooperative can send."""
    ctx.say(
        ctx._(
            "Commands for {coop}:\n"
            "/kho – stock list\n/kho <product> <quantity> – set stock on hand\n/kho lichsu <product> – changes\n"
            "/nhap <product> <quantity> [date] – record a harvest batch (e.g. hôm qua, 20/11)\n"
            "/gia <product> <price> – change a price (e.g. 25k)\n"
            "/an <product>, /hien <product> – hide or show a product\n"
            "/canhbao <product> <quantity> – low-stock alert level\n/donhang – open and today's orders\n"
            "/them – add a product\n/baocao [7|30] – sales of the last days\n"
            "/moi – invite staff (owners)\n"
            'Plain words work too: "thanh long ruột đỏ còn 500 ký", "giá cải ngọt 28k", "hết cà chua rồi".'
        ).format(coop=account.cooperative.name)
    )
    return None


async def confirm_answer(ctx: Context) -> str | None:
    """The answer to "are you sure?" before a change that looks like a typo."""
    pending = ctx.data.pop("pending_change", None)
    text = " ".join(ctx.parsed.words) if ctx.parsed else ""
    if pending is None:
        return None
    if ctx.payload != "coopok" and text not in _YES:
        ctx.say(ctx._("Nothing changed."))
        return None
    products = {p.sku: p for p in await list_products(ctx.session, include_hidden=True)}
    product = products.get(pending["sku"])
    if product is None:
        return None
    return await _apply(ctx, product, pending["field"], Decimal(pending["value"]))


COMMANDS = {
    "kho": stock,
    "nhap": harvest,
    "gia": price,
    "het": sold_out,
    "an": hide,
    "hien": show,
    "moi": invite,
    "nhanvien": staff,
    "xoa": remove,
    "lenh": commands_help,
    "canhbao": alert_level,
    "donhang": cooperative_orders,
    "them": coop_new_product.start,
    "baocao": sales_report,
}


async def _change(ctx: Context, account: CoopAccount, product: Product, field: str, value: Decimal) -> str | None:
    """Apply a change, first asking when it looks like a typo; an impossible stock is refused without asking."""
    held = (await reserved(ctx.session, [product.id]))[product.id]
    if field == "stock" and value < held:
        return _below_reserved(ctx, product, held)
    old = Decimal(product.price) if field == "price" else product.stock + held
    if changes.looks_like_a_mistake(field, old, value):
        ctx.data["pending_change"] = {"sku": product.sku, "field": field, "value": str(value)}
        before, after = (
            (ctx.money(int(old)), ctx.money(int(value)))
            if field == "price"
            else (f"{ctx.qty(old)} {product.unit}", f"{ctx.qty(value)} {product.unit}")
        )
        ctx.say(
            ctx._("{name}: from {old} to {new}? That is a big change; please confirm.").format(
                name=product.name, old=before, new=after
            ),
            [Button(ctx._("Yes, change it"), "coopok"), Button(ctx._("No"), "coopno")],
        )
        return CONFIRMING
    return await _apply(ctx, product, field, value)


async def _apply(ctx: Context, product: Product, field: str, value: Decimal) -> str | None:
    product = await changes.locked(ctx.session, product)
    if field == "price":
        await changes.set_price(ctx.session, product, int(value), _actor(ctx))
        ctx.say(
            ctx._("New price of {name}: {price}/{unit}.").format(
                name=product.name, price=ctx.money(product.price), unit=product.unit
            )
        )
        return None
    held = (await reserved(ctx.session, [product.id]))[product.id]
    try:
        available = await changes.set_on_hand(ctx.session, product, value, held, _actor(ctx))
    except changes.BelowReserved:
        return _below_reserved(ctx, product, held)
    await alert_low_stock(ctx, [product])
    ctx.say(
        ctx._("{name}: {on_hand} {unit} on hand, {held} held by open orders, {available} for buyers.").format(
            name=product.name,
            on_hand=ctx.qty(value),
            held=ctx.qty(held),
            available=ctx.qty(available),
            unit=product.unit,
        )
    )
    return None


def _below_reserved(ctx: Context, product: Product, held: Decimal) -> str | None:
    ctx.say(
        ctx._(
            "Open orders already hold {held} {unit} of {name}, so the stock on hand cannot be less than that."
        ).format(held=ctx.qty(held), unit=product.unit, name=product.name)
    )
    return None


async def _stock_list(ctx: Context, account: CoopAccount) -> str | None:
    products = await list_products(ctx.session, account.cooperative.code, include_hidden=True)
    held = await reserved(ctx.session, [p.id for p in products])
    rows = []
    for product in products:
        row = ctx._("• {name}: {available} {unit} for buyers, {held} held, {price}/{unit}").format(
            name=product.name,
            available=ctx.qty(product.stock),
            held=ctx.qty(held[product.id]),
            unit=product.unit,
            price=ctx.money(product.price),
        )
        level = changes.low_stock_level(product)
        if level is not None and product.stock < level:
            row += ctx._(" (low)")
        if product.hidden:
            row += ctx._(" (hidden)")
        rows.append(row)
    ctx.say(ctx._("Stock of {coop}:").format(coop=account.cooperative.name) + "\n" + "\n".join(rows))
    return None


async def _history(ctx: Context, account: CoopAccount, words: str) -> str | None:
    product = await _own_product(ctx, account, words)
    if product is None:
        return None
    rows = [
        f"• {ctx.when(c.at)} {c.actor}: {c.field} {c.old} → {c.new}"
        for c in await changes.history(ctx.session, product)
    ]
    ctx.say(ctx._("Changes to {name}:").format(name=product.name) + "\n" + ("\n".join(rows) or ctx._("none yet")))
    return None


async def _visibility(ctx: Context, account: CoopAccount, rest: str, hidden: bool) -> str | None:
    product = await _own_product(ctx, account, rest)
    if product is None:
        return None
    await changes.set_hidden(ctx.session, product, hidden, _actor(ctx))
    message = ctx._("{name} is hidden from buyers.") if hidden else ctx._("{name} is shown to buyers again.")
    ctx.say(message.format(name=product.name))
    return None


async def _named(ctx: Context, account: CoopAccount, words: str) -> tuple[Item | None, dict[str, Product]]:
    """The item the words name among the cooperative's own products (hidden ones included), read against an
    index of those products only, so another cooperative's products never fit."""
    products = {p.sku: p for p in await list_products(ctx.session, account.cooperative.code, include_hidden=True)}
    index = ProductIndex(search_entry(p) for p in products.values())
    items = [item for item in parse(words.replace("+", " "), index).items if item.candidates]
    return (items[0] if items else None), products


async def _names_own_product(ctx: Context, account: CoopAccount, words: str) -> bool:
    item, _ = await _named(ctx, account, words)
    return item is not None


async def _own_product(ctx: Context, account: CoopAccount, words: str) -> Product | None:
    found = await _own_item(ctx, account, words)
    return found[0] if found else None


async def _own_item(ctx: Context, account: CoopAccount, words: str) -> tuple[Product, Item] | None:
    """The one product of the cooperative the words name, with what was said of it; says why when none."""
    item, products = await _named(ctx, account, words)
    if item is None:
        ctx.say(
            ctx._("I could not find that product among {coop}'s products. Send /kho to see them.").format(
                coop=account.cooperative.name
            )
        )
        return None
    if item.sku is None:
        choices = [products[sku] for sku in item.candidates if sku in products]
        ctx.data["coop_choice"] = {"command": ctx.data.get("coop_command", "kho"), "rest": words}
        ctx.say(
            ctx._("Several of your products fit. Which one?"), [Button(p.name, f"coopick:{p.sku}") for p in choices]
        )
        return None
    return products[item.sku], item


async def _product_and_quantity(ctx: Context, account: CoopAccount, words: str) -> tuple[Product, Decimal] | None:
    found = await _own_item(ctx, account, words)
    if found is None:
        return None
    product, item = found
    if item.quantity is None or item.quantity < 0:
        ctx.say(
            ctx._("Please add the quantity in {unit}, for example: {name} 500").format(
                unit=product.unit, name=product.name
            )
        )
        return None
    return product, item.quantity


def _actor(ctx: Context) -> str:
    return f"{ctx.incoming.channel}:{ctx.incoming.user_id}"


def _role(ctx: Context, role: str) -> str:
    return ctx._("owner") if role == accounts.OWNER else ctx._("staff")


async def choice_typed(ctx: Context) -> str | None:
    """Text while "which product?" is open: a new message, so the question is dropped and the text read anew."""
    ctx.data.pop("coop_choice", None)
    return await route(ctx)


FLOW = Flow(
    name="coop_admin",
    states={CONFIRMING: confirm_answer, CHOOSING: choice_typed, HARVEST_DAY: harvest_day_answer},
    payloads={"coopok": confirm_answer, "coopno": confirm_answer, "coopick": pick, "harvestday": harvest_day_answer},
)
