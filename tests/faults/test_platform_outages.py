"""A platform down for a while, each in its own way: Telegram answering 429, Messenger's Graph API answering 5xx,
Zalo's OA API failing (HTTP 503, then `-32` in HTTP 200 bodies), Telegram refusing connections (nothing listens on
its port). Webhooks keep answering 200 and every turn runs; the outbox backs off instead of looping; once the
platform is back, every reply arrives exactly once and in order per conversation."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import delivery
from bot.app import create_app
from bot.models import InboundEvent, OutboundMessage
from bot.settings import Settings
from channels import messenger, zalo
from channels.types import Reply
from tests.conftest import POSTGRES_URL, settings_for_tests
from tests.e2e.conftest import TELEGRAM_SECRET, telegram_settings, zalo_settings
from tests.e2e.test_scale_out import SCRIPT
from tests.fakes.messenger import DEFAULT_TOKEN, FakeGraph, signed_delivery
from tests.fakes.messenger import text_event as messenger_text
from tests.fakes.server import FakeServer
from tests.fakes.telegram import FakeTelegram
from tests.fakes.zalo import FakeZalo
from tests.fakes.zalo import text_event as zalo_text
from tests.faults.conftest import (
    Shown,
    count,
    delivered_once_in_order,
    shown_at_the_fake,
    shown_by_the_outbox,
    telegram_calls,
    until,
)

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="fault tests run on PostgreSQL (HTX_TEST_DATABASE_URL)")

CHATS = [str(6_000 + n) for n in range(8)]
OUTAGE = 4.0  # seconds; the property is the same for hours, only the backoff grows
# The backoff's ceiling here instead of MAX_BACKOFF's 5 minutes, so replies go out within seconds of the recovery
# whatever the jitter drew: the same schedule, only shorter.
BACKOFF_CAP = 4.0
MESSENGER_SECRET = "outage-messenger-secret"
# What Graph answers while failing on its side: code 2, "unexpected error, retry" (platforms.md §2.4).
GRAPH_UNEXPECTED = {
    "error": {
        "message": "An unexpected error has occurred. Please retry your request later.",
        "type": "OAuthException",
        "code": 2,
        "is_transient": True,
        "fbtrace_id": "AbCdEfGhIjK",
    }
}


class Platform(Protocol):
    """One platform's fake and its kind of outage, as the scenario below drives them."""

    @property
    def fake(self) -> FakeServer:
        """The fake platform, started by the fixture."""
        ...

    def settings(self) -> Settings:
        """The service's settings, with this platform's channel pointed at the fake."""
        ...

    async def say(self, service: TestClient, chat: str, text: str) -> int:
        """Deliver a buyer's message to the service's webhook, as the platform does; the HTTP status."""
        ...

    async def go_down(self) -> None:
        """The outage begins."""
        ...

    async def come_back(self) -> None:
        """The outage is over."""
        ...

    def shown(self) -> dict[str, list[Shown]]:
        """Per chat, what the platform accepted to show the buyer, in the order it accepted it."""
        ...

    def renders(self, reply: Reply, chat: str) -> list[Shown]:
        """The platform calls that show one outbox reply to `chat`."""
        ...


def message_shown(body: dict[str, Any]) -> Shown:
    """What a Send API (Messenger) or OA API (Zalo) body shows: its `message`, whoever it is addressed to."""
    return "message", json.dumps(body["message"], ensure_ascii=False, sort_keys=True)


@dataclass
class MessengerAnswering5xx:
    """Graph fails on its side: a JSON 500 (code 2) for each chat's first try, then plain 503s from its edge."""

    fake: FakeGraph = field(default_factory=FakeGraph)

    def settings(self) -> Settings:
        return settings_for_tests(
            messenger_app_secret=MESSENGER_SECRET,
            messenger_verify_token="verify-me",
            messenger_page_token=DEFAULT_TOKEN,
            messenger_graph_url=self.fake.graph_url,
        )

    async def say(self, service: TestClient, chat: str, text: str) -> int:
        body, headers = signed_delivery([messenger_text(chat, text)], app_secret=MESSENGER_SECRET)
        return (await service.post("/webhooks/messenger", data=body, headers=headers)).status

    async def go_down(self) -> None:
        self.fake.fail_next(500, GRAPH_UNEXPECTED, times=len(CHATS))
        self.fake.fail_next(503, "Service Unavailable", times=10**9)

    async def come_back(self) -> None:
        self.fake.recover()

    def shown(self) -> dict[str, list[Shown]]:
        shown: dict[str, list[Shown]] = defaultdict(list)
        for request in self.fake.requests:
            if request.status == 200:
                shown[str(request.body["recipient"]["id"])].append(message_shown(request.body))
        return shown

    def renders(self, reply: Reply, chat: str) -> list[Shown]:
        return [message_shown(body) for body in messenger.render(reply, chat)]


@dataclass
class ZaloFailing:
    """The OA API fails: HTTP 503 for each chat's first try, then `-32` (rate limited) in HTTP 200 bodies."""

    fake: FakeZalo = field(default_factory=FakeZalo)

    def settings(self) -> Settings:
        return zalo_settings(self.fake)

    async def say(self, service: TestClient, chat: str, text: str) -> int:
        return await self.fake.deliver(str(service.make_url("/webhooks/zalo")), zalo_text(chat, text))

    async def go_down(self) -> None:
        self.fake.fail_next("http_503", times=len(CHATS))
        self.fake.fail_next("rate_limited", times=10**9)

    async def come_back(self) -> None:
        self.fake.recover()

    def shown(self) -> dict[str, list[Shown]]:
        shown: dict[str, list[Shown]] = defaultdict(list)
        for body in self.fake.sent:
            shown[body["recipient"]["user_id"]].append(message_shown(body))
        return shown

    def renders(self, reply: Reply, chat: str) -> list[Shown]:
        bodies, _menu = zalo.render(reply, chat)
        return [message_shown(body) for body in bodies]


@dataclass
class TelegramDown:
    """Telegram, whose outage the subclasses shape: what the service sees of the Bot API is the same."""

    fake: FakeTelegram = field(default_factory=FakeTelegram)

    def settings(self) -> Settings:
        return telegram_settings(self.fake)

    async def say(self, service: TestClient, chat: str, text: str) -> int:
        update = self.fake.text_update(text, chat_id=int(chat))
        return await self.fake.deliver(update, url=str(service.make_url("/webhooks/telegram")), secret=TELEGRAM_SECRET)

    def shown(self) -> dict[str, list[Shown]]:
        return shown_at_the_fake(self.fake)

    def renders(self, reply: Reply, chat: str) -> list[Shown]:
        return telegram_calls(reply, chat)


class TelegramAnswering429(TelegramDown):
    """The Bot API answers "Too Many Requests" with `retry_after` 1 to every call until it recovers."""

    async def go_down(self) -> None:
        self.fake.fail_next(429, times=10**9, retry_after=1)

    async def come_back(self) -> None:
        self.fake.recover()


class TelegramRefusing(TelegramDown):
    """The Bot API is gone: nothing listens on its port until it is back on the same one."""

    async def go_down(self) -> None:
        await self.fake.close()

    async def come_back(self) -> None:
        await self.fake.start()


@pytest.fixture(
    params=[TelegramAnswering429, MessengerAnswering5xx, ZaloFailing, TelegramRefusing],
    ids=["telegram-429", "messenger-5xx", "zalo-errors", "telegram-refusing-connections"],
)
async def platform(request: pytest.FixtureRequest) -> AsyncIterator[Platform]:
    """Each platform with its kind of outage, its fake running (until the outage stops it)."""
    platform: Platform = request.param()
    async with platform.fake:
        yield platform


async def attempts_per_chat(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[int]]:
    """Per chat, how many times each of its outbox rows was tried so far, in row order."""
    query = select(OutboundMessage.chat_id, OutboundMessage.attempts).order_by(OutboundMessage.id)
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    attempts: dict[str, list[int]] = defaultdict(list)
    for chat, tries in rows:
        attempts[chat].append(tries)
    return attempts


async def test_a_platform_down_for_a_while_gets_every_reply_once_and_in_order_after_it_recovers(
    aiohttp_client: Any,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "MAX_BACKOFF", BACKOFF_CAP)
    service = await aiohttp_client(create_app(platform.settings(), engine=engine))
    await platform.go_down()
    started = time.monotonic()

    async def buyer(chat: str) -> list[int]:
        return [await platform.say(service, chat, text) for text, _ in SCRIPT]

    statuses = await asyncio.gather(*(buyer(chat) for chat in CHATS))
    assert statuses == [[200] * len(SCRIPT)] * len(CHATS)
    events = len(CHATS) * len(SCRIPT)

    async def turns_done() -> bool:
        return await count(sessions, InboundEvent.status == "done") == events

    async def every_first_reply_retried() -> bool:
        attempts = await attempts_per_chat(sessions)
        return set(attempts) == set(CHATS) and all(tries[0] >= 2 for tries in attempts.values())

    await until(turns_done, timeout=10, failure="turns did not run during the outage")
    # However long the turns took on a loaded machine, each first reply's retry is due a backoff after its first try.
    await until(every_first_reply_retried, timeout=10, failure="the outbox did not retry during the outage")
    await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
    attempts = await attempts_per_chat(sessions)
    elapsed = time.monotonic() - started
    assert set(attempts) == set(CHATS)
    assert await count(sessions, OutboundMessage.status != "pending") == 0  # nothing sent, nothing given up
    # Backing off: about one try per chat and second at most, no tight loop ...
    assert sum(map(sum, attempts.values())) <= len(CHATS) * (elapsed + 1), attempts
    # ... and only each chat's first reply is tried, again and again: the later ones wait behind it.
    for chat, tries in attempts.items():
        first, *later = tries
        assert first >= 2 and later and not any(later), (chat, tries)

    await platform.come_back()

    async def all_sent() -> bool:
        return await count(sessions, OutboundMessage.status != "sent") == 0

    await until(all_sent, timeout=BACKOFF_CAP + 10, failure="replies not delivered after the platform recovered")
    shown = platform.shown()
    rows = await shown_by_the_outbox(sessions, status="sent", renders=platform.renders)
    assert set(rows) == set(CHATS)
    for chat, chat_rows in rows.items():
        assert delivered_once_in_order(shown[chat], chat_rows, resendable=set()), chat
