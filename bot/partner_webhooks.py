"""Signed webhooks to partner trading cooperatives: the outbox channel "partner" (docs/partner-webhooks.md).

`bot/order_news.py` writes one outbox row per order event for each partner with a webhook URL; the row's chat id
is the partner's code and its body an `Event` holding the JSON payload. `PartnerWebhooks.send` POSTs that payload,
signed with the partner's own secret, and classifies the answer for `bot/delivery.py`, which retries, keeps each
partner's events in order and leases rows. The app runs these rows through their own Deliverer and worker, so a
slow or dead partner endpoint never holds up buyers' chat replies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import Deliverer
from bot.order_news import WEBHOOK_CHANNEL
from channels.base import Delivery, SendError, Store, tls_context
from channels.types import Event
from orders.partner_accounts import partner_by_code

log = logging.getLogger(__name__)

CHANNEL = WEBHOOK_CHANNEL
SIGNATURE_HEADER = "X-HTX-Signature"
EVENT_HEADER = "X-HTX-Event"
EVENT_ID_HEADER = "X-HTX-Event-Id"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A partner may ask us to wait (Retry-After), but not for longer than this: the row would look stuck.
MAX_RETRY_AFTER = 3600.0
# Answers worth trying again: the partner timed out, is rate limiting us, or is failing for now.
RETRYABLE = {408, 425, 429}

# The partner webhooks' own Deliverer, apart from the chat channels' one (bot/keys.py DELIVERER).
WEBHOOK_DELIVERER = web.AppKey("partner_webhook_deliverer", Deliverer)
# A partner's event is given up when it is still failing this long after it happened.
WEBHOOK_GIVE_UP_AFTER = timedelta(hours=1)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-HTX-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body, keyed by the secret>`."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def encode(data: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact UTF-8 JSON (Vietnamese letters as they are, not `\\u` escapes)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (a number of seconds or an HTTP date), within [0, MAX_RETRY_AFTER]; None if absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def failure_for(status: int, retry_after: str | None) -> SendError:
    """The SendError for a non-2xx answer: 408, 425, 429 and 5xx are retried; anything else is permanent."""
    if status in RETRYABLE or status >= 500:
        return SendError(
            f"partner answered HTTP {status}", permanent=False, retry_after=retry_after_seconds(retry_after)
        )
    if 300 <= status < 400:
        return SendError(f"partner answered HTTP {status}: redirects are not followed", permanent=True)
    return SendError(f"partner refused with HTTP {status}", permanent=True)


class PartnerWebhooks:
    """The "partner" outbox channel: one signed POST per order event to the partner's `webhook_url`."""

    name = CHANNEL

    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`sessions` is called at use, so the channel can be built before the app has opened the database."""
        self._sessions = sessions
        self._own_client = client is None
        # No redirects: the signed body must reach the URL the partner registered, or fail visibly.
        self._client = client or httpx.AsyncClient(
            timeout=TIMEOUT,
            follow_redirects=False,
            headers={"User-Agent": "HTX-Connect-Webhooks/1"},
            verify=tls_context(),
        )
        self._clock = clock

    def routes(self, store: Store) -> list[web.RouteDef]:
        """None: partners answer through the partner API or their linked chats, not through this channel."""
        return []

    async def send(self, delivery: Delivery) -> None:
        """POST the event to the partner's URL, signed; raise `SendError` unless the partner answers 2xx."""
        event = delivery.reply
        if not isinstance(event, Event):
            raise SendError(f"not an event: {type(event).__name__}", permanent=True)
        event_id = str(event.data.get("id", ""))
        if not event_id:
            raise SendError("event without an id", permanent=True)
        async with self._sessions()() as session:
            partner = await partner_by_code(session, delivery.chat_id)
            url = partner.webhook_url if partner else None
            secret = partner.webhook_secret if partner else None
        if not url or not secret:
            raise SendError("the partner has no webhook any more", permanent=True)
        body = encode(event.data)
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: event.name,
            EVENT_ID_HEADER: event_id,
            SIGNATURE_HEADER: sign(secret, int(self._clock()), body),
        }
        order = event.data.get("order")
        where = {
            "channel": CHANNEL,
            "partner": delivery.chat_id,
            "event_id": event_id,
            "order": order.get("code") if isinstance(order, dict) else None,
        }
        try:
            # Streamed and never read: whatever the partner answers in its body cannot fill our memory.
            async with self._client.stream("POST", url, content=body, headers=headers) as response:
                status, retry_after = response.status_code, response.headers.get("Retry-After")
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            raise SendError("the partner's webhook URL is invalid", permanent=True) from error
        except httpx.TimeoutException as error:
            log.info("partner webhook timed out", extra=where)
            raise SendError("partner webhook timed out", permanent=False) from error
        except httpx.TransportError as error:
            log.info("partner webhook unreachable", extra={**where, "error": type(error).__name__})
            raise SendError(f"partner webhook unreachable ({type(error).__name__})", permanent=False) from error
        if 200 <= status < 300:
            return
        failure = failure_for(status, retry_after)
        log.warning("partner webhook failed", extra={**where, "status": status, "permanent": failure.permanent})
        raise failure

    def health(self) -> str:
        """Always "ok": a partner's failing endpoint is the partner's problem, seen on its outbox rows."""
        return "ok"

    async def close(self) -> None:
        """Close the HTTP client if this channel made it."""
        if self._own_client:
            await self._client.aclose()
