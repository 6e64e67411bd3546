"""Prometheus metrics of the message path, served at `GET /metrics`."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

INBOUND = Counter("htx_inbound_events_total", "Platform events received", ["channel", "result"])
TURNS = Counter("htx_turns_total", "Conversation turns run", ["channel", "result"])
OUTBOUND = Counter("htx_outbound_messages_total", "Outbox deliveries", ["channel", "result"])


async def metrics(_request: web.Request) -> web.Response:
    """`GET /metrics` in the Prometheus text format."""
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response
