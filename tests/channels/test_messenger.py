"""The Messenger channel: signatures, batched events, the handshake, Send API bodies, the 24-hour window, errors."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from aiohttp import web

from channels import messenger
from channels.base import MAX_BODY, Delivery, SendError
from channels.messenger import MessengerChannel, graph_error, parse, render, verify
from channels.types import Button, Buttons, Card, Cards, Image, Incoming, Location, Text
from tests.channels.conftest import RecordingStore
from tests.fakes.messenger import (
    DEFAULT_TOKEN,
    FakeGraph,
    delivery_event,
    echo_event,
    handshake_query,
    image_event,
    page_delivery,
    postback_event,
    quick_reply_event,
    reaction_event,
    read_event,
    sign,
    signed_delivery,
    text_event,
)

PAYLOADS = Path(__file__).parent.parent / "payloads"
SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PUBLIC = "https://htx.example.vn"
PSID = "1000000000000001"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"messenger_{name}.json").read_text())
    return data


def buttons(count: int, title: str = "Chọn") -> tuple[Button, ...]:
    return tuple(Button(f"{title} {i}", f"pick:{i}") for i in range(count))


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph() as fake:
        yield fake


@pytest.fixture
async def channel(graph: FakeGraph) -> AsyncIterator[MessengerChannel]:
    channel = MessengerChannel(
        app_secret=SECRET,
        verify_token=VERIFY_TOKEN,
        page_token=DEFAULT_TOKEN,
        graph_url=graph.graph_url,
        public_url=PUBLIC,
    )
    yield channel
    await channel.close()


@pytest.fixture
async def webhook(aiohttp_client: Any, store: RecordingStore) -> AsyncIterator[Any]:
    """A tiny app holding only the Messenger routes, with a recording store."""
    channel = MessengerChannel(app_secret=SECRET, verify_token=VERIFY_TOKEN, page_token=DEFAULT_TOKEN)
    app = web.Application()
    app.add_routes(channel.routes(store))
    yield await aiohttp_client(app)
    await channel.close()


# --- verify ------------------------------------------------------------------------------------------------------


def test_verify_accepts_the_signature_meta_computes_over_the_raw_body():
    body = (PAYLOADS / "messenger_text.json").read_bytes()
    assert verify(body, sign(body, SECRET), SECRET)


def test_verify_accepts_upper_case_hex():
    body = b'{"object":"page"}'
    header = sign(body, SECRET)
    assert verify(body, "sha256=" + header.removeprefix("sha256=").upper(), SECRET)


def test_verify_refuses_a_signature_made_with_another_secret():
    body = b'{"object":"page"}'
    assert not verify(body, sign(body, "another-secret"), SECRET)


def test_verify_refuses_a_tampered_body():
    body = b'{"object":"page","entry":[]}'
    assert not verify(body.replace(b"[]", b"[{}]"), sign(body, SECRET), SECRET)


@pytest.mark.parametrize("header", [None, ""])
def test_verify_refuses_a_missing_header(header):
    assert not verify(b"{}", header, SECRET)


@pytest.mark.parametrize(
    "header",
    [
        "sha256=",
        "sha256=abc",
        "sha256=" + "g" * 64,
        "sha256=" + "a" * 65,
        "sha1=" + "a" * 40,
        "a" * 64,
        "sha256 = " + "a" * 64,
        "sha256=" + "é" * 64,
    ],
)
def test_verify_refuses_a_malformed_header(header):
    assert not verify(b"{}", header, SECRET)


def test_verify_refuses_everything_when_no_secret_is_configured():
    assert not verify(b"{}", sign(b"{}", ""), "")


# --- parse -------------------------------------------------------------------------------------------------------


def test_parse_reads_a_text_message():
    [incoming] = parse(fixture("text"))
    assert (incoming.channel, incoming.chat_id, incoming.user_id) == (
        "messenger",
        "1000000000000003",
        "1000000000000003",
    )
    assert (incoming.event_id, incoming.text, incoming.payload) == ("mid.1486464322190:cb04e5a654", "text", None)
    assert incoming.raw["message"]["text"] == "text"


def test_parse_reads_a_quick_reply_tap_as_its_title_and_payload():
    [incoming] = parse(fixture("quick_reply"))
    assert (incoming.text, incoming.payload) == ("hello, world!", "<DEVELOPER_DEFINED_PAYLOAD>")
    assert incoming.event_id == "mid.1457764197618:41d102a3e1ae206a38"


def test_parse_reads_a_postback_without_mid_with_a_sender_and_timestamp_id():
    [incoming] = parse(fixture("postback"))
    assert (incoming.chat_id, incoming.text, incoming.payload) == (
        "PSID",
        "<TITLE_FOR_THE_CTA>",
        "<USER_DEFINED_PAYLOAD>",
    )
    assert incoming.event_id == "PSID:1458692752478"


def test_parse_uses_the_postback_mid_when_present():
    [incoming] = parse(page_delivery([postback_event(PSID, "Giỏ hàng", "cart", mid="m_POSTBACK")]))
    assert (incoming.event_id, incoming.payload) == ("m_POSTBACK", "cart")


def test_parse_reads_a_picture():
    [incoming] = parse(fixture("image"))
    assert (incoming.image_url, incoming.text, incoming.payload) == ("<ATTACHMENT_URL>", None, None)
    assert incoming.event_id == "mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c"


def test_parse_keeps_a_legacy_sticker_as_a_message_without_a_picture():
    [incoming] = parse(fixture("sticker_legacy"))
    assert (incoming.chat_id, incoming.event_id) == ("1000000000000002", "mid.$cAADHPVJEDStnxdJQ-VhlI0IqAqYu")
    assert (incoming.text, incoming.image_url) == (None, None)
    assert incoming.raw["message"]["sticker_id"] == 369239263222822


def test_parse_keeps_a_new_sticker_as_a_message_without_a_picture():
    event = text_event(PSID, "x")
    event["message"] = {"mid": "m_S", "attachments": [{"type": "sticker", "payload": {"url": "https://x/s.png"}}]}
    [incoming] = parse(page_delivery([event]))
    assert incoming.image_url is None


def test_parse_reads_a_legacy_location():
    event = text_event(PSID, "x")
    location = {"type": "location", "payload": {"coordinates": {"lat": 10.93, "long": 108.1}}}
    event["message"] = {"mid": "m_L", "attachments": [location]}
    [incoming] = parse(page_delivery([event]))
    assert incoming.location == Location(10.93, 108.1)


def test_parse_handles_every_entry_and_event_of_a_batch_and_ignores_echoes_and_receipts():
    first = [text_event("1001", "xin chào", mid="m_1"), quick_reply_event("1002", "Giỏ hàng", "cart", mid="m_2")]
    second = [
        echo_event("1001", "Chào anh"),
        postback_event("1003", "Mua 1 kg", "add:TL-RD-HD:1", mid="m_3"),
        delivery_event("1001", ["m_x"]),
        read_event("1002"),
        reaction_event("1002", "m_x"),
        image_event("1004", "https://cdn.example/p.jpg", mid="m_4"),
    ]
    incoming = parse(page_delivery(first, second))
    assert [(i.event_id, i.chat_id) for i in incoming] == [
        ("m_1", "1001"),
        ("m_2", "1002"),
        ("m_3", "1003"),
        ("m_4", "1004"),
    ]
    assert [i.payload for i in incoming] == [None, "cart", "add:TL-RD-HD:1", None]
    assert incoming[3].image_url == "https://cdn.example/p.jpg"


def test_parse_skips_malformed_parts_and_handover_standby_events():
    good = text_event(PSID, "còn hàng không", mid="m_ok")
    payload = {
        "object": "page",
        "entry": [
            "nonsense",
            {"id": "1", "messaging": "nonsense"},
            {"id": "1", "standby": [text_event(PSID, "handled by another app")]},
            {"id": "1", "messaging": [None, {"message": {"text": "no sender"}}, {"sender": {}, "message": {}}, good]},
        ],
    }
    assert [i.event_id for i in parse(payload)] == ["m_ok"]
    assert parse({"object": "page"}) == []


def test_parse_gives_a_redelivered_event_without_mid_or_timestamp_the_same_id():
    event = {"sender": {"id": PSID}, "postback": {"title": "Bắt đầu", "payload": "start"}}
    assert parse(page_delivery([event]))[0].event_id == parse(page_delivery([copy.deepcopy(event)]))[0].event_id


def test_parse_drops_control_characters_from_text():
    [incoming] = parse(page_delivery([text_event(PSID, "cà\x00 chua\x07\n2 kg")]))
    assert incoming.text == "cà chua\n2 kg"
    assert "\x00" not in incoming.raw["message"]["text"]


# --- the webhook -------------------------------------------------------------------------------------------------


async def test_handshake_answers_the_bare_challenge(webhook):
    response = await webhook.get("/webhooks/messenger", params=handshake_query(VERIFY_TOKEN, "CHALLENGE_ACCEPTED"))
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert await response.text() == "CHALLENGE_ACCEPTED"


@pytest.mark.parametrize(
    "query",
    [
        handshake_query("wrong-token"),
        {**handshake_query(VERIFY_TOKEN), "hub.mode": "unsubscribe"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {},
    ],
)
async def test_handshake_refuses_a_wrong_token_or_mode(webhook, query):
    response = await webhook.get("/webhooks/messenger", params=query)
    assert response.status == 403


async def test_a_good_delivery_is_stored_and_acknowledged(webhook, store):
    body, headers = signed_delivery(
        [text_event("1001", "xin chào", mid="m_1")],
        [postback_event("1002", "Giỏ", "cart", mid="m_2")],
        app_secret=SECRET,
    )
    response = await webhook.post("/webhooks/messenger", data=body, headers=headers)
    assert response.status == 200
    assert await response.text() == "EVENT_RECEIVED"
    assert [[i.event_id for i in batch] for batch in store.batches] == [["m_1", "m_2"]]


async def test_a_bad_signature_is_refused_before_storing(webhook, store):
    body, headers = signed_delivery([text_event("1001", "xin chào")], app_secret="not-our-secret")
    response = await webhook.post("/webhooks/messenger", data=body, headers=headers)
    assert response.status == 403
    assert "error" in await response.json()
    assert store.batches == []


async def test_a_delivery_without_signature_is_refused(webhook, store):
    body, _ = signed_delivery([text_event("1001", "xin chào")], app_secret=SECRET)
    response = await webhook.post("/webhooks/messenger", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 403
    assert store.batches == []


async def test_malformed_json_is_a_bad_request(webhook, store):
    body = b'{"object": "page", "entry": ['
    response = await webhook.post("/webhooks/messenger", data=body, headers={"X-Hub-Signature-256": sign(body, SECRET)})
    assert response.status == 400
    assert "error" in await response.json()
    assert store.batches == []


async def test_a_subscription_other_than_page_is_not_found(webhook, store):
    body = json.dumps({"object": "instagram", "entry": []}).encode()
    response = await webhook.post("/webhooks/messenger", data=body, headers={"X-Hub-Signature-256": sign(body, SECRET)})
    assert response.status == 404
    assert store.batches == []


async def test_an_oversize_body_is_refused(webhook, store):
    body = b"x" * (MAX_BODY + 1)
    response = await webhook.post("/webhooks/messenger", data=body, headers={"X-Hub-Signature-256": sign(body, SECRET)})
    assert response.status == 413
    assert "error" in await response.json()
    assert store.batches == []


async def test_an_oversize_chunked_body_is_refused(webhook, store):
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * (MAX_BODY // 4)

    response = await webhook.post("/webhooks/messenger", data=chunks(), headers={"X-Hub-Signature-256": "sha256=0"})
    assert response.status == 413
    assert store.batches == []


async def test_a_delivery_of_only_echoes_and_receipts_is_acknowledged_without_storing(webhook, store):
    body, headers = signed_delivery([echo_event("1001", "Chào anh"), read_event("1001")], app_secret=SECRET)
    response = await webhook.post("/webhooks/messenger", data=body, headers=headers)
    assert response.status == 200
    assert store.batches == []


async def test_a_store_failure_is_not_acknowledged_so_meta_redelivers(aiohttp_client):
    async def broken_store(incoming: list[Incoming]) -> int:
        raise RuntimeError("database is down")

    channel = MessengerChannel(app_secret=SECRET, verify_token=VERIFY_TOKEN, page_token=DEFAULT_TOKEN)
    app = web.Application()
    app.add_routes(channel.routes(broken_store))
    client = await aiohttp_client(app)
    body, headers = signed_delivery([text_event("1001", "xin chào")], app_secret=SECRET)
    response = await client.post("/webhooks/messenger", data=body, headers=headers)
    assert response.status == 500
    await channel.close()


# --- render ------------------------------------------------------------------------------------------------------


def test_text_renders_as_the_documented_body():
    assert render(Text("hello, world"), "{PSID}") == [fixture("send_text_request")]


def test_long_text_is_split_at_line_breaks_into_parts_of_at_most_2000_characters():
    text = "\n".join(f"Dòng {i}: thanh long ruột đỏ Bình Thuận" for i in range(120))
    bodies = render(Text(text), PSID)
    parts = [b["message"]["text"] for b in bodies]
    assert len(parts) > 1
    assert all(len(p) <= 2000 for p in parts)
    assert "\n".join(parts) == text


def test_text_without_spaces_is_cut_hard():
    parts = [b["message"]["text"] for b in render(Text("a" * 4500), PSID)]
    assert [len(p) for p in parts] == [2000, 2000, 500]


def test_up_to_three_buttons_render_as_a_button_template_of_postbacks():
    [body] = render(
        Buttons("Anh muốn làm gì tiếp?", (Button("Xem giỏ hàng", "cart"), Button("Đặt hàng", "checkout"))), PSID
    )
    expected = fixture("send_button_template_request")
    assert body.keys() == {"recipient", "messaging_type", "message"}
    assert body["message"].keys() == expected["message"].keys()
    payload = body["message"]["attachment"]["payload"]
    assert payload.keys() == expected["message"]["attachment"]["payload"].keys()
    assert (body["message"]["attachment"]["type"], payload["template_type"]) == ("template", "button")
    assert payload["text"] == "Anh muốn làm gì tiếp?"
    assert payload["buttons"] == [
        {"type": "postback", "title": "Xem giỏ hàng", "payload": "cart"},
        {"type": "postback", "title": "Đặt hàng", "payload": "checkout"},
    ]


def test_long_button_titles_are_shortened_at_a_word_with_an_ellipsis():
    [body] = render(Buttons("Chọn", (Button("Thêm vào giỏ hàng ngay bây giờ", "add:X:1"),)), PSID)
    title = body["message"]["attachment"]["payload"]["buttons"][0]["title"]
    assert len(title) <= 20
    assert title == "Thêm vào giỏ hàng…"


def test_button_text_over_640_characters_goes_first_as_plain_text():
    text = " ".join(["Thanh long ruột đỏ"] * 60)
    bodies = render(Buttons(text, buttons(2)), PSID)
    assert "text" in bodies[0]["message"]
    template = bodies[-1]["message"]["attachment"]["payload"]
    assert len(template["text"]) <= 640
    assert " ".join([*(b["message"]["text"] for b in bodies[:-1]), template["text"]]) == text


def test_more_than_three_buttons_render_as_quick_replies():
    [body] = render(Buttons("Chọn loại:", buttons(5)), PSID)
    expected = fixture("send_quick_replies_request")
    assert body.keys() == expected.keys()
    assert body["message"].keys() == expected["message"].keys()
    assert body["message"]["text"] == "Chọn loại:"
    for item in body["message"]["quick_replies"]:
        assert item.keys() <= expected["message"]["quick_replies"][0].keys()
        assert item["content_type"] == "text"
    assert [q["payload"] for q in body["message"]["quick_replies"]] == [f"pick:{i}" for i in range(5)]


def test_quick_replies_stop_at_thirteen():
    [body] = render(Buttons("Chọn", buttons(20)), PSID)
    assert len(body["message"]["quick_replies"]) == 13


def test_a_payload_longer_than_1000_characters_cannot_render():
    with pytest.raises(ValueError):
        render(Buttons("Chọn", (Button("A", "x" * 1001),)), PSID)


def test_cards_render_as_a_generic_template():
    card = Card(
        "Thanh long ruột đỏ Hàm Thuận Bắc " * 4,
        "35.000 ₫/kg · VietGAP · OCOP 4 sao · HTX Thanh Long Hàm Minh " * 2,
        "/static/img/thanh-long-ruot-do.svg",
        tuple(Button(f"Mua {i} kg", f"add:TL-RD-HD:{i}") for i in (1, 2, 5, 10)),
    )
    [body] = render(Cards((card,)), PSID, public_url=PUBLIC + "/")
    attachment = body["message"]["attachment"]
    assert (attachment["type"], attachment["payload"]["template_type"]) == ("template", "generic")
    [element] = attachment["payload"]["elements"]
    assert element.keys() == {"title", "subtitle", "image_url", "buttons"}
    assert len(element["title"]) <= 80 and len(element["subtitle"]) <= 80
    assert element["image_url"] == "https://htx.example.vn/static/img/thanh-long-ruot-do.svg"
    assert element["buttons"] == [
        {"type": "postback", "title": f"Mua {i} kg", "payload": f"add:TL-RD-HD:{i}"} for i in (1, 2, 5)
    ]


def test_a_card_subtitle_keeps_its_lines_within_80_characters():
    subtitle = "150.000 ₫/kg · HTX Thanh Long Hàm Minh\nVietGAP · OCOP 4 sao\nCòn hàng: 1.250 kg\nGiao trong 2 ngày"
    [body] = render(Cards((Card("Thanh long ruột đỏ", subtitle, None, ()),)), PSID)
    shown = body["message"]["attachment"]["payload"]["elements"][0]["subtitle"]
    assert len(shown) <= 80
    assert shown.startswith("150.000 ₫/kg · HTX Thanh Long Hàm Minh\nVietGAP · OCOP 4 sao\n")
    assert shown.endswith("…")


@pytest.mark.parametrize(
    ("image_url", "public_url", "expected"),
    [
        ("https://cdn.example/p.jpg", None, "https://cdn.example/p.jpg"),
        ("http://cdn.example/p.jpg", PUBLIC, "http://cdn.example/p.jpg"),
        ("/static/img/p.png", PUBLIC, "https://htx.example.vn/static/img/p.png"),
        ("static/img/p.png", "https://example.vn/htx/", "https://example.vn/htx/static/img/p.png"),
        ("/static/img/p.png", None, None),
        ("data:image/png;base64,AAAA", PUBLIC, None),
        ("ftp://cdn.example/p.jpg", PUBLIC, None),
        (None, PUBLIC, None),
    ],
)
def test_card_pictures_are_sent_only_as_absolute_http_urls(image_url, public_url, expected):
    [body] = render(Cards((Card("Xoài", "", image_url, ()),)), PSID, public_url=public_url)
    [element] = body["message"]["attachment"]["payload"]["elements"]
    assert element.get("image_url") == expected
    assert element.keys() <= {"title", "image_url"}


def test_more_than_ten_cards_become_several_carousels():
    cards = tuple(Card(f"Sản phẩm {i}", "10.000 ₫", None, buttons(1)) for i in range(12))
    bodies = render(Cards(cards), PSID)
    assert [len(b["message"]["attachment"]["payload"]["elements"]) for b in bodies] == [10, 2]


def test_an_image_renders_as_an_attachment_followed_by_its_caption():
    bodies = render(Image("/static/img/p.png", "Thanh long ruột đỏ"), PSID, public_url=PUBLIC)
    expected = fixture("send_image_request")
    attachment = bodies[0]["message"]["attachment"]
    assert attachment.keys() == expected["message"]["attachment"].keys()
    assert attachment["payload"].keys() == expected["message"]["attachment"]["payload"].keys()
    assert attachment == {"type": "image", "payload": {"url": PUBLIC + "/static/img/p.png", "is_reusable": True}}
    assert bodies[1]["message"] == {"text": "Thanh long ruột đỏ"}


def test_an_image_without_a_reachable_url_sends_only_its_caption():
    assert [b["message"] for b in render(Image("/p.png", "ảnh"), PSID)] == [{"text": "ảnh"}]


def test_a_tagged_body_carries_its_tag():
    [body] = render(Text("Đơn DH12AB34 đã giao"), PSID, messaging_type="MESSAGE_TAG", tag="POST_PURCHASE_UPDATE")
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "POST_PURCHASE_UPDATE")


# --- send, against the fake Graph API ----------------------------------------------------------------------------


async def test_send_text_posts_the_rendered_body_with_the_token_in_the_header(channel, graph):
    await channel.send(Delivery(PSID, Text("Chào anh"), last_user_message_at=now()))
    [request] = graph.requests
    assert request.status == 200
    assert request.path == "/v25.0/me/messages"
    assert request.body == render(Text("Chào anh"), PSID)[0]
    assert request.headers["Authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert "access_token" not in request.query


async def test_send_quick_replies_are_accepted_up_to_thirteen(channel, graph):
    await channel.send(Delivery(PSID, Buttons("Chọn loại thanh long", buttons(16)), last_user_message_at=now()))
    [request] = graph.requests
    assert request.status == 200
    assert len(request.body["message"]["quick_replies"]) == 13


async def test_send_button_template_is_accepted(channel, graph):
    long_titles = tuple(Button("Thêm vào giỏ hàng ngay bây giờ", f"add:X:{i}") for i in range(3))
    await channel.send(Delivery(PSID, Buttons("Chọn", long_titles), last_user_message_at=now()))
    [request] = graph.requests
    assert request.status == 200
    assert request.body["message"]["attachment"]["payload"]["template_type"] == "button"


async def test_send_generic_templates_are_accepted(channel, graph):
    cards = tuple(
        Card(f"Sản phẩm số {i} " * 8, "Mô tả rất dài " * 10, "/static/img/p.png", buttons(4, "Mua ngay số lượng"))
        for i in range(11)
    )
    await channel.send(Delivery(PSID, Cards(cards), last_user_message_at=now()))
    assert [r.status for r in graph.requests] == [200, 200]
    first = graph.requests[0].body["message"]["attachment"]["payload"]["elements"][0]
    assert first["image_url"] == PUBLIC + "/static/img/p.png"


async def test_send_long_text_goes_out_in_order(channel, graph):
    text = "Đầu. " + "thanh long " * 300 + "Cuối."
    await channel.send(Delivery(PSID, Text(text), last_user_message_at=now()))
    parts = [r.body["message"]["text"] for r in graph.requests]
    assert len(parts) == 2 and parts[0].startswith("Đầu.") and parts[1].endswith("Cuối.")


async def test_a_reply_inside_the_window_is_a_response(channel, graph):
    await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now() - timedelta(hours=23)))
    assert graph.bodies[0]["messaging_type"] == "RESPONSE"
    assert "tag" not in graph.bodies[0]


async def test_an_update_inside_the_window_is_an_update(channel, graph):
    await channel.send(Delivery(PSID, Text("Đơn đã xác nhận"), last_user_message_at=now(), proactive=True))
    assert graph.bodies[0]["messaging_type"] == "UPDATE"


@pytest.mark.parametrize("last", [now() - timedelta(hours=25), None])
async def test_an_update_outside_the_window_goes_with_the_post_purchase_tag(channel, graph, last):
    await channel.send(Delivery(PSID, Text("Đơn DH12AB34 đang giao"), last_user_message_at=last, proactive=True))
    [request] = graph.requests
    assert request.status == 200
    assert (request.body["messaging_type"], request.body["tag"]) == ("MESSAGE_TAG", "POST_PURCHASE_UPDATE")


async def test_a_reply_outside_the_window_fails_for_good_without_calling_the_api(channel, graph):
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now() - timedelta(hours=24, seconds=1)))
    assert failure.value.permanent
    assert failure.value.reason == "outside the 24-hour window"
    assert graph.requests == []


async def test_a_naive_utc_time_from_the_database_is_read_as_utc(channel, graph):
    naive = (now() - timedelta(hours=1)).replace(tzinfo=None)
    await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=naive))
    assert graph.bodies[0]["messaging_type"] == "RESPONSE"


async def test_a_window_refusal_from_meta_fails_for_good(channel, graph):
    graph.user_wrote(PSID, now() - timedelta(days=2))
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    assert failure.value.permanent
    assert "2018278" in failure.value.reason


async def test_an_invalid_token_fails_for_good_and_degrades_health_until_a_send_succeeds(channel, graph):
    graph.fail_next(400, fixture("error_invalid_token"))
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    assert failure.value.permanent
    assert channel.health() == "invalid page token"
    await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    assert channel.health() == "ok"


async def test_a_token_the_fake_does_not_know_is_refused_with_code_190(graph):
    channel = MessengerChannel(
        app_secret=SECRET, verify_token=VERIFY_TOKEN, page_token="old", graph_url=graph.graph_url
    )
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    assert failure.value.permanent and channel.health() == "invalid page token"
    await channel.close()


async def test_the_outside_window_error_fails_for_good(channel, graph):
    graph.fail_next(400, fixture("error_outside_window_constructed"))
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now(), proactive=True))
    assert failure.value.permanent
    assert channel.health() == "ok"


async def test_429_is_retried_after_what_retry_after_says(channel, graph):
    graph.fail_next(429, {"error": {"message": "Too many calls", "code": 613}}, headers={"Retry-After": "7"})
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    assert not failure.value.permanent
    assert failure.value.retry_after == 7.0


async def test_a_rate_limit_code_without_retry_after_is_retried_with_backoff(channel, graph):
    graph.fail_next(400, {"error": {"message": "(#4) Application request limit reached", "code": 4}})
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    assert (failure.value.permanent, failure.value.retry_after) == (False, None)


async def test_a_server_error_is_transient(channel, graph):
    graph.fail_next(500, "Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(SendError) as failure:
            await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
        assert not failure.value.permanent
    await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    assert [r.status for r in graph.requests] == [500, 500, 200]


async def test_a_blocked_user_fails_for_good(channel, graph):
    graph.fail_next(400, {"error": {"message": "This person isn't available right now.", "code": 551}})
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    assert failure.value.permanent


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (400, {"error": {"code": 190, "error_subcode": 463}}, True),
        (400, {"error": {"code": 551, "error_subcode": 1545041}}, True),
        (400, {"error": {"code": 200, "error_subcode": 1545041}}, True),
        (400, {"error": {"code": 100, "error_subcode": 2018108}}, True),
        (400, {"error": {"code": 10, "error_subcode": 2018278}}, True),
        (400, {"error": {"code": 10, "error_subcode": 1893063}}, False),
        (400, {"error": {"code": 100, "message": "Invalid parameter"}}, True),
        (400, {"error": {"code": 613}}, False),
        (400, {"error": {"code": 17}}, False),
        (400, {"error": {"code": 32}}, False),
        (500, {"error": {"code": 2, "message": "An unexpected error has occurred."}}, False),
        (503, None, False),
        (429, None, False),
        (404, "<html>", True),
    ],
)
def test_graph_errors_map_to_permanent_or_transient(status, body, permanent):
    assert graph_error(status, body).permanent is permanent


def test_retry_after_may_be_an_http_date():
    later = format_datetime(now() + timedelta(seconds=120), usegmt=True)
    retry_after = graph_error(429, None, later).retry_after
    assert retry_after is not None and 100 < retry_after <= 120


# --- send, unit level (respx) ------------------------------------------------------------------------------------


@respx.mock
async def test_send_calls_the_configured_versioned_graph_url():
    route = respx.post("https://graph.facebook.com/v25.0/me/messages").respond(
        200, json=fixture("send_response_success")
    )
    channel = MessengerChannel(app_secret=SECRET, verify_token=VERIFY_TOKEN, page_token="PAGE-TOKEN")
    await channel.send(Delivery(PSID, Text("hello, world"), last_user_message_at=now()))
    await channel.close()
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer PAGE-TOKEN"
    assert "PAGE-TOKEN" not in str(request.url)
    assert json.loads(request.content) == render(Text("hello, world"), PSID)[0]


@pytest.mark.parametrize("error", [httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow"), httpx.ConnectError("down")])
@respx.mock
async def test_timeouts_and_connection_errors_are_transient(error):
    respx.post("https://graph.facebook.com/v25.0/me/messages").mock(side_effect=error)
    channel = MessengerChannel(app_secret=SECRET, verify_token=VERIFY_TOKEN, page_token="PAGE-TOKEN")
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Text("Dạ"), last_user_message_at=now()))
    await channel.close()
    assert not failure.value.permanent
    assert channel.health() == "ok"


async def test_a_payload_too_long_for_messenger_fails_for_good_without_a_call(channel, graph):
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(PSID, Buttons("Chọn", (Button("A", "x" * 1001),)), last_user_message_at=now()))
    assert failure.value.permanent
    assert graph.requests == []


async def test_close_leaves_a_shared_client_open():
    async with httpx.AsyncClient() as shared:
        channel = MessengerChannel(app_secret=SECRET, verify_token=VERIFY_TOKEN, page_token="t", client=shared)
        await channel.close()
        assert not shared.is_closed
    own = MessengerChannel(app_secret=SECRET, verify_token=VERIFY_TOKEN, page_token="t")
    await own.close()
    assert own._client.is_closed


# --- setup -------------------------------------------------------------------------------------------------------


def test_manual_setup_steps_name_the_callback_and_every_setting():
    steps = messenger.manual_setup_steps("https://htx.example.vn/")
    assert "https://htx.example.vn/webhooks/messenger" in steps
    for name in ("MESSENGER_APP_SECRET", "MESSENGER_VERIFY_TOKEN", "MESSENGER_PAGE_TOKEN", "HTX_PUBLIC_URL"):
        assert name in steps
    assert "Warning" not in steps
    assert "Warning" in messenger.manual_setup_steps("http://localhost:8080")
