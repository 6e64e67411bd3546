"""The public traceability page `GET /p/{code}` of a product or harvest batch, and its QR `GET /p/{code}.png`."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import segno
from aiohttp import web
from babel.dates import format_date
from jinja2 import Environment, PackageLoader, select_autoescape

from bot import i18n
from bot.keys import SESSIONS, SETTINGS
from bot.settings import Settings
from catalog.models import vietnam_day
from catalog.origin import Origin, is_expired, origin_of

# A page changes when a batch or certificate is recorded; five minutes keeps scans fast and news fresh.
PAGE_CACHE = "public, max-age=300"
NOT_FOUND_CACHE = "public, max-age=60"
QR_CACHE = "public, max-age=86400"
QUIET_ZONE = 4  # modules of white around a QR, as ISO/IEC 18004 asks
# Telegram deep-link parameter: up to 64 of A-Z a-z 0-9 _ - (https://core.telegram.org/bots/features#deep-linking).
_TELEGRAM_START = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

TEMPLATES = Environment(
    loader=PackageLoader("bot", "templates"),
    autoescape=select_autoescape(),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ChatLink:
    """Where a buyer can order in chat: the platform ("zalo", "messenger", "telegram", "web") and its address."""

    platform: str
    url: str


def page_url(base: str, code: str) -> str:
    """The absolute address of a code's page, the one every QR and chat message gives: `<base>/p/<code>`."""
    return f"{base.rstrip('/')}/p/{quote(code, safe='')}"


def day(value: date) -> str:
    """A calendar day as dd/mm/yyyy, the way Vietnamese labels and certificates write it (in every language)."""
    return format_date(value, "dd/MM/yyyy", locale="vi_VN")


def telegram_start(code: str) -> str | None:
    """The /start parameter that tells the Telegram bot which page the buyer came from ("p_TL-RD-HD"), if it fits."""
    start = f"p_{code}"
    return start if _TELEGRAM_START.match(start) else None


def chat_links(settings: Settings, code: str | None) -> list[ChatLink]:
    """The chats a buyer can order in: each configured platform, then always the web chat page; the Telegram link
    carries the code of the page the buyer is on."""
    links = []
    if settings.zalo_oa_id:
        links.append(ChatLink("zalo", f"https://zalo.me/{quote(settings.zalo_oa_id, safe='')}"))
    if settings.messenger_page_id:
        links.append(ChatLink("messenger", f"https://m.me/{quote(settings.messenger_page_id, safe='')}"))
    if settings.telegram_bot_username:
        url = f"https://t.me/{quote(settings.telegram_bot_username.lstrip('@'), safe='')}"
        start = telegram_start(code) if code else None
        links.append(ChatLink("telegram", f"{url}?start={start}" if start else url))
    links.append(ChatLink("web", "/"))
    return links


def qr_code(url: str) -> segno.QRCode:
    """The QR of a page address, for screens and printed labels alike: error correction Q, so a scratched or dirty
    label still scans (draw it with a `QUIET_ZONE`-module white border)."""
    return segno.make_qr(url, error="q")


def qr_png(url: str, scale: int = 8) -> bytes:
    """The QR of a page address as PNG bytes."""
    buffer = io.BytesIO()
    qr_code(url).save(buffer, kind="png", scale=scale, border=QUIET_ZONE)
    return buffer.getvalue()


def base_url(request: web.Request) -> str:
    """HTX_PUBLIC_URL when set, else this request's own scheme and host (right for a direct visit, not behind a
    proxy that rewrites them: printed labels need HTX_PUBLIC_URL)."""
    return request.app[SETTINGS].public_url or f"{request.scheme}://{request.host}"


def _locale(request: web.Request) -> str:
    return "en" if request.query.get("lang") == "en" else "vi"


def _render(request: web.Request, template: str, locale: str, **values: object) -> str:
    translations = i18n.translations(locale)

    def gettext(message: str, **arguments: object) -> str:
        text = translations.gettext(message)
        return text % arguments if arguments else text

    other = "vi" if locale == "en" else "en"
    switch = request.rel_url.with_query({"lang": "en"} if other == "en" else None)
    return TEMPLATES.get_template(template).render(
        _=gettext,
        locale=locale,
        other_locale=other,
        switch_url=str(switch),
        day=day,
        quantity=lambda value: i18n.quantity(value, locale),
        **values,
    )


async def page(request: web.Request) -> web.Response:
    """The page of a product or harvest batch; a polite 404 page, in the same language, for an unknown code."""
    code = request.match_info["code"]
    locale = _locale(request)
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        origin = await origin_of(session, code)
    headers = {"Content-Language": locale}
    if origin is None:
        html = _render(request, "not_found.html", locale, code=code[:80], links=chat_links(settings, None))
        return web.Response(
            text=html, status=404, content_type="text/html", headers={**headers, "Cache-Control": NOT_FOUND_CACHE}
        )
    html = _render(request, "trace.html", locale, **_facts(origin), links=chat_links(settings, origin.code))
    return web.Response(text=html, content_type="text/html", headers={**headers, "Cache-Control": PAGE_CACHE})


def _facts(origin: Origin) -> dict[str, object]:
    today = vietnam_day()
    return {
        "origin": origin,
        "product": origin.product,
        "cooperative": origin.cooperative,
        "batch": origin.batch,
        # Valid certificates first: what a buyer can rely on, then what has lapsed.
        "certificates": sorted(
            ((certificate, is_expired(certificate, today)) for certificate in origin.certificates),
            key=lambda pair: pair[1],
        ),
    }


async def qr(request: web.Request) -> web.Response:
    """The QR of a known code's page address, for packaging and posters; 404 for an unknown code."""
    async with request.app[SESSIONS]() as session:
        origin = await origin_of(session, request.match_info["code"])
    if origin is None:
        return web.json_response({"error": "no product or harvest batch has that code"}, status=404)
    png = qr_png(page_url(base_url(request), origin.code))
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": QR_CACHE})


def routes() -> list[web.AbstractRouteDef]:
    """The traceability routes (GET and HEAD)."""
    return [web.get(r"/p/{code:[^/]+}.png", qr), web.get("/p/{code}", page)]
