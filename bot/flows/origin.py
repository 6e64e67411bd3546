"""Traceability in chat: "nguồn gốc thanh long Hàm Đức", a batch code, or a card's "Origin" button → the facts.

The same facts as the public page `GET /p/{code}` (bot/trace_page.py), as chat text, with the page's link:
absolute with HTX_PUBLIC_URL, else relative (`/p/CODE`), which the web chat page served by the same host reads.
"""

from __future__ import annotations

import re

from bot.context import Context
from bot.flows import Flow
from bot.trace_page import day, page_url
from catalog.models import Certificate
from catalog.origin import Origin, is_expired, origin_of
from catalog.queries import get_product
from channels.types import Button

# Codes as typed in a message: SKUs and batch codes ("TL-RD-HD", "TL-RD-HD-261126-2").
_CODE = re.compile(r"(?<![\w-])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+(?![\w-])")
MAX_CODES = 3
MAX_CHOICES = 10


def origin_button(title: str, sku: str) -> Button:
    """A button that shows a product's origin: "Origin" on a product card, the product's name in a choice."""
    return Button(title, f"origin:{sku}")


def link(ctx: Context, code: str) -> str:
    """The address of a code's traceability page for this chat."""
    return page_url(ctx.settings.public_url or "", code)


def describe(ctx: Context, origin: Origin) -> str:
    """The origin facts as chat text: producer, growing area, certificates (expired ones said so), OCOP stars,
    the harvest, and the page's link. Buyers read it, and cooperatives after /nhap read what their label shows."""
    _ = ctx._
    product, coop = origin.product, origin.cooperative
    lines = [_("Origin of {name}").format(name=product.name)]
    if origin.batch is not None:
        lines.append(
            _("Harvest batch {code}, harvested on {day}").format(
                code=origin.batch.code, day=day(origin.batch.harvested_on)
            )
        )
    elif origin.harvested_on is not None:
        lines.append(_("Latest harvest: {day}").format(day=day(origin.harvested_on)))
    lines.append(_("Producer: {name}").format(name=coop.name))
    if coop.address or coop.province:
        lines.append(_("Address: {address}").format(address=coop.address or coop.province))
    if coop.phone:
        lines.append(_("Phone: {phone}").format(phone=coop.phone))
    if coop.registration_code:
        lines.append(_("Cooperative registration no.: {code}").format(code=coop.registration_code))
    if product.growing_area_code:
        lines.append(_("Growing-area code: {code}").format(code=product.growing_area_code))
    certificates = [_certificate(ctx, c) for c in origin.certificates]
    certificates += [
        _("{label} (declared, no certificate number recorded)").format(label=label)
        for label in origin.undocumented_labels()
    ]
    if certificates:
        lines.append(_("Certifications:") + "".join(f"\n• {line}" for line in certificates))
    if product.ocop_stars:
        lines.append(_("OCOP: {stars} stars").format(stars=product.ocop_stars))
    lines.append(_("Traceability page: {link}").format(link=link(ctx, origin.code)))
    return "\n".join(lines)


async def ask(ctx: Context) -> str | None:
    """ "nguồn gốc …", "xuất xứ …", "truy xuất …": the origin of the batch code or product the message names."""
    assert ctx.parsed is not None
    codes = _CODE.findall(ctx.parsed.text)[:MAX_CODES]
    for code in codes:
        origin = await origin_of(ctx.session, code)
        if origin is not None:
            ctx.say(describe(ctx, origin))
            return None
    if codes:
        return await _show(ctx, codes[0])  # a code typed from a label that is not ours: say so
    skus = list(dict.fromkeys(sku for item in ctx.parsed.items for sku in item.candidates))
    if len(skus) == 1:
        return await _show(ctx, skus[0])
    products = [p for p in [await get_product(ctx.session, sku) for sku in skus[:MAX_CHOICES]] if p]
    if products:
        ctx.say(ctx._("Which product's origin?"), [origin_button(p.name, p.sku) for p in products])
    else:
        ctx.say(
            ctx._(
                'Which product? Type for example "nguồn gốc thanh long ruột đỏ Hàm Đức", or the batch code printed '
                "on the label."
            ),
            [Button(ctx._("Browse products"), "browse")],
        )
    return None


async def tapped(ctx: Context) -> str | None:
    """The "Origin" button (payload `origin:CODE`)."""
    return await _show(ctx, (ctx.payload or "").partition(":")[2])


async def _show(ctx: Context, code: str) -> str | None:
    origin = await origin_of(ctx.session, code) if code else None
    if origin is None:
        ctx.say(ctx._("I could not find that product or batch code."), [Button(ctx._("Browse products"), "browse")])
        return None
    ctx.say(describe(ctx, origin))
    return None


def _certificate(ctx: Context, certificate: Certificate) -> str:
    """ "VietGAP no. X (issuer), valid until 31/12/2027", or "… expired on …"."""
    text = ctx._("{scheme} no. {number}").format(scheme=certificate.scheme, number=certificate.number)
    if certificate.issuer:
        text += f" ({certificate.issuer})"
    if certificate.valid_until is None:
        return text
    ends = ctx._("EXPIRED on {day}") if is_expired(certificate) else ctx._("valid until {day}")
    return f"{text}, {ends.format(day=day(certificate.valid_until))}"


FLOW = Flow(name="origin", entry={"origin": ask}, payloads={"origin": tapped})
