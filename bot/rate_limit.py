"""Rate limits: a token bucket per client IP on the public HTTP endpoints, and per chat on every channel.

Buckets live in this process's memory: each `htx serve` process limits separately, so N processes behind a load
balancer let through up to N times the configured rate. That is enough to keep one flooding user from slowing
everyone else; it is not an accounting of exact quotas. See README.md, "Limits and bad input".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.i18n import chat_locale, translations
from bot.models import OutboundMessage
from channels.types import Incoming, Text, reply_to_dict

log = logging.getLogger(__name__)

# Paths anyone on the internet may call without a platform signature; platform and bank webhooks come from a
# few platform addresses on behalf of many users, so they are limited per chat instead (`admit`).
PUBLIC_PATHS = ("/web/chat", "/api/", "/p/")
# Past this many buckets, full ones (keys that have been quiet) are forgotten, so memory stays bounded.
MAX_KEYS = 50_000


@dataclass(frozen=True)
class Decision:
    """What a bucket said: allowed, or refused until `retry_after` seconds; `first` marks the first refusal
    since the key was last allowed, so a flood is told once rather than once per message."""

    allowed: bool
    retry_after: float = 0.0
    first: bool = False


@dataclass
class _Bucket:
    tokens: float
    updated: float
    refused: bool = False


class RateLimiter:
    """A token bucket per key: up to `per_minute` requests at once, refilled at `per_minute` a minute.
    `per_minute` 0 turns the limit off."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}

    def take(self, key: Hashable) -> Decision:
        """Spend one token of `key`'s bucket, or say how long until one is back."""
        if self.per_minute <= 0:
            return Decision(allowed=True)
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(tokens=self.per_minute, updated=now)
        rate = self.per_minute / 60.0
        bucket.tokens = min(self.per_minute, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.refused = False
            return Decision(allowed=True)
        first = not bucket.refused
        bucket.refused = True
        return Decision(allowed=False, retry_after=(1 - bucket.tokens) / rate, first=first)

    def _forget_full(self, now: float) -> None:
        rate = self.per_minute / 60.0
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * rate >= self.per_minute]
        for key in full:
            del self._buckets[key]


@dataclass(frozen=True)
class Limits:
    """The limiters of one app: per client IP (public HTTP paths) and per chat (web chat and platforms)."""

    per_ip: RateLimiter
    per_chat: RateLimiter
    trust_proxy: bool
    locale: str


LIMITS = web.AppKey("rate_limits", Limits)


def notice(locale: str) -> str:
    """The polite "you are sending too fast" text, in `locale`."""
    _ = translations(locale).gettext
    return _("You are sending messages too fast. Please wait a moment, then send your message again.")


def too_many(retry_after: float, locale: str) -> web.Response:
    """A 429 for an HTTP caller: the polite text as `error`, and `Retry-After` in whole seconds."""
    return web.json_response(
        {"error": notice(locale)}, status=429, headers={"Retry-After": str(max(1, math.ceil(retry_after)))}
    )


def client_ip(request: web.Request, trust_proxy: bool) -> str:
    """The caller's address: the last `X-Forwarded-For` entry (the one our own proxy appended, which a client
    cannot forge) when `trust_proxy`, else the connection's peer."""
    if trust_proxy:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        if forwarded[-1]:
            return forwarded[-1]
    return request.remote or "unknown"


@web.middleware
async def per_ip(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 429 to a client IP past its rate on the public paths; everything else passes untouched."""
    if not request.path.startswith(PUBLIC_PATHS):
        return await handler(request)
    limits = request.app[LIMITS]
    ip = client_ip(request, limits.trust_proxy)
    decision = limits.per_ip.take(ip)
    if not decision.allowed:
        if decision.first:
            log.warning("rate limit: client IP refused", extra={"ip": ip, "path": request.path})
        return too_many(decision.retry_after, limits.locale)
    return await handler(request)


async def admit(
    limits: Limits, sessions: async_sessionmaker[AsyncSession], incomings: list[Incoming]
) -> tuple[list[Incoming], bool]:
    """The messages of `incomings` whose chats are within their rate; the others never reach the inbox.

    The platform still gets its 200 (it would only redeliver otherwise). The first dropped message of a flood
    gets one polite reply in the outbox; the rest are dropped silently. Also says whether a reply was written,
    so the caller wakes the delivery worker.
    """
    told: list[Incoming] = []
    kept: list[Incoming] = []
    for incoming in incomings:
        decision = limits.per_chat.take((incoming.channel, incoming.chat_id))
        if decision.allowed:
            kept.append(incoming)
            continue
        metrics.INBOUND.labels(incoming.channel, "rate_limited").inc()
        if decision.first:
            log.warning("rate limit: chat flooding, dropping its messages", extra=_where(incoming))
            told.append(incoming)
    if not told:
        return kept, False
    async with sessions.begin() as session:
        session.add_all(
            OutboundMessage(
                channel=incoming.channel,
                chat_id=incoming.chat_id,
                body=reply_to_dict(Text(notice(chat_locale(incoming.locale_hint, limits.locale)))),
            )
            for incoming in told
        )
    return kept, True


def _where(incoming: Incoming) -> dict[str, str]:
    return {"channel": incoming.channel, "chat": incoming.chat_id}
