"""The JSON API: public products; orders behind bearer tokens (the admin's: all; a partner's: its own, which
it can move on); the OpenAPI document (bot/openapi.py); and the health check."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics, openapi
from bot.keys import CHANNELS, NEWS, SESSIONS, SETTINGS
from bot.openapi import MAX_OFFSET, StatusChange
from catalog.models import Product
from catalog.queries import get_product, list_products
from orders.lifecycle import PARTNER_ACTIONS, NotYourOrder, act, partner_orders
from orders.models import Order, OrderEvent, Partner
from orders.partner_accounts import partner_for_token
from orders.placing import find_order, list_orders
from orders.status import AWAITING_PARTNER, TRANSITIONS, TransitionNotAllowed

STATUSES = frozenset(status for status in TRANSITIONS if status)

log = logging.getLogger(__name__)


def number(value: Decimal) -> int | float:
    """A quantity as a JSON number: whole numbers as integers."""
    return int(value) if value == value.to_integral_value() else float(value)


def product_json(product: Product) -> dict[str, Any]:
    """A product in the public API's shape."""
    return {
        "sku": product.sku,
        "name": product.name,
        "cooperative": {"code": product.cooperative.code, "name": product.cooperative.name},
        "unit": product.unit,
        "price": product.price,
        "stock": number(product.stock),
        "certifications": list(product.certifications),
        "ocop_stars": product.ocop_stars,
    }


def order_json(order: Order) -> dict[str, Any]:
    """An order in the admin API's shape."""
    return {
        "code": order.code,
        "checkout_code": order.checkout_code,
        "status": order.status,
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "buyer": {
            "name": order.buyer_name,
            "phone": order.buyer_phone,
            "address": order.buyer_address,
            "province": order.province,
            "ward": order.ward,
        },
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": number(line.quantity),
                "unit": line.unit,
                "unit_price": line.unit_price,
                "amount": line.amount,
            }
            for line in order.lines
        ],
        "subtotal": order.subtotal,
        "shipping_fee": order.shipping_fee,
        "total": order.total,
        "partner": {"code": order.partner.code, "name": order.partner.name} if order.partner else None,
        "tracking_number": order.tracking_number,
        "created_at": order.created_at.isoformat(),
        "events": [_event_json(e) for e in order.events],
    }


def _event_json(event: OrderEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "from": event.from_status,
        "to": event.to_status,
        "by": event.by,
        "note": event.note,
    }


def partner_view(order: Order, partner_id: int) -> dict[str, Any]:
    """An order as one partner may see it: its own status with the order and only its own events.

    A partner that rejected an order or let it expire still sees it, as rejected or expired, never where it
    went next (partners never see each other's orders).
    """
    view = order_json(order)
    mine = [e for e in order.events if e.partner_id == partner_id]
    if order.partner_id != partner_id and mine:
        view["status"] = mine[-1].to_status
        view["partner"] = None
        view["tracking_number"] = None
    view["events"] = [_event_json(e) for e in mine]
    return view


def error(status: int, reason: str) -> web.Response:
    """A JSON error body."""
    return web.json_response({"error": reason}, status=status)


async def products(request: web.Request) -> web.Response:
    """`GET /api/v1/products`."""
    async with request.app[SESSIONS]() as session:
        return web.json_response([product_json(p) for p in await list_products(session)])


async def product(request: web.Request) -> web.Response:
    """`GET /api/v1/products/{sku}`."""
    async with request.app[SESSIONS]() as session:
        found = await get_product(session, request.match_info["sku"])
    return web.json_response(product_json(found)) if found else error(404, "no product with that sku")


@dataclass(frozen=True)
class Caller:
    """Who calls the orders API: the admin (`partner` None) or one partner trading cooperative."""

    partner: Partner | None


def _bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 7235 §2.1)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def _caller(request: web.Request, session: AsyncSession) -> Caller | web.Response:
    """The admin or the partner whose bearer token the request carries, or a 401.

    The admin token is compared in constant time (digests, so not even its length leaks); a partner token is
    looked up by its SHA-256, which is all the database keeps.
    """
    token = _bearer(request)
    admin = request.app[SETTINGS].admin_token
    if token and admin and hmac.compare_digest(_digest(token), _digest(admin)):
        return Caller(partner=None)
    partner = await partner_for_token(session, token) if token else None
    if partner is None:
        log.info("orders API refused: no valid bearer token", extra={"path": request.path})
        reason = "missing, wrong or revoked bearer token"
        if not admin:
            reason += " (the admin token is off: set HTX_ADMIN_TOKEN to turn it on)"
        return web.json_response(
            {"error": reason},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="htx"'},
        )
    return Caller(partner=partner)


def _page(request: web.Request) -> tuple[int, int]:
    """`limit` (1-500, default 100) and `offset` (0-`MAX_OFFSET`) of a listing; ValueError unless whole numbers."""
    limit = min(max(int(request.query.get("limit", 100)), 1), 500)
    offset = min(max(int(request.query.get("offset", 0)), 0), MAX_OFFSET)
    return limit, offset


def _statuses(request: web.Request) -> list[str]:
    """The `status` filter (comma-separated, or repeated); ValueError naming an unknown status."""
    asked = [s.strip() for value in request.query.getall("status", []) for s in value.split(",") if s.strip()]
    unknown = [s for s in asked if s not in STATUSES]
    if unknown:
        raise ValueError(f"unknown status {unknown[0]!r}; known: {', '.join(sorted(STATUSES))}")
    return asked


async def _all_orders(session: AsyncSession, statuses: list[str], limit: int, offset: int) -> Sequence[Order]:
    if not statuses:
        return await list_orders(session, limit, offset)
    query = select(Order).where(Order.status.in_(statuses)).order_by(Order.id.desc()).limit(limit).offset(offset)
    return (await session.scalars(query)).all()


def _sees(order: Order, partner: Partner) -> bool:
    """Is, or was, the order this partner's?"""
    return order.partner_id == partner.id or any(e.partner_id == partner.id for e in order.events)


def _no_order() -> web.Response:
    # One body for an unknown code and for another partner's order, so a partner learns nothing of others.
    return error(404, "no order with that code")


async def orders(request: web.Request) -> web.Response:
    """`GET /api/v1/orders?status=&limit=&offset=`: every order (admin) or the partner's own.

    A partner without a `status` filter gets the orders it has to act on (`AWAITING_PARTNER`).
    """
    async with request.app[SESSIONS]() as session:
        caller = await _caller(request, session)
        if isinstance(caller, web.Response):
            return caller
        try:
            limit, offset = _page(request)
        except ValueError:
            return error(400, "limit and offset must be whole numbers")
        try:
            statuses = _statuses(request)
        except ValueError as unknown:
            return error(400, str(unknown))
        if caller.partner is None:
            return web.json_response([order_json(o) for o in await _all_orders(session, statuses, limit, offset)])
        partner = caller.partner
        found = await partner_orders(session, partner, statuses or sorted(AWAITING_PARTNER), limit, offset)
        return web.json_response([partner_view(o, partner.id) for o in found])


async def order(request: web.Request) -> web.Response:
    """`GET /api/v1/orders/{code}`: any order (admin), or the partner's own as it may see it."""
    async with request.app[SESSIONS]() as session:
        caller = await _caller(request, session)
        if isinstance(caller, web.Response):
            return caller
        found = await find_order(session, request.match_info["code"].strip())
        if found is None or (caller.partner is not None and not _sees(found, caller.partner)):
            return _no_order()
        return web.json_response(
            order_json(found) if caller.partner is None else partner_view(found, caller.partner.id)
        )


def _invalid(invalid: ValidationError) -> str:
    """A pydantic error as one line: where and what (never the input), for the first few problems."""
    problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in invalid.errors(include_url=False)]
    return "invalid body: " + "; ".join(problems[:5])


def _refused(code: str, current: str, to: str) -> web.Response:
    """A 409: the order's status, and the statuses the partner may set from it."""
    allowed = [s for s in PARTNER_ACTIONS if s in TRANSITIONS.get(current, ())]
    body = {"error": f"order {code} is {current}, it cannot become {to}", "status": current, "allowed": allowed}
    return web.json_response(body, status=409)


async def set_order_status(request: web.Request) -> web.Response:
    """`POST /api/v1/orders/{code}/status` (partners only): move the order on in one transaction.

    Refusals leave the session without a commit, so closing it rolls everything back.
    """
    code = request.match_info["code"].strip().upper()
    async with request.app[SESSIONS]() as session:
        caller = await _caller(request, session)
        if isinstance(caller, web.Response):
            return caller
        if caller.partner is None:
            log.info("order status change refused: admin token", extra={"order": code})
            return error(403, "only a partner changes its orders: use the partner's own token")
        partner = caller.partner
        try:
            change = StatusChange.model_validate_json(await request.read())
        except ValidationError as invalid:
            log.info("order status change refused: bad body", extra={"order": code, "partner": partner.code})
            return error(400, _invalid(invalid))
        to = change.status.value
        try:
            outcome = await act(session, partner, code, to, change.note, change.tracking_number)
        except TransitionNotAllowed as refused:
            log.info(
                "order status change refused: not allowed",
                extra={"order": code, "partner": partner.code, "from": refused.order.status, "to": to},
            )
            return _refused(code, refused.order.status, to)
        except NotYourOrder:
            found = await find_order(session, code)
            if found is None or not _sees(found, partner):
                log.info("order status change refused: not its order", extra={"order": code, "partner": partner.code})
                return _no_order()
            # An order it rejected or let expire: it can only see it as such, and do nothing more.
            log.info("order status change refused: no longer its order", extra={"order": code, "partner": partner.code})
            return _refused(code, partner_view(found, partner.id)["status"], to)
        body = {"order": partner_view(outcome.order, partner.id), "changed": outcome.changed}
        await session.commit()
    if outcome.changed:
        log.info("order status changed by partner API", extra={"order": code, "partner": partner.code, "to": to})
        request.app[NEWS].wake()  # tell the buyer (and the next partner, after a rejection) at once
    return web.json_response(body)


async def openapi_json(request: web.Request) -> web.Response:
    """`GET /api/v1/openapi.json`: the OpenAPI 3.1 document of this API."""
    return web.json_response(openapi.document())


async def healthz(request: web.Request) -> web.Response:
    """`GET /healthz`: 200 when the database answers, 503 when it does not."""
    try:
        async with request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"status": "degraded", "database": "unreachable"}, status=503)
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    channels = {name: channel.health() for name, channel in request.app[CHANNELS].items()}
    if channels:
        body["channels"] = channels
        if any(health != "ok" for health in channels.values()):
            body["status"] = "degraded"
    return web.json_response(body)


def routes() -> list[web.AbstractRouteDef]:
    """The API's routes."""
    return [
        web.get("/api/v1/products", products),
        web.get("/api/v1/products/{sku}", product),
        web.get("/api/v1/orders", orders),
        web.get("/api/v1/orders/{code}", order),
        web.post("/api/v1/orders/{code}/status", set_order_status),
        web.get("/api/v1/openapi.json", openapi_json),
        web.get("/healthz", healthz),
        web.get("/metrics", metrics.metrics),
    ]
