"""Prometheus metrics, served at `GET /metrics`: counters of the message path, and queue and order gauges read from
the database at each scrape (so every process shows the same shared inbox and outbox)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import InboundEvent, OutboundMessage
from catalog.models import utcnow
from orders.models import Order

INBOUND = Counter("htx_inbound_events_total", "Platform events received", ["channel", "result"])
TURNS = Counter("htx_turns_total", "Conversation turns run", ["channel", "result"])
# result: sent, retry (a failed try that will be tried again), failed (a permanent failure or the last try).
OUTBOUND = Counter("htx_outbound_messages_total", "Outbox deliveries", ["channel", "result"])
TURN_SECONDS = Histogram("htx_turn_seconds", "Time to run one turn and commit it, claim included", ["channel"])
SIGNATURE_FAILURES = Counter(
    "htx_webhook_signature_failures_total", "Webhook calls refused for a bad or missing signature", ["channel"]
)
INBOX_DEPTH = Gauge("htx_inbox_pending_events", "Inbox events waiting for their turn (all processes)")
INBOX_AGE = Gauge("htx_inbox_oldest_pending_age_seconds", "Age of the oldest pending inbox event; 0 when none")
OUTBOX_DEPTH = Gauge("htx_outbox_pending_messages", "Outbox messages waiting to be sent (all processes)", ["channel"])
ORDERS = Gauge("htx_orders", "Orders by status", ["status"])

PENDING = "pending"
# Every webhook refuses a bad signature, secret or verify token with 401 or 403, and nothing else with those.
REFUSED = (401, 403)


async def refresh(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Set the gauges from the database: one aggregate query each, on the pending-status indexes."""
    async with sessions() as session:
        depth, oldest = (
            await session.execute(
                select(func.count(), func.min(InboundEvent.received_at)).where(InboundEvent.status == PENDING)
            )
        ).one()
        outbox = await session.execute(
            select(OutboundMessage.channel, func.count())
            .where(OutboundMessage.status == PENDING)
            .group_by(OutboundMessage.channel)
        )
        orders = await session.execute(select(Order.status, func.count()).group_by(Order.status))
    INBOX_DEPTH.set(depth)
    INBOX_AGE.set((utcnow() - oldest).total_seconds() if oldest else 0)
    # Cleared first: a channel whose outbox emptied, or a status no order has any more, shows no stale number.
    OUTBOX_DEPTH.clear()
    for channel, count in outbox:
        OUTBOX_DEPTH.labels(channel).set(count)
    ORDERS.clear()
    for status, count in orders:
        ORDERS.labels(status).set(count)


async def metrics(request: web.Request) -> web.Response:
    """`GET /metrics` in the Prometheus text format."""
    # Imported here: bot.keys imports bot.delivery, which imports this module for its counters.
    from bot.keys import SESSIONS

    await refresh(request.app[SESSIONS])
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


@web.middleware
async def count_refused_webhooks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count webhook calls refused for their signature, per channel (the route's last segment: `telegram`,
    `sepay` ...), in one place rather than in every platform module."""
    response = await handler(request)
    resource = request.match_info.route.resource
    if response.status in REFUSED and resource is not None and resource.canonical.startswith("/webhooks/"):
        SIGNATURE_FAILURES.labels(resource.canonical.rsplit("/", 1)[-1]).inc()
    return response
