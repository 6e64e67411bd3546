"""Rate limits: one flooding web chat session, client IP or platform chat is slowed down, and nobody else is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.models import InboundEvent, OutboundMessage
from bot.rate_limit import MAX_KEYS, RateLimiter
from bot.turns import handle_next
from catalog.live_index import LiveIndex
from tests.conftest import settings_for_tests
from tests.fuzz.conftest import Service, Start, telegram_headers

TELEGRAM_TEXT = json.loads((Path(__file__).parent.parent / "payloads" / "telegram_message_text.json").read_text())


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_rate_then_says_when_to_come_back():
    clock = Clock()
    limiter = RateLimiter(6, clock)
    assert all(limiter.take("a").allowed for _ in range(6))
    refused = [limiter.take("a") for _ in range(3)]
    assert [(d.allowed, d.first) for d in refused] == [(False, True), (False, False), (False, False)]
    assert refused[0].retry_after == pytest.approx(10.0)
    assert limiter.take("b").allowed  # another key is not touched
    clock.now += 10
    assert limiter.take("a").allowed
    assert not limiter.take("a").allowed and limiter.take("a").first is False


def test_a_limit_of_0_is_off_and_quiet_keys_are_forgotten():
    assert all(RateLimiter(0).take("a").allowed for _ in range(1000))
    clock = Clock()
    limiter = RateLimiter(60, clock)
    for key in range(MAX_KEYS):
        limiter.take(key)
    clock.now += 60
    limiter.take("new")
    assert len(limiter._buckets) == 1


async def post_chat(service: Service, session: str, **headers: str) -> Any:
    return await service.client.post("/web/chat", json={"session": session, "text": "xin chào"}, headers=headers)


async def test_a_flooding_web_chat_session_gets_429_while_another_keeps_its_answers(start: Start):
    service = await start(rate_limit_chat_per_minute=3)
    statuses = [(await post_chat(service, "flood")).status for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = await post_chat(service, "flood")
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    assert "gửi nhanh quá" in (await response.json())["error"] or "too fast" in (await response.json())["error"]
    calm = await post_chat(service, "calm")
    assert calm.status == 200 and (await calm.json())["replies"]


async def test_a_flooding_ip_gets_429_and_the_forwarded_address_counts_only_behind_a_trusted_proxy(start: Start):
    service = await start(rate_limit_ip_per_minute=3, trust_proxy=True)
    flood = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    statuses = [(await service.client.get("/api/v1/products", headers=flood)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert (await service.client.get("/api/v1/products", headers={"X-Forwarded-For": "198.51.100.8"})).status == 200
    assert (await service.client.get("/healthz", headers=flood)).status == 200  # not a public path

    untrusting = await start(rate_limit_ip_per_minute=3)
    spoofed = [
        (await untrusting.client.get("/api/v1/products", headers={"X-Forwarded-For": f"10.0.0.{n}"})).status
        for n in range(4)
    ]
    assert spoofed == [200, 200, 200, 429]


def telegram_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    message = TELEGRAM_TEXT["message"]
    sender = {**message["from"], "id": chat_id, "language_code": "vi"}
    chat = {**message["chat"], "id": chat_id}
    return {"update_id": update_id, "message": {**message, "from": sender, "chat": chat, "text": text}}


async def test_a_flooding_platform_chat_is_told_once_and_does_not_delay_another_chats_turn(start: Start):
    limit = 4
    service = await start(rate_limit_chat_per_minute=limit)
    flooder, calm = 100000001, 100000002
    for n in range(30):
        response = await service.client.post(
            "/webhooks/telegram", json=telegram_update(n, flooder, f"spam {n}"), headers=telegram_headers()
        )
        assert response.status == 200  # the platform is always answered 200: it would only redeliver
    response = await service.client.post(
        "/webhooks/telegram", json=telegram_update(99, calm, "xin chào"), headers=telegram_headers()
    )
    assert response.status == 200

    async with service.sessions() as session:
        notices = (await session.scalars(select(OutboundMessage.chat_id))).all()
        inbox = (await session.scalars(select(InboundEvent.chat_id).order_by(InboundEvent.id))).all()
    assert notices == [str(flooder)]  # one polite notice for the whole flood
    assert inbox == [str(flooder)] * limit + [str(calm)]

    # Turns run in inbox order (`handle_next`): the calm chat's is next after the flooder's few admitted messages,
    # and gets its answer.
    for _ in range(limit + 1):
        assert await handle_next(service.sessions, LiveIndex(), settings_for_tests())
    async with service.sessions() as session:
        replied = await session.scalars(select(OutboundMessage.chat_id).where(OutboundMessage.inbound_id.is_not(None)))
        assert str(calm) in replied.all()
