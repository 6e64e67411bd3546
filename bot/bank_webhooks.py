"""`POST /webhooks/bank/sepay` and `POST /webhooks/bank/casso`: bank transactions reported by SePay and Casso,
authenticated, recorded once (orders/payments.py) and told to the buyer and the partner in the same transaction.

A webhook whose key is not set answers 404: the route is off, as a chat channel without credentials is.
The payloads and authentication are described in ../shared/reference/vietnam.md §2 and docs/payments.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.keys import SESSIONS, SETTINGS
from bot.models import OutboundMessage
from bot.order_news import PARTNER_LOCALE, webhook_event
from bot.order_texts import buyer_payment_note, partner_payment_note
from catalog.models import VIETNAM
from channels.base import parse_json
from channels.types import Reply, reply_to_dict
from orders.partner_accounts import partner_chats
from orders.payments import Recorded, Transfer, record_transfer

log = logging.getLogger(__name__)

SEPAY = "sepay"
CASSO = "casso"
# https://developer.sepay.vn/en/sepay-webhooks/xac-thuc: "Authorization: Apikey <API_KEY>".
SEPAY_AUTH_PREFIX = "Apikey "
# https://github.com/CassoHQ/casso-webhook-v2-verify-signature: "t=<unix ms>,v1=<hex HMAC-SHA512>".
CASSO_SIGNATURE = "X-Casso-Signature"
# Both providers retry until they get a 2xx with this body.
ACKNOWLEDGED = {"success": True}
# What the bank_transactions columns hold (orders/models.py): a 64-bit amount, ids and references of 64
# characters, account numbers of 32. A payload past them is refused (400), not failed on insert (500). No transfer
# comes near 10^15 đồng, and an order's paid sum of many such stays within 64 bits.
MAX_AMOUNT = 10**15
MAX_TXN_ID = 2**63 - 1


class BadPayload(ValueError):
    """The body is not JSON of the provider's shape; the text says why, for the provider's delivery log."""


class _Payload(BaseModel):
    # Strict: a string amount or a boolean id is a malformed call, not something to guess at.
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


P = TypeVar("P", bound=_Payload)


class SePayTransaction(_Payload):
    """SePay's webhook body (vietnam.md §2.1); only the fields we use."""

    id: int = Field(ge=0, le=MAX_TXN_ID)
    transaction_date: str = Field(alias="transactionDate")
    account_number: str | None = Field(None, max_length=32, alias="accountNumber")
    # The payment code SePay found in the memo, when its "payment code structure" is configured.
    code: str | None = None
    content: str | None = None
    transfer_type: Literal["in", "out"] = Field(alias="transferType")
    transfer_amount: int = Field(ge=0, le=MAX_AMOUNT, alias="transferAmount")
    reference_code: str | None = Field(None, max_length=64, alias="referenceCode")


class CassoTransaction(_Payload):
    """The `data` object of a Casso Webhook V2 body (vietnam.md §2.2); only the fields we use."""

    id: int = Field(ge=0, le=MAX_TXN_ID)
    reference: str = Field("", max_length=64)
    description: str = ""
    # Negative for money going out.
    amount: int = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)
    transaction_date_time: str = Field(alias="transactionDateTime")
    account_number: str = Field("", max_length=32, alias="accountNumber")


def sepay_transfer(body: Any) -> Transfer:
    """A SePay webhook body as a `Transfer`; raises `BadPayload`."""
    txn = _validated(SePayTransaction, body)
    amount = txn.transfer_amount if txn.transfer_type == "in" else -txn.transfer_amount
    return Transfer(
        provider=SEPAY,
        txn_id=str(txn.id),
        amount=amount,
        # SePay's own code match first, then the memo as the bank wrote it.
        memo=_text(" ".join(part for part in (txn.code, txn.content) if part)),
        account_number=_text(txn.account_number),
        reference=_text(txn.reference_code),
        transacted_at=_vietnam_time(txn.transaction_date),
        raw=body,
    )


def casso_transfer(body: Any) -> Transfer | None:
    """A Casso Webhook V2 body as a `Transfer`, or None for the dashboard's test call (no `data`); raises
    `BadPayload`."""
    if not isinstance(body, dict):
        raise BadPayload("the body is not a JSON object")
    if not body.get("data"):
        return None
    txn = _validated(CassoTransaction, body["data"])
    return Transfer(
        provider=CASSO,
        txn_id=str(txn.id),
        amount=txn.amount,
        memo=_text(txn.description),
        account_number=_text(txn.account_number),
        reference=_text(txn.reference),
        transacted_at=_vietnam_time(txn.transaction_date_time),
        raw=body,
    )


def casso_signature(key: str, timestamp: str, body: dict[str, Any]) -> str:
    """Casso Webhook V2's v1 signature: hex HMAC-SHA512 of `t.` and the body's JSON with keys sorted A→Z.

    Exactly the official Python sample (vietnam.md §2.2, verified against its key and header): nested objects
    sorted too, `json.dumps` compact with its default `ensure_ascii=True`. Whether Casso signs Vietnamese
    letters as `\\uXXXX` escapes is unconfirmed (docs/payments.md).
    """
    message = f"{timestamp}." + json.dumps(_sorted(body), separators=(",", ":"))
    return hmac.new(key.encode(), message.encode(), hashlib.sha512).hexdigest()


def casso_signed(key: str, header: str, body: dict[str, Any]) -> bool:
    """True when an `X-Casso-Signature` header signs this body with the key."""
    parts = {name.strip(): value.strip() for name, _, value in (part.partition("=") for part in header.split(","))}
    timestamp, signature = parts.get("t", ""), parts.get("v1", "")
    if not (timestamp.isascii() and timestamp.isdigit() and signature):
        return False
    return hmac.compare_digest(casso_signature(key, timestamp, body).encode(), signature.encode())


async def sepay(request: web.Request) -> web.Response:
    """A SePay transaction: the API key first, then the body; `{"success": true}` once recorded."""
    key = request.app[SETTINGS].sepay_api_key
    if not key:
        return _off(SEPAY)
    header = request.headers.get("Authorization", "")
    if not hmac.compare_digest(header.encode(), (SEPAY_AUTH_PREFIX + key).encode()):
        return _refused(SEPAY, "wrong or missing API key")
    try:
        transfer = sepay_transfer(await _json(request))
    except BadPayload as error:
        return _bad(SEPAY, error)
    await _record(request, transfer)
    return web.json_response(ACKNOWLEDGED)


async def casso(request: web.Request) -> web.Response:
    """A Casso Webhook V2 call: the signature (on the parsed body, as Casso signs it), then the transaction."""
    key = request.app[SETTINGS].casso_webhook_key
    if not key:
        return _off(CASSO)
    header = request.headers.get(CASSO_SIGNATURE, "")
    if not header:
        return _refused(CASSO, "missing signature")
    try:
        body = await _json(request)
    except BadPayload as error:
        return _bad(CASSO, error)
    if not isinstance(body, dict) or not casso_signed(key, header, body):
        return _refused(CASSO, "wrong signature")
    try:
        transfer = casso_transfer(body)
    except BadPayload as error:
        return _bad(CASSO, error)
    if transfer is None:
        log.info("bank webhook test call", extra={"provider": CASSO})
    else:
        await _record(request, transfer)
    return web.json_response(ACKNOWLEDGED)


async def announce_payment(session: AsyncSession, recorded: Recorded) -> None:
    """Write the outbox messages of a recorded transfer: the buyer, the partner's chats and its webhook.

    Called in the transaction that recorded (or assigned) it, so they are written once with it.
    """
    txn, order = recorded.txn, recorded.order
    if order is None:
        return
    messages: list[tuple[str, str, Reply]] = []
    to_buyer = buyer_payment_note(order, txn.outcome, txn.amount, order.locale)
    if to_buyer is not None and order.channel:
        messages.append((order.channel, order.chat_id, to_buyer))
    partner = order.partner
    if partner is not None:
        note = partner_payment_note(order, txn.outcome, txn.amount, PARTNER_LOCALE)
        if note is not None:
            messages += [(chat.channel, chat.chat_id, note) for chat in await partner_chats(session, partner.id)]
        if partner.webhook_url:
            change = {
                "provider": txn.provider,
                "amount": txn.amount,
                "outcome": txn.outcome,
                "paid_amount": order.paid_amount,
                "missing": recorded.missing,
                "refund": recorded.refund,
                "reference": txn.reference,
                "transacted_at": txn.transacted_at.isoformat() if txn.transacted_at else None,
            }
            messages.append(webhook_event(f"pay_{txn.id}", "order.payment", txn.received_at, change, order, partner))
    for channel, chat_id, reply in messages:
        session.add(OutboundMessage(channel=channel, chat_id=chat_id, body=reply_to_dict(reply), proactive=True))


async def _record(request: web.Request, transfer: Transfer) -> None:
    async with request.app[SESSIONS].begin() as session:
        recorded = await record_transfer(session, transfer)
        if not recorded.duplicate:
            await announce_payment(session, recorded)
    log.info(
        "bank transfer recorded",
        extra={
            "provider": transfer.provider,
            "txn_id": transfer.txn_id,
            "outcome": recorded.txn.outcome,
            "order": recorded.order.code if recorded.order else None,
            "duplicate": recorded.duplicate,
        },
    )


async def _json(request: web.Request) -> Any:
    try:
        return parse_json(await request.read())
    except ValueError as error:  # UnicodeDecodeError is a ValueError
        raise BadPayload("the body is not valid JSON") from error


def _validated(model: type[P], data: Any) -> P:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in error.errors())
        raise BadPayload(f"missing or wrong fields: {fields}") from error


def _vietnam_time(text: str) -> datetime:
    """ "2023-03-25 14:02:37" (Vietnam time, as both providers write it) in UTC; raises `BadPayload`."""
    try:
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM)).astimezone(UTC)
    except (ValueError, OverflowError) as error:  # OverflowError: "0001-01-01 00:00" has no UTC time
        raise BadPayload(f"{text!r} is not a date and time") from error


def _text(value: str | None) -> str:
    # NUL: valid JSON, but PostgreSQL's text columns refuse it.
    return (value or "").replace("\x00", "")


def _sorted(value: Any) -> Any:
    return {key: _sorted(value[key]) for key in sorted(value)} if isinstance(value, dict) else value


def _off(provider: str) -> web.Response:
    log.info("bank webhook is off", extra={"provider": provider})
    return web.json_response({"error": f"the {provider} webhook is not configured"}, status=404)


def _refused(provider: str, reason: str) -> web.Response:
    log.warning("bank webhook refused", extra={"provider": provider, "reason": reason})
    return web.json_response({"error": reason}, status=401)


def _bad(provider: str, error: BadPayload) -> web.Response:
    log.warning("bank webhook payload refused", extra={"provider": provider, "reason": str(error)})
    return web.json_response({"error": str(error)}, status=400)


def routes() -> list[web.AbstractRouteDef]:
    """The bank webhooks' routes (each answers 404 while its key is not set)."""
    return [web.post("/webhooks/bank/sepay", sepay), web.post("/webhooks/bank/casso", casso)]
