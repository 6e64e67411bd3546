"""`GET /pay/{code}.png`: the VietQR code of an order waiting for its bank transfer, for any platform to fetch."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.keys import SESSIONS
from orders import vietqr
from orders.payment_deadline import still_to_pay
from orders.placing import BANK_TRANSFER, PARTIAL, UNPAID, find_order
from orders.status import CANCELLED

log = logging.getLogger(__name__)


async def pay_qr(request: web.Request) -> web.Response:
    """The QR image for exactly what the order still misses (its total, or the rest after part of it came) with its
    code as the memo; 404 once it is paid, cancelled, or not a transfer order (the URL carries nothing but the
    order code). Not cached: the amount changes when part of the money arrives."""
    code = request.match_info["code"]
    async with request.app[SESSIONS]() as session:
        order = await find_order(session, code)
        partner = order.partner if order else None
        if (
            order is None
            or partner is None
            or order.payment_method != BANK_TRANSFER
            or order.payment_status not in (UNPAID, PARTIAL)
            or order.status == CANCELLED
            or not partner.takes_transfers
        ):
            log.info("payment QR refused", extra={"order": code})
            return web.json_response({"error": "no transfer is waiting for that order"}, status=404)
        assert partner.bank_bin and partner.bank_account
        payload = vietqr.payload(partner.bank_bin, partner.bank_account, still_to_pay(order), memo=order.code)
    return web.Response(body=vietqr.png(payload), content_type="image/png", headers={"Cache-Control": "no-cache"})


def routes() -> list[web.AbstractRouteDef]:
    """The payment routes."""
    return [web.get(r"/pay/{code:DH[0-9A-Za-z]+}.png", pay_qr)]
