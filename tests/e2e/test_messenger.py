"""A buyer on Messenger, through our httpx Graph client talking to a fake Graph API."""

from __future__ import annotations

import pytest

from bot.app import create_app
from tests.conftest import settings_for_tests
from tests.e2e.conftest import CODE, FULL_ORDER, eventually
from tests.fakes.messenger import DEFAULT_TOKEN, FakeGraph, postback_event, signed_delivery, text_event

APP_SECRET = "messenger-test-secret"
PSID = "24000000000000001"


@pytest.fixture
async def graph():
    async with FakeGraph() as fake:
        yield fake


@pytest.fixture
async def service(aiohttp_client, engine, graph):
    settings = settings_for_tests(
        messenger_app_secret=APP_SECRET,
        messenger_verify_token="verify-me",
        messenger_page_token=DEFAULT_TOKEN,
        messenger_graph_url=graph.graph_url,
    )
    return await aiohttp_client(create_app(settings, engine=engine))


def texts(graph: FakeGraph) -> list[str]:
    """Every text the page sent: plain texts and button-template texts."""
    found = []
    for request in graph.requests:
        if request.status != 200:
            continue
        message = request.body.get("message", {})
        payload = message.get("attachment", {}).get("payload", {})
        found.append(message.get("text") or payload.get("text") or "")
    return found


async def post(service, *events) -> None:
    body, headers = signed_delivery(list(events), app_secret=APP_SECRET)
    response = await service.post("/webhooks/messenger", data=body, headers=headers)
    assert response.status == 200


async def test_a_whole_order_on_messenger(graph, service):
    await post(service, text_event(PSID, FULL_ORDER))
    await eventually(lambda: any("thanh toán thế nào" in t for t in texts(graph)))
    await post(service, postback_event(PSID, "COD", "pay:cod"))
    await eventually(lambda: any("kiểm tra lại đơn hàng" in t for t in texts(graph)))
    await post(service, postback_event(PSID, "Xác nhận", "confirm"))
    confirmation = await eventually(lambda: next((t for t in texts(graph) if CODE.search(t)), None))
    assert "120.000" in confirmation  # 105.000 of fruit + 15.000 shipping in Lâm Đồng
    assert all(r.body["messaging_type"] == "RESPONSE" for r in graph.requests)


async def test_a_batched_delivery_answers_every_conversation_and_a_redelivery_once(graph, service):
    first, second = text_event(PSID, "xin chào"), text_event("24000000000000002", "giỏ hàng")
    await post(service, first, second)
    await post(service, first)  # Meta delivers again
    await eventually(lambda: len(texts(graph)) >= 2)
    await post(service, text_event(PSID, "cảm ơn"))
    await eventually(lambda: any("không có gì" in t for t in texts(graph)))
    assert sum("Xin chào" in t for t in texts(graph)) == 1
    assert {r.body["recipient"]["id"] for r in graph.requests} == {PSID, "24000000000000002"}


async def test_replies_arrive_once_the_graph_api_recovers(graph, service):
    graph.fail_next(500, times=2)
    await post(service, text_event(PSID, "xin chào"))
    await eventually(lambda: any("Xin chào" in t for t in texts(graph)), timeout=30)
    assert sum("Xin chào" in t for t in texts(graph)) == 1


async def test_the_verification_handshake(service):
    query = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"}
    assert await (await service.get("/webhooks/messenger", params=query)).text() == "42"
    query["hub.verify_token"] = "wrong"
    assert (await service.get("/webhooks/messenger", params=query)).status == 403
