"""Signed partner webhooks: the signature, how each answer is classified, the documented `verify`, and the whole
path from a web chat order to a fake partner endpoint, apart from the chat replies' delivery."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.delivery import Deliverer
from bot.keys import DELIVERERS, NEWS
from bot.models import OutboundMessage
from bot.partner_webhooks import PartnerWebhooks, encode, retry_after_seconds, sign
from catalog.models import utcnow
from channels.base import Delivery, SendError
from channels.types import Event, Text, reply_to_dict
from orders.lifecycle import act
from orders.partner_accounts import partner_by_code
from tests.bot.test_api import place_order
from tests.conftest import settings_for_tests
from tests.e2e.conftest import eventually
from tests.fakes.partner import FakePartner, Received
from tests.fakes.telegram import TOKEN, FakeTelegram

DOC = Path(__file__).resolve().parents[2] / "docs" / "partner-webhooks.md"
PARTNER = "TM-PHANTHIET"  # where a web chat order to Phan Thiết goes
SECRET = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef"
URL = "https://partner.example/htx-events"
NOW = 1_767_225_600  # 2026-01-01 00:00:00 UTC
DATA = {"id": "evt_7", "type": "order.routed", "order": {"code": "DH7K2Q9M", "buyer": {"name": "Trần Thị Lan"}}}


async def set_webhook(sessions: async_sessionmaker[AsyncSession], url: str | None, secret: str | None = SECRET) -> None:
    """What `htx partner webhook` stores (or `--off` removes)."""
    async with sessions.begin() as session:
        partner = await partner_by_code(session, PARTNER)
        assert partner is not None
        partner.webhook_url, partner.webhook_secret = url, secret if url else None


def documented_verify() -> Any:
    """`verify` as defined by the first python block of docs/partner-webhooks.md, run as a partner would."""
    block = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block, "docs/partner-webhooks.md has no python block"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    return namespace["verify"]


async def partner_rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboundMessage]:
    async with sessions() as session:
        query = select(OutboundMessage).where(OutboundMessage.channel == "partner").order_by(OutboundMessage.id)
        return list((await session.scalars(query)).all())


async def eventually_rows(sessions: async_sessionmaker[AsyncSession], status: str) -> list[OutboundMessage]:
    """The partner rows once every one has this status (sent or failed), within 20 s."""
    deadline = time.monotonic() + 20
    while True:
        rows = await partner_rows(sessions)
        if rows and all(row.status == status for row in rows):
            return rows
        assert time.monotonic() < deadline, [row.status for row in rows]
        await asyncio.sleep(0.05)


async def hurry(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Make waiting partner rows due now, instead of after their backoff (the worker polls every second)."""
    async with sessions.begin() as session:
        await session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.channel == "partner",
                OutboundMessage.status == "pending",
                OutboundMessage.lease_until.is_(None),
            )
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def assert_signed(hit: Received, secret: str = SECRET) -> dict[str, Any]:
    """Check a received request's headers and signature independently of our code; returns its JSON body."""
    data: dict[str, Any] = json.loads(hit.body)
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.headers["X-HTX-Event"] == data["type"]
    assert hit.headers["X-HTX-Event-Id"] == data["id"]
    fields = dict(part.split("=", 1) for part in hit.headers["X-HTX-Signature"].split(","))
    assert abs(time.time() - int(fields["t"])) < 60
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + hit.body, hashlib.sha256).hexdigest()
    assert fields["v1"] == expected
    return data


# --- sign() and the body -----------------------------------------------------------------------------------------


def test_sign_matches_a_fixed_vector():
    # printf '1767225600.{"id":"evt_7"}' | openssl dgst -sha256 -hmac whsec_test
    assert sign("whsec_test", NOW, b'{"id":"evt_7"}') == (
        "t=1767225600,v1=89e9181f2b98a91e17dec3e31b727f05153a513d5a530aea2663f88f007167b1"
    )


def test_the_body_is_compact_utf8_json_with_vietnamese_letters_as_they_are():
    body = encode(DATA)
    assert body.startswith(b'{"id":"evt_7","type":"order.routed","order":{')
    assert "Trần Thị Lan".encode() in body
    assert json.loads(body) == DATA


def test_retry_after_is_read_as_seconds_or_an_http_date_and_kept_sane():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds("999999") == 3600.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# --- send(): each kind of answer (respx) --------------------------------------------------------------------------


@pytest.fixture
def mocked() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def webhooks(sessions):
    await set_webhook(sessions, URL)
    channel = PartnerWebhooks(lambda: sessions, clock=lambda: NOW)
    yield channel
    await channel.close()


def event(data: dict[str, Any] = DATA) -> Delivery:
    return Delivery(chat_id=PARTNER, reply=Event(str(data["type"]), data), proactive=True)


async def test_a_2xx_answer_delivers_the_signed_event(webhooks, mocked):
    route = mocked.post(URL).respond(204)
    await webhooks.send(event())
    request = route.calls.last.request
    assert request.content == encode(DATA)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-HTX-Event"] == "order.routed"
    assert request.headers["X-HTX-Event-Id"] == "evt_7"
    assert request.headers["X-HTX-Signature"] == sign(SECRET, NOW, encode(DATA))


@pytest.mark.parametrize(
    ("status", "retry_after", "expected_wait"),
    [(500, None, None), (503, "120", 120.0), (429, "7", 7.0), (429, None, None), (408, None, None)],
)
async def test_timeouts_rate_limits_and_server_errors_are_retried(webhooks, mocked, status, retry_after, expected_wait):
    headers = {"Retry-After": retry_after} if retry_after else {}
    mocked.post(URL).respond(status, headers=headers)
    with pytest.raises(SendError) as failure:
        await webhooks.send(event())
    assert failure.value.permanent is False
    assert failure.value.retry_after == expected_wait


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ConnectTimeout("")])
async def test_an_unreachable_or_slow_partner_is_retried(webhooks, mocked, error):
    mocked.post(URL).mock(side_effect=error)
    with pytest.raises(SendError) as failure:
        await webhooks.send(event())
    assert failure.value.permanent is False


@pytest.mark.parametrize("status", [301, 400, 401, 404, 410, 422])
async def test_other_answers_are_permanent(webhooks, mocked, status):
    mocked.post(URL).respond(status)
    with pytest.raises(SendError) as failure:
        await webhooks.send(event())
    assert failure.value.permanent is True


async def test_a_partner_without_a_webhook_any_more_is_permanent_and_nothing_is_sent(webhooks, mocked, sessions):
    route = mocked.post(URL).respond(200)
    await set_webhook(sessions, None)
    with pytest.raises(SendError) as failure:
        await webhooks.send(event())
    assert failure.value.permanent is True
    assert not route.called


async def test_an_unknown_partner_or_a_chat_reply_is_permanent(webhooks, mocked):
    route = mocked.post(URL).respond(200)
    for delivery in [
        Delivery(chat_id="TM-NOWHERE", reply=Event("order.routed", DATA)),
        Delivery(chat_id=PARTNER, reply=Text("xin chào")),
    ]:
        with pytest.raises(SendError) as failure:
            await webhooks.send(delivery)
        assert failure.value.permanent is True
    assert not route.called


async def test_chat_and_partner_deliverers_never_take_each_others_rows(sessions, webhooks, mocked):
    mocked.post(URL).respond(200)

    class Collecting:
        name = "telegram"

        def __init__(self) -> None:
            self.sent: list[Delivery] = []

        def routes(self, store):
            return []

        async def send(self, delivery: Delivery) -> None:
            self.sent.append(delivery)

        def health(self) -> str:
            return "ok"

        async def close(self) -> None:
            pass

    telegram = Collecting()
    async with sessions.begin() as session:
        session.add(
            OutboundMessage(channel="partner", chat_id=PARTNER, body=reply_to_dict(Event("order.routed", DATA)))
        )
    chat_deliverer = Deliverer(sessions, {"telegram": telegram})
    partner_deliverer = Deliverer(sessions, {"partner": webhooks})
    assert await chat_deliverer.deliver_next() is False
    async with sessions.begin() as session:
        session.add(OutboundMessage(channel="telegram", chat_id="42", body=reply_to_dict(Text("xin chào"))))
    assert await partner_deliverer.deliver_next() is True
    assert await partner_deliverer.deliver_next() is False
    assert await chat_deliverer.deliver_next() is True
    assert [d.reply for d in telegram.sent] == [Text("xin chào")]
    assert [row.status for row in await partner_rows(sessions)] == ["sent"]


# --- the documented verify(), on what the running app really sent -------------------------------------------------


@pytest.fixture
async def partner():
    async with FakePartner() as fake:
        yield fake


async def test_the_documented_verify_accepts_what_the_app_sent_and_refuses_forgeries(client, chat, sessions, partner):
    verify = documented_verify()
    await set_webhook(sessions, partner.url)
    await place_order(chat)
    [hit] = await partner.wait_for(1)
    header = hit.headers["X-HTX-Signature"]
    assert verify(SECRET, header, hit.body) is True
    assert verify(SECRET, header, hit.body.replace(b"45000", b"4500")) is False
    assert verify(SECRET, header, hit.body + b" ") is False
    assert verify("whsec_wrong", header, hit.body) is False
    assert verify(SECRET, "v1=" + header.split("v1=")[1], hit.body) is False  # no timestamp
    assert verify(SECRET, "garbage", hit.body) is False
    old = int(time.time()) - 600
    old_header = f"t={old},v1=" + hmac.new(SECRET.encode(), f"{old}.".encode() + hit.body, "sha256").hexdigest()
    assert verify(SECRET, old_header, hit.body) is False
    assert verify(SECRET, old_header, hit.body, tolerance=900) is True


async def test_the_documented_example_payload_has_the_real_payloads_shape(client, chat, sessions, partner):
    await set_webhook(sessions, partner.url)
    await place_order(chat)
    [hit] = await partner.wait_for(1)
    real = json.loads(hit.body)
    examples = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    example = next(json.loads(block) for block in examples if '"type": "order.routed"' in block)
    assert shape(example) == shape(real)


def shape(value: Any) -> Any:
    """Keys and value types, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__ if value is not None else None


# --- end to end ---------------------------------------------------------------------------------------------------


async def test_routing_then_acceptance_arrive_signed_and_in_order(client, chat, sessions, partner):
    await set_webhook(sessions, partner.url)
    code = await place_order(chat)
    await partner.wait_for(1)
    async with sessions.begin() as session:
        found = await partner_by_code(session, PARTNER)
        assert found is not None
        await act(session, found, code, "accepted")
    client.app[NEWS].wake()
    first, second = await partner.wait_for(2)
    routed, accepted = assert_signed(first), assert_signed(second)
    assert routed["type"] == "order.routed" and routed["order"]["code"] == code
    assert routed["event"]["to"] == "routed" and routed["order"]["status"] == "routed"
    assert accepted["type"] == "order.status_changed"
    assert accepted["event"] == {"from": "routed", "to": "accepted", "by": f"partner:{PARTNER}", "note": ""}
    assert accepted["order"]["status"] == "accepted"
    assert routed["id"] != accepted["id"]
    assert len(await eventually_rows(sessions, "sent")) == 2  # settled once the answer is read


async def test_a_partner_failing_twice_gets_the_same_event_after_retries(client, chat, sessions, partner):
    await set_webhook(sessions, partner.url)
    partner.answer(500, 500)
    await place_order(chat)
    while len(partner.received) < 3:
        await hurry(sessions)
        await partner.wait_for(len(partner.received) + 1)
    assert [hit.status for hit in partner.received] == [500, 500, 200]
    assert len({hit.body for hit in partner.received}) == 1
    assert len({hit.headers["X-HTX-Event-Id"] for hit in partner.received}) == 1
    for hit in partner.received:
        assert_signed(hit)
    [row] = await eventually_rows(sessions, "sent")
    assert row.attempts == 3


async def test_a_partner_refusing_for_good_is_not_asked_again(client, chat, sessions, partner):
    await set_webhook(sessions, partner.url)
    partner.answer(410)
    await place_order(chat)
    [row] = await eventually_rows(sessions, "failed")
    assert row.attempts == 1 and "410" in (row.last_error or "")
    assert [hit.status for hit in partner.received] == [410]


@pytest.fixture
async def telegram():
    async with FakeTelegram() as fake:
        yield fake


async def test_a_stalled_partner_delays_neither_web_chat_nor_telegram_replies(
    aiohttp_client, engine, sessions, partner, telegram
):
    secret = "telegram-test-secret"
    settings = settings_for_tests(
        telegram_bot_token=TOKEN, telegram_webhook_secret=secret, telegram_api_base_url=telegram.base_url
    )
    service = await aiohttp_client(create_app(settings, engine=engine))

    async def chat(session: str, text: str | None = None, payload: str | None = None) -> list[dict[str, Any]]:
        body = {"session": session, **({"text": text} if text else {}), **({"payload": payload} if payload else {})}
        response = await service.post("/web/chat", json=body)
        assert response.status == 200
        replies: list[dict[str, Any]] = (await response.json())["replies"]
        return replies

    await set_webhook(sessions, partner.url)
    partner.stall(30)
    await place_order(chat)
    await eventually(partner.arrived.is_set)  # the partner worker is now stuck in its POST

    started = time.monotonic()
    assert await chat("s2", text="xin chào")
    status = await telegram.deliver(
        telegram.text_update("xin chào"), url=str(service.make_url("/webhooks/telegram")), secret=secret
    )
    assert status == 200
    await eventually(lambda: telegram.calls_to("sendMessage"), timeout=5)
    assert time.monotonic() - started < 5
    assert partner.received == []  # still waiting for its answer
    [row] = await partner_rows(sessions)
    assert row.status == "pending" and row.lease_until is not None
    assert await service.app[DELIVERERS]["telegram"].deliver_next() is False  # nothing left, not stuck
