"""The JSON API: public products, orders behind the admin bearer token, and the health check."""

from __future__ import annotations

import hmac
import logging
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy import text

from bot import metrics
from bot.keys import CHANNELS, SESSIONS, SETTINGS
from catalog.models import Product
from catalog.queries import get_product, list_products
from orders.models import Order, OrderEvent
from orders.placing import find_order, list_orders

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


def _admin_refusal(request: web.Request) -> web.Response | None:
    token = request.app[SETTINGS].admin_token
    if not token:
        return error(401, "the admin API is off: set HTX_ADMIN_TOKEN to turn it on")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        log.info("admin API refused", extra={"path": request.path})
        return error(401, "missing or wrong bearer token")
    return None


async def orders(request: web.Request) -> web.Response:
    """`GET /api/v1/orders?limit=&offset=` (admin)."""
    if refusal := _admin_refusal(request):
        return refusal
    try:
        limit = min(max(int(request.query.get("limit", 100)), 1), 500)
        offset = max(int(request.query.get("offset", 0)), 0)
    except ValueError:
        return error(400, "limit and offset must be whole numbers")
    async with request.app[SESSIONS]() as session:
        return web.json_response([order_json(o) for o in await list_orders(session, limit, offset)])


async def order(request: web.Request) -> web.Response:
    """`GET /api/v1/orders/{code}` (admin)."""
    if refusal := _admin_refusal(request):
        return refusal
    async with request.app[SESSIONS]() as session:
        found = await find_order(session, request.match_info["code"])
        return web.json_response(order_json(found)) if found else error(404, "no order with that code")


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
        web.get("/healthz", healthz),
        web.get("/metrics", metrics.metrics),
    ]
