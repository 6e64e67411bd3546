"""The service with every channel and bank webhook on, no workers (stored events stay in the inbox to be
inspected), and helpers to sign bodies the way each platform does and to check what a request left stored."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.bank_webhooks import casso_signature
from bot.models import InboundEvent
from bot.turns import incoming_from_dict
from orders.models import BankTransaction, OrderEvent
from tests.conftest import settings_for_tests
from tests.fakes.messenger import sign as messenger_signature
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.fakes.zalo import FakeZalo

TELEGRAM_SECRET = "fuzz-telegram-secret"
MESSENGER_SECRET = "fuzz-messenger-app-secret"
SEPAY_KEY = "fuzz-sepay-key"
CASSO_KEY = "fuzz-casso-key"

# Moderate by default so the package runs in well under a minute; HTX_FUZZ_EXAMPLES=500 for a long hunt.
HUNTING = "HTX_FUZZ_EXAMPLES" in os.environ
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("HTX_FUZZ_EXAMPLES", "30")),
    deadline=None,
    database=None,
    # The same examples on every run of the suite, so a landing is never refused by luck; a hunt draws new ones
    # (what it finds becomes an @example of its property).
    derandomize=not HUNTING,
    # One app serves every example of a property: that is the point (state carried between requests).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("fuzz")


@dataclass
class Service:
    """The app under test and its database."""

    client: TestClient
    sessions: async_sessionmaker[AsyncSession]
    zalo_app_id: str
    zalo_oa_secret_key: str


Start = Callable[..., Awaitable[Service]]


@pytest.fixture
async def start(
    aiohttp_client: Any, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Start]:
    """Starts the service with settings overridden: every channel and bank webhook on, pointed at fakes; no
    workers; no rate limits (one test client sends every request from one address)."""
    async with FakeTelegram() as telegram, FakeZalo() as zalo:

        async def start(**overrides: Any) -> Service:
            settings = settings_for_tests(
                **{
                    "workers": 0,
                    "rate_limit_ip_per_minute": 0,
                    "rate_limit_chat_per_minute": 0,
                    "telegram_bot_token": TOKEN,
                    "telegram_webhook_secret": TELEGRAM_SECRET,
                    "telegram_api_base_url": telegram.base_url,
                    "messenger_app_secret": MESSENGER_SECRET,
                    "messenger_verify_token": "fuzz-verify",
                    "messenger_page_token": "fuzz-page-token",
                    "messenger_graph_url": "http://127.0.0.1:9/v25.0",
                    "zalo_app_id": zalo.app_id,
                    "zalo_oa_secret_key": zalo.oa_secret_key,
                    "zalo_app_secret": zalo.app_secret,
                    "zalo_access_token": zalo.access_token,
                    "zalo_refresh_token": zalo.refresh_token,
                    "zalo_api_base_url": zalo.api_base_url,
                    "zalo_oauth_url": zalo.oauth_url,
                    "sepay_api_key": SEPAY_KEY,
                    "casso_webhook_key": CASSO_KEY,
                    **overrides,
                }
            )
            client = await aiohttp_client(create_app(settings, engine=engine))
            return Service(client, sessions, zalo.app_id, zalo.oa_secret_key)

        yield start


@pytest.fixture
async def service(start: Start) -> Service:
    """The service with the default fuzzing settings."""
    return await start()


def telegram_headers(secret: str | None = TELEGRAM_SECRET) -> dict[str, str]:
    """Telegram's headers: the secret token we registered with `setWebhook`."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return headers


def messenger_headers(body: bytes, secret: str = MESSENGER_SECRET) -> dict[str, str]:
    """Meta's headers: HMAC-SHA256 of the exact body with the app secret."""
    return {"Content-Type": "application/json", "X-Hub-Signature-256": messenger_signature(body, secret)}


def zalo_headers(body: bytes, service: Service, secret: str | None = None) -> dict[str, str]:
    """Zalo's headers: `mac=` SHA-256 of app id + exact body + the body's `timestamp` + OA secret key. A body
    without a timestamp Zalo would never send is signed as if its timestamp were empty."""
    try:
        event = json.loads(body)
        timestamp = str(event.get("timestamp", "")) if isinstance(event, dict) else ""
    except (ValueError, RecursionError):
        timestamp = ""
    key = secret if secret is not None else service.zalo_oa_secret_key
    signed = service.zalo_app_id.encode() + body + timestamp.encode(errors="surrogatepass") + key.encode()
    mac = hashlib.sha256(signed).hexdigest()
    return {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={mac}"}


def sepay_headers(key: str = SEPAY_KEY) -> dict[str, str]:
    """SePay's API-key authentication."""
    return {"Content-Type": "application/json", "Authorization": f"Apikey {key}"}


def casso_headers(body: bytes, key: str = CASSO_KEY, timestamp: str = "1778742157000") -> dict[str, str]:
    """Casso's `X-Casso-Signature` over the parsed body (a body that is no JSON object gets a made-up one)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        parsed = None
    signature = casso_signature(key, timestamp, parsed) if isinstance(parsed, dict) else "0" * 128
    return {"Content-Type": "application/json", "X-Casso-Signature": f"t={timestamp},v1={signature}"}


@dataclass(frozen=True)
class Stored:
    """What a request may leave behind: inbox rows (the newest id), bank transactions, order events."""

    last_event: int
    transactions: int
    order_events: int


async def stored(service: Service) -> Stored:
    """Count what is stored now."""
    async with service.sessions() as session:
        return Stored(
            last_event=await session.scalar(select(func.coalesce(func.max(InboundEvent.id), 0))) or 0,
            transactions=await session.scalar(select(func.count()).select_from(BankTransaction)) or 0,
            order_events=await session.scalar(select(func.count()).select_from(OrderEvent)) or 0,
        )


async def assert_handled(response: ClientResponse, service: Service, before: Stored) -> None:
    """Never a 5xx; a refusal (4xx) stored nothing; what an accepted request stored is whole: every new inbox
    row reads back as the message it claims to be."""
    text = await response.text()
    assert response.status < 500, text
    after = await stored(service)
    if response.status >= 400:
        assert after == before, (response.status, text)
        return
    async with service.sessions() as session:
        rows = (await session.scalars(select(InboundEvent).where(InboundEvent.id > before.last_event))).all()
    for row in rows:
        incoming = incoming_from_dict(row.body)
        assert (incoming.channel, incoming.chat_id, incoming.event_id) == (row.channel, row.chat_id, row.event_id)
        assert incoming.chat_id and incoming.event_id
