"""The Telegram channel: secret check, real updates parsed, replies rendered, the webhook route, and sends through
the real python-telegram-bot `Bot` to the fake Bot API server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from channels import telegram
from channels.base import MAX_BODY, Channel, Delivery, SendError
from channels.telegram import SECRET_HEADER, TelegramChannel, parse, render, verify
from channels.types import Button, Buttons, Card, Cards, Image, Incoming, Location, Text
from tests.channels.conftest import RecordingStore
from tests.fakes.telegram import FakeTelegram

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
SECRET = "webhook_Secret-123"
CHAT = "100000001"
PUBLIC_URL = "https://htx.example.vn"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def channel(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(fake.token, SECRET, base_url=fake.base_url, public_url=PUBLIC_URL)
    yield channel
    await channel.close()


@pytest.fixture
async def webhook(aiohttp_client: Any, channel: TelegramChannel, store: RecordingStore) -> TestClient:
    app = web.Application()
    app.add_routes(channel.routes(store))
    client: TestClient = await aiohttp_client(app)
    return client


# verify ---------------------------------------------------------------------------------------------------------


def test_the_right_secret_header_is_accepted():
    assert verify(CIMultiDict({SECRET_HEADER: SECRET}), SECRET)
    assert verify(CIMultiDict({SECRET_HEADER.lower(): SECRET}), SECRET)
    assert verify({SECRET_HEADER.lower(): SECRET}, SECRET)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SECRET_HEADER: ""},
        {SECRET_HEADER: SECRET + "x"},
        {SECRET_HEADER: SECRET[:-1]},
        {SECRET_HEADER: "sai bí mật"},
        {"X-Other": SECRET},
    ],
)
def test_a_wrong_or_missing_secret_header_is_refused(headers):
    assert not verify(CIMultiDict(headers), SECRET)


def test_no_request_is_accepted_when_no_secret_is_configured():
    assert not verify(CIMultiDict({SECRET_HEADER: ""}), "")


# parse ----------------------------------------------------------------------------------------------------------


def test_a_text_message_becomes_an_incoming_text():
    update = payload("telegram_message_text.json")
    assert parse(update) == [
        Incoming(
            channel="telegram",
            chat_id="100000001",
            user_id="100000001",
            event_id="207882735",
            text="asdasd",
            locale_hint="ru",
            raw=update,
        )
    ]


def test_a_button_press_becomes_a_payload_from_the_chat_of_its_message():
    [incoming] = parse(payload("telegram_callback_query.json"))
    assert (incoming.chat_id, incoming.user_id, incoming.event_id) == ("100000001", "100000001", "207882762")
    assert (incoming.payload, incoming.text, incoming.locale_hint) == ("street", None, "ru")


def test_a_shared_contact_becomes_a_phone_without_text():
    [incoming] = parse(payload("telegram_message_contact.json"))
    assert (incoming.contact_phone, incoming.text, incoming.event_id) == ("+84900000000", None, "207883434")


def test_a_shared_location_becomes_a_location():
    [incoming] = parse(payload("telegram_message_location_constructed.json"))
    assert incoming.location == Location(10.762622, 106.660172)
    assert incoming.text is None


def test_a_photo_becomes_the_largest_sizes_file_id_with_its_caption():
    [incoming] = parse(payload("telegram_message_photo_constructed.json"))
    assert incoming.image_url == "tg-file:AgACAgIAAxkBAAIXXXlarge"
    assert incoming.text == "ảnh sản phẩm"


def test_control_characters_are_dropped_from_text():
    update = payload("telegram_message_text.json")
    update["message"]["text"] = "xin\x00 chào\x07\n"
    assert parse(update)[0].text == "xin chào\n"


def test_edited_messages_and_other_update_kinds_are_ignored():
    edited = payload("telegram_message_text.json")
    edited["edited_message"] = edited.pop("message")
    member = {"update_id": 5, "my_chat_member": {"chat": {"id": 1}, "from": {"id": 1}}}
    assert parse(edited) == []
    assert parse(member) == []


def test_messages_without_anything_usable_are_ignored():
    update = payload("telegram_message_text.json")
    del update["message"]["text"]
    update["message"]["sticker"] = {"file_id": "CAAC", "emoji": "👍"}
    assert parse(update) == []


@pytest.mark.parametrize(
    "update",
    [
        {},
        {"update_id": "1", "message": {"chat": {"id": 1}, "text": "hi"}},
        {"update_id": True, "message": {"chat": {"id": 1}, "text": "hi"}},
        {"update_id": 1, "message": "hi"},
        {"update_id": 1, "message": {"chat": "1", "text": "hi"}},
        {"update_id": 1, "message": {"chat": {"id": 1}, "location": {"latitude": "10", "longitude": 1}}},
        {"update_id": 1, "message": {"chat": {"id": 1}, "photo": [{"width": 1}]}},
        {"update_id": 1, "callback_query": {"id": "q", "from": {"id": 1}, "game_short_name": "g"}},
        {"update_id": 1, "callback_query": {"id": "q", "data": "x"}},
    ],
)
def test_malformed_updates_give_nothing_rather_than_an_error(update):
    assert parse(update) == []


def test_a_button_press_without_a_message_comes_from_the_users_chat():
    update = payload("telegram_callback_query.json")
    del update["callback_query"]["message"]
    update["callback_query"]["inline_message_id"] = "AAAA"
    assert parse(update)[0].chat_id == "100000001"


# render ---------------------------------------------------------------------------------------------------------


def test_text_renders_as_one_send_message():
    assert render(Text("Xin chào")) == [{"method": "sendMessage", "text": "Xin chào"}]
    assert render(Text("  ")) == []


def test_too_long_text_is_cut_to_telegrams_limit():
    [call] = render(Text("x" * 5000))
    assert len(call["text"]) == 4096


def test_buttons_render_as_an_inline_keyboard_in_the_bot_api_shape():
    expected = payload("telegram_send_message_inline_keyboard_request.json")
    [call] = render(Buttons("Chọn size:", (Button("S", "size:S"), Button("M", "size:M"))))
    assert call["method"] == "sendMessage"
    assert call["text"] == expected["text"]
    # One button per row; the fields are those of the Bot API request in the fixture.
    assert call["reply_markup"] == {"inline_keyboard": [[b] for b in expected["reply_markup"]["inline_keyboard"][0]]}


def test_buttons_whose_payload_telegram_would_refuse_are_left_out():
    [call] = render(Buttons("Chọn", (Button("ok", "add:TL-RD-HD:1"), Button("long", "x" * 65), Button("empty", ""))))
    assert call["reply_markup"] == {"inline_keyboard": [[{"text": "ok", "callback_data": "add:TL-RD-HD:1"}]]}
    [bare] = render(Buttons("Chọn", (Button("long", "ư" * 33),)))
    assert "reply_markup" not in bare


def test_a_card_with_an_absolute_picture_is_a_photo_with_caption_and_buttons():
    card = Card("Thanh long ruột đỏ", "35.000 ₫/kg", "https://cdn.example/tl.jpg", (Button("Mua", "add:TL:1"),))
    assert render(Cards((card,))) == [
        {
            "method": "sendPhoto",
            "photo": "https://cdn.example/tl.jpg",
            "caption": "Thanh long ruột đỏ\n35.000 ₫/kg",
            "reply_markup": {"inline_keyboard": [[{"text": "Mua", "callback_data": "add:TL:1"}]]},
        }
    ]


def test_a_relative_picture_is_made_absolute_with_the_public_url():
    card = Card("Thanh long", "", "/static/img/tl.jpg", ())
    [call] = render(Cards((card,)), public_url=PUBLIC_URL + "/")
    assert (call["method"], call["photo"], call["caption"]) == (
        "sendPhoto",
        PUBLIC_URL + "/static/img/tl.jpg",
        "Thanh long",
    )


@pytest.mark.parametrize(
    ("image_url", "public_url"),
    [
        ("/static/img/tl.jpg", None),
        ("/static/img/thanh-long-ruot-do.svg", PUBLIC_URL),
        ("https://cdn.example/tl.svg", None),
        ("ftp://cdn.example/tl.jpg", None),
        (None, PUBLIC_URL),
    ],
)
def test_a_card_whose_picture_telegram_cannot_fetch_is_sent_as_text(image_url, public_url):
    card = Card("Thanh long", "35.000 ₫/kg", image_url, (Button("Mua", "add:TL:1"),))
    [call] = render(Cards((card,)), public_url=public_url)
    assert call["method"] == "sendMessage"
    assert call["text"] == "Thanh long\n35.000 ₫/kg"
    assert call["reply_markup"]["inline_keyboard"] == [[{"text": "Mua", "callback_data": "add:TL:1"}]]


def test_each_card_is_its_own_message():
    cards = Cards(tuple(Card(f"SP {n}", "", None, ()) for n in range(3)))
    assert [c["text"] for c in render(cards)] == ["SP 0", "SP 1", "SP 2"]


def test_an_image_is_a_photo_or_its_caption_as_text():
    assert render(Image("https://cdn.example/a.png", "Ảnh")) == [
        {"method": "sendPhoto", "photo": "https://cdn.example/a.png", "caption": "Ảnh"}
    ]
    assert render(Image("tg-file:AgACAgIAAxkBAAIXXXlarge")) == [
        {"method": "sendPhoto", "photo": "AgACAgIAAxkBAAIXXXlarge"}
    ]
    assert render(Image("/static/img/a.png", "Ảnh")) == [{"method": "sendMessage", "text": "Ảnh"}]
    assert render(Image("/static/img/a.png")) == []


# the webhook route ----------------------------------------------------------------------------------------------


async def test_a_wrong_secret_is_refused_and_nothing_is_stored(webhook, store):
    update = payload("telegram_message_text.json")
    response = await webhook.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: "wrong"})
    assert response.status == 401
    assert "error" in await response.json()
    assert store.batches == []


async def test_a_missing_secret_is_refused_and_nothing_is_stored(webhook, store):
    response = await webhook.post("/webhooks/telegram", json=payload("telegram_message_text.json"))
    assert response.status == 401
    assert store.batches == []


async def test_a_good_update_is_stored_and_acknowledged(webhook, store):
    update = payload("telegram_message_text.json")
    response = await webhook.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status == 200
    assert await response.json() == {"ok": True}
    assert store.batches == [parse(update)]


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b"42", b"", b"[" * 100_000])
async def test_a_body_that_is_not_a_json_object_is_refused(webhook, store, body):
    response = await webhook.post("/webhooks/telegram", data=body, headers={SECRET_HEADER: SECRET})
    assert response.status == 400
    assert "error" in await response.json()
    assert store.batches == []


async def test_an_oversized_body_is_refused(webhook, store):
    body = b" " * (MAX_BODY + 1)
    response = await webhook.post("/webhooks/telegram", data=body, headers={SECRET_HEADER: SECRET})
    assert response.status == 413
    assert "error" in await response.json()
    assert store.batches == []


async def test_an_oversized_chunked_body_is_refused(webhook, store):
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b" " * (MAX_BODY // 4)

    response = await webhook.post("/webhooks/telegram", data=chunks(), headers={SECRET_HEADER: SECRET})
    assert response.status == 413
    assert store.batches == []


async def test_updates_we_do_not_use_are_acknowledged_without_storing(webhook, store):
    update = payload("telegram_message_text.json")
    update["edited_message"] = update.pop("message")
    response = await webhook.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status == 200
    assert store.batches == []


async def test_a_button_press_is_stored_and_answered_in_the_background(webhook, store, fake):
    update = payload("telegram_callback_query.json")
    response = await webhook.post("/webhooks/telegram", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status == 200
    assert store.batches[0][0].payload == "street"
    [answer] = await fake.wait_for("answerCallbackQuery")
    assert answer["callback_query_id"] == "4316545281924898172"


async def test_a_redelivered_button_press_is_not_answered_twice(aiohttp_client, channel, fake):
    app = web.Application()
    app.add_routes(channel.routes(RecordingStore(new=False)))
    client = await aiohttp_client(app)
    response = await client.post(
        "/webhooks/telegram", json=payload("telegram_callback_query.json"), headers={SECRET_HEADER: SECRET}
    )
    assert response.status == 200
    await channel.close()  # lets any background answer finish
    assert fake.calls_to("answerCallbackQuery") == []


async def test_the_fake_delivers_updates_to_the_webhook_it_was_given(webhook, store, channel, fake):
    await channel.set_webhook(str(webhook.make_url("/webhooks/telegram")))
    assert await fake.deliver(fake.text_update("xin chào")) == 200
    assert await fake.deliver(fake.text_update("sai"), secret="wrong") == 401
    [[incoming]] = store.batches
    assert (incoming.text, incoming.chat_id, incoming.locale_hint) == ("xin chào", CHAT, "vi")


# send -----------------------------------------------------------------------------------------------------------


async def test_text_is_sent_with_send_message(channel, fake):
    await channel.send(Delivery(CHAT, Text("Xin chào")))
    assert fake.calls_to("sendMessage") == [{"chat_id": CHAT, "text": "Xin chào"}]
    assert channel.health() == "ok"


async def test_buttons_are_sent_as_an_inline_keyboard(channel, fake):
    await channel.send(Delivery(CHAT, Buttons("Chọn size:", (Button("S", "size:S"), Button("M", "size:M")))))
    [call] = fake.calls_to("sendMessage")
    assert call["reply_markup"] == {
        "inline_keyboard": [[{"text": "S", "callback_data": "size:S"}], [{"text": "M", "callback_data": "size:M"}]]
    }


async def test_a_card_with_a_picture_is_sent_with_send_photo(channel, fake):
    card = Card("Thanh long ruột đỏ", "35.000 ₫/kg", "/static/img/tl.jpg", (Button("Mua", "add:TL:1"),))
    await channel.send(Delivery(CHAT, Cards((card, Card("Hộp quà", "", None, ())))))
    [photo] = fake.calls_to("sendPhoto")
    assert photo["photo"] == PUBLIC_URL + "/static/img/tl.jpg"
    assert photo["caption"] == "Thanh long ruột đỏ\n35.000 ₫/kg"
    assert photo["reply_markup"]["inline_keyboard"] == [[{"text": "Mua", "callback_data": "add:TL:1"}]]
    assert [m["text"] for m in fake.calls_to("sendMessage")] == ["Hộp quà"]


async def test_a_picture_telegram_refuses_falls_back_to_the_cards_text(channel, fake):
    fake.fail_next(400, method="sendPhoto", description="Bad Request: wrong type of the web page content")
    await channel.send(Delivery(CHAT, Cards((Card("Thanh long", "", "https://cdn.example/x.jpg", ()),))))
    assert fake.calls_to("sendPhoto") == []
    assert fake.calls_to("sendMessage") == [{"chat_id": CHAT, "text": "Thanh long"}]


async def test_too_many_requests_is_retried_after_the_time_telegram_gives(channel, fake):
    fake.fail_next(429)
    with pytest.raises(SendError) as raised:
        await channel.send(Delivery(CHAT, Text("Xin chào")))
    assert (raised.value.permanent, raised.value.retry_after) == (False, 1)


async def test_retry_after_is_read_in_seconds_when_ptb_gives_a_timedelta(channel, fake, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.fail_next(429, retry_after=35)
    with pytest.raises(SendError) as raised:
        await channel.send(Delivery(CHAT, Text("Xin chào")))
    assert raised.value.retry_after == 35


async def test_a_user_who_blocked_the_bot_is_a_permanent_failure(channel, fake):
    fake.fail_next(403)
    with pytest.raises(SendError) as raised:
        await channel.send(Delivery(CHAT, Text("Xin chào")))
    assert raised.value.permanent
    assert "blocked" in raised.value.reason


async def test_chat_not_found_is_a_permanent_failure(channel, fake):
    fake.fail_next(400)
    with pytest.raises(SendError) as raised:
        await channel.send(Delivery(CHAT, Text("Xin chào")))
    assert raised.value.permanent


async def test_a_server_error_is_retried(channel, fake):
    fake.fail_next(500)
    with pytest.raises(SendError) as raised:
        await channel.send(Delivery(CHAT, Text("Xin chào")))
    assert not raised.value.permanent
    await channel.send(Delivery(CHAT, Text("Xin chào")))
    assert len(fake.calls_to("sendMessage")) == 1


async def test_an_unreachable_api_is_retried():
    channel = TelegramChannel("123:ABC", SECRET, base_url="http://127.0.0.1:9/bot")
    try:
        with pytest.raises(SendError) as raised:
            await channel.send(Delivery(CHAT, Text("Xin chào")))
        assert not raised.value.permanent
    finally:
        await channel.close()


async def test_a_rejected_token_is_permanent_shown_by_health_and_never_repeated(fake):
    channel = TelegramChannel("999:WRONG-token", SECRET, base_url=fake.base_url)
    try:
        with pytest.raises(SendError) as raised:
            await channel.send(Delivery(CHAT, Text("Xin chào")))
        assert raised.value.permanent
        assert "999:WRONG-token" not in str(raised.value)
        assert channel.health() != "ok"
        assert "999:WRONG-token" not in channel.health()
    finally:
        await channel.close()


async def test_set_webhook_registers_the_url_with_our_secret(channel, fake):
    await channel.set_webhook("https://htx.example.vn/webhooks/telegram")
    assert fake.webhook == {
        "url": "https://htx.example.vn/webhooks/telegram",
        "secret_token": SECRET,
        "allowed_updates": list(telegram.ALLOWED_UPDATES),
    }


async def test_close_then_send_again_reopens_the_bot(channel, fake):
    await channel.send(Delivery(CHAT, Text("một")))
    await channel.close()
    await channel.send(Delivery(CHAT, Text("hai")))
    assert [m["text"] for m in fake.calls_to("sendMessage")] == ["một", "hai"]


def test_the_channel_keeps_the_shared_contract(channel: TelegramChannel) -> None:
    contract: Channel = channel  # checked by mypy
    assert contract.name == "telegram"
    assert contract.health() == "ok"
    assert [route.path for route in contract.routes(RecordingStore())] == ["/webhooks/telegram"]


@pytest.mark.parametrize("secret", ["", "có dấu", "a" * 257, "with space"])
def test_a_secret_telegram_would_refuse_is_refused_at_start(secret):
    with pytest.raises(ValueError):
        TelegramChannel("123:ABC", secret)
