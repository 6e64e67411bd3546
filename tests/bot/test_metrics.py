"""`GET /metrics` through the real app: queue and order gauges read from the database, and the counters and turn
latency the message path records."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from bot.app import create_app
from bot.models import InboundEvent, OutboundMessage
from catalog.models import utcnow
from channels.telegram import SECRET_HEADER
from channels.types import Text, reply_to_dict
from orders.models import Order
from tests.conftest import settings_for_tests
from tests.e2e.conftest import FULL_ORDER, TELEGRAM_SECRET, telegram_settings
from tests.fakes.telegram import TOKEN, FakeTelegram

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: TestClient) -> Samples:
    """Every sample of one scrape, keyed by name and sorted labels."""
    response = await client.get("/metrics")
    assert response.status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(await response.text())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the scrape does not have it (a counter never incremented, an empty queue)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def web_only_app(aiohttp_client: Any, engine: Any) -> TestClient:
    """The app without workers and with Telegram on, so stored events stay in the inbox."""
    settings = settings_for_tests(
        role="web",
        telegram_bot_token=TOKEN,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url="http://127.0.0.1:9/bot",  # never called: this app sends nothing
    )
    client: TestClient = await aiohttp_client(create_app(settings, engine=engine))
    return client


async def test_scrape_shows_inbox_outbox_and_orders_from_the_database(aiohttp_client, engine, sessions):
    client = await web_only_app(aiohttp_client, engine)
    fake = FakeTelegram()  # only builds updates here
    for chat in (1, 2):
        hello = fake.text_update("xin chào", chat_id=chat)
        response = await client.post("/webhooks/telegram", json=hello, headers={SECRET_HEADER: TELEGRAM_SECRET})
        assert response.status == 200
    # The web chat runs its own turns, even in a web-only process: place an order.
    for message in ({"text": FULL_ORDER}, {"payload": "pay:cod"}, {"payload": "confirm"}):
        assert (await client.post("/web/chat", json={"session": "metrics", **message})).status == 200
    async with sessions.begin() as session:
        await session.execute(update(InboundEvent).values(received_at=utcnow() - timedelta(seconds=90)))
        session.add_all(
            OutboundMessage(channel=channel, chat_id="7", body=reply_to_dict(Text("x")))
            for channel in ("zalo", "zalo", "messenger")
        )
        orders = dict((await session.execute(select(Order.status, func.count()).group_by(Order.status))).all())
    assert orders, "the web chat placed no order"

    samples = await scrape(client)

    assert value(samples, "htx_inbox_pending_events") == 2
    assert 90 <= value(samples, "htx_inbox_oldest_pending_age_seconds") < 150
    assert value(samples, "htx_outbox_pending_messages", channel="zalo") == 2
    assert value(samples, "htx_outbox_pending_messages", channel="messenger") == 1
    assert {labels: count for (name, labels), count in samples.items() if name == "htx_orders"} == {
        (("status", status),): count for status, count in orders.items()
    }


async def test_turn_latency_is_a_histogram_per_channel(client):
    before = await scrape(client)
    for text in ("xin chào", "giỏ hàng"):
        assert (await client.post("/web/chat", json={"session": "latency", "text": text})).status == 200
    after = await scrape(client)
    count = "htx_turn_seconds_count"
    assert value(after, count, channel="web") - value(before, count, channel="web") == 2
    assert value(after, "htx_turn_seconds_sum", channel="web") > value(before, "htx_turn_seconds_sum", channel="web")
    assert value(after, "htx_turn_seconds_bucket", channel="web", le="+Inf") == value(after, count, channel="web")


async def test_webhook_signature_failures_are_counted_per_channel(aiohttp_client, engine):
    client = await web_only_app(aiohttp_client, engine)
    name = "htx_webhook_signature_failures_total"
    before = await scrape(client)
    hello = FakeTelegram().text_update("xin chào")
    assert (await client.post("/webhooks/telegram", json=hello, headers={SECRET_HEADER: "wrong"})).status == 401
    assert (await client.post("/webhooks/telegram", json=hello)).status == 401
    assert (await client.post("/webhooks/telegram", json=hello, headers={SECRET_HEADER: TELEGRAM_SECRET})).status == 200
    assert (await client.get("/api/v1/orders")).status == 401  # not a webhook: an API call without its token
    after = await scrape(client)
    assert value(after, name, channel="telegram") - value(before, name, channel="telegram") == 2
    assert sum(v for (n, _), v in after.items() if n == name) - sum(v for (n, _), v in before.items() if n == name) == 2


async def test_delivery_retries_and_permanent_failures_are_counted_per_channel(aiohttp_client, engine):
    async with FakeTelegram() as telegram:
        client = await aiohttp_client(create_app(telegram_settings(telegram), engine=engine))
        name = "htx_outbound_messages_total"
        before = await scrape(client)
        telegram.blocked.add("501")  # every send to this chat answers 403: failed for good
        telegram.fail_next(500, method="sendMessage")  # the first send to the other chat fails once: retried
        for chat in (502, 501):
            hello = telegram.text_update("xin chào", chat_id=chat)
            response = await client.post("/webhooks/telegram", json=hello, headers={SECRET_HEADER: TELEGRAM_SECRET})
            assert response.status == 200

        deadline = time.monotonic() + 20
        while True:
            after = await scrape(client)
            counts = {
                result: value(after, name, channel="telegram", result=result)
                - value(before, name, channel="telegram", result=result)
                for result in ("retry", "failed")
            }
            if counts["retry"] >= 1 and counts["failed"] >= 1:
                break
            assert time.monotonic() < deadline, counts
            await asyncio.sleep(0.1)
