"""What every platform module offers the engine: a sender, webhook routes, and the errors a send can raise."""

from __future__ import annotations

import functools
import json
import math
import ssl
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from aiohttp import web

from channels.types import Incoming, Reply

# Hands parsed incoming messages to the durable inbox; returns how many were new (not redeliveries).
Store = Callable[[list[Incoming]], Awaitable[int]]

# Largest webhook body any platform sends us; anything bigger is refused with 413 before reading it.
MAX_BODY = 256 * 1024
# Deepest nesting of a JSON body we accept; platforms send a handful of levels. A deeper body that still parses
# would break whatever walks it recursively later (`dataclasses.asdict` when it is stored: RecursionError).
MAX_DEPTH = 32


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The certificate store every httpx client of this process verifies with (httpx's defaults, SSL_CERT_FILE
    included). Loading the CA bundle takes about 25 ms; without sharing, each client loads its own."""
    return httpx.create_ssl_context()


async def read_limited(request: web.Request) -> bytes | None:
    """A webhook's raw body (signatures are computed on it), or None when it exceeds MAX_BODY, whether the
    Content-Length said so or the body only turned out larger while read."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body, or ValueError: not JSON (invalid UTF-8 included), NaN or an infinite
    number (valid Python, not JSON, and PostgreSQL refuses them), a string holding a lone surrogate (`"\\ud800"`
    is valid JSON but not Unicode: no database column takes it), or nested deeper than MAX_DEPTH."""
    try:
        value = json.loads(body, parse_constant=_not_json, parse_float=_finite)
    except RecursionError as error:
        raise ValueError("JSON nested too deeply") from error
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str) and not item.isascii():
            try:
                item.encode()
            except UnicodeEncodeError as error:
                raise ValueError("a JSON string holds a lone surrogate") from error
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


def _not_json(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def split_text(text: str, limit: int) -> list[str]:
    """Text in parts of at most `limit` characters, cut at a paragraph, line or word boundary when one is in the
    second half of the part, else anywhere. Blank text gives no parts (platforms refuse empty messages)."""
    text = unicodedata.normalize("NFC", text).strip()
    parts: list[str] = []
    while len(text) > limit:
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = text.rfind(separator, limit // 2, limit + 1)
            if cut != -1:
                break
        if cut == -1:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def absolute_url(url: str, public_url: str | None) -> str | None:
    """An absolute http(s) URL a platform can fetch: `url` itself, or a relative path ("/static/…") joined to
    `public_url` (HTX_PUBLIC_URL, which may end in a path prefix); None when neither works."""
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if parts.scheme or parts.netloc or not public_url:
        return None
    joined = public_url.rstrip("/") + "/" + url.lstrip("/")
    base = urlsplit(joined)
    return joined if base.scheme in ("http", "https") and base.netloc else None


class SendError(Exception):
    """A send that failed. `permanent` errors (user blocked, outside the window, bad token) are not retried;
    others are retried with backoff, no sooner than `retry_after` seconds when the platform said so."""

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Delivery:
    """One outbox row as a platform module sees it: where, what, and whether it is a reply or a later update."""

    chat_id: str
    reply: Reply
    # When the user last wrote to us: platforms only allow free replies within a window (Messenger 24 h).
    last_user_message_at: datetime | None = None
    # True for notifications sent later (order updates), which some platforms only allow with a tag/template.
    proactive: bool = False


class Channel(Protocol):
    """A platform module's runtime side, built by `bot/app.py` from settings when its credentials are present."""

    name: str

    def routes(self, store: Store) -> list[web.RouteDef]:
        """The webhook routes: verify the signature first, parse, `await store(...)`, answer 200 fast."""
        ...

    async def send(self, delivery: Delivery) -> None:
        """Deliver one reply, or raise `SendError`."""
        ...

    def health(self) -> str:
        """ "ok", or what is wrong in a few words (shown by `/healthz`, e.g. a failed Zalo token refresh)."""
        ...

    async def close(self) -> None:
        """Release clients on shutdown."""
        ...
