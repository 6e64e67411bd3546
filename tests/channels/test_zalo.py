"""The Zalo OA channel: webhook signature, events, numbered-menu rendering, sending, token refresh and errors."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from aiohttp import web

from channels.base import MAX_BODY, Channel, Delivery, SendError, split_text
from channels.types import Button, Buttons, Card, Cards, Image, Incoming, Location, Text
from channels.zalo import (
    UNSUPPORTED,
    BadEvent,
    InMemoryTokenStore,
    TokenPair,
    ZaloChannel,
    manual_setup_steps,
    menu_payload,
    pair_from_env,
    parse,
    render,
    send_error,
    verify,
)
from tests.channels.conftest import RecordingStore
from tests.fakes.zalo import FakeZalo, echo_event, follow_event, signature, signed_webhook, text_event, webhook_headers

PAYLOADS = Path(__file__).parent.parent / "payloads"
APP_ID = "2334789304983807556"  # the app id inside zalo_user_send_text_real_capture.json
OA_SECRET = "oa-secret-for-tests"
USER = "2512523625412515"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data


def real_capture() -> bytes:
    return (PAYLOADS / "zalo_user_send_text_real_capture.json").read_bytes()


def zalo_mac(app_id: str, body: bytes, timestamp: str, key: str) -> str:
    """The documented formula, written out independently of the code under test (platforms.md §1.2)."""
    return "mac=" + hashlib.sha256(f"{app_id}{body.decode()}{timestamp}{key}".encode()).hexdigest()


# --- verify ---------------------------------------------------------------------------------------------------


def test_verify_accepts_the_signature_zalo_computes_over_the_exact_body():
    body = real_capture()
    header = zalo_mac(APP_ID, body, "1787209817225", OA_SECRET)
    assert verify(body, header, APP_ID, OA_SECRET)
    assert verify(body, "  MAC=" + header[4:].upper() + " ", APP_ID, OA_SECRET)


def test_verify_refuses_a_wrong_key_the_app_secret_or_an_hmac():
    body = real_capture()
    assert not verify(body, zalo_mac(APP_ID, body, "1787209817225", "other-secret"), APP_ID, OA_SECRET)
    hmac_header = "mac=" + hmac.new(OA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert not verify(body, hmac_header, APP_ID, OA_SECRET)
    assert not verify(body, zalo_mac(APP_ID, body, "1787209817225", OA_SECRET), APP_ID, "app-secret")


def test_verify_refuses_a_tampered_body_and_another_apps_event():
    body = real_capture()
    header = zalo_mac(APP_ID, body, "1787209817225", OA_SECRET)
    assert not verify(body.replace(b'"Alo"', b'"Alo!"'), header, APP_ID, OA_SECRET)
    assert not verify(body, header, "1111111111111111111", OA_SECRET)


@pytest.mark.parametrize("header", [None, "", "mac=", "sha256=abc", "mac=zz", "mac=" + "0" * 64, "mac=ẞ"])
def test_verify_refuses_missing_or_malformed_headers(header: str | None):
    assert not verify(real_capture(), header, APP_ID, OA_SECRET)


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"event_name":"follow"}', b'{"timestamp":null}'])
def test_verify_refuses_bodies_without_a_timestamp(body: bytes):
    assert not verify(body, zalo_mac(APP_ID, body, "", OA_SECRET), APP_ID, OA_SECRET)


def test_verify_refuses_when_credentials_are_missing():
    body = real_capture()
    assert not verify(body, zalo_mac("", body, "1787209817225", ""), "", "")


def test_the_fakes_signature_matches_the_documented_formula():
    body = real_capture()
    assert signature(body, APP_ID, OA_SECRET) == zalo_mac(APP_ID, body, "1787209817225", OA_SECRET)


# --- parse ----------------------------------------------------------------------------------------------------


def test_a_text_event_becomes_an_incoming_text():
    [incoming] = parse(payload("zalo_user_send_text.json"))
    assert incoming == Incoming(
        channel="zalo",
        chat_id="246845883529197922",
        user_id="246845883529197922",
        event_id="96d3cdf3af150460909",
        text="message",
        raw=payload("zalo_user_send_text.json"),
    )


def test_the_real_capture_parses_without_user_id_by_app():
    [incoming] = parse(json.loads(real_capture()))
    assert (incoming.chat_id, incoming.event_id, incoming.text) == ("600000000000000001", "b2db3895fe26797f2030", "Alo")


def test_an_image_event_gives_the_picture_url_and_no_text():
    [incoming] = parse(payload("zalo_user_send_image_constructed.json"))
    assert incoming.image_url == "https://example.invalid/zalo/full.jpg"
    assert incoming.text is None and incoming.event_id == "a1b2c3d4e5f60718293a"
    assert UNSUPPORTED not in incoming.raw


def test_a_location_event_gives_the_point():
    [incoming] = parse(payload("zalo_user_send_location_constructed.json"))
    assert incoming.location == Location(10.7642473, 106.6564314)
    assert incoming.text is None


def test_a_sticker_has_no_text_and_is_marked_unsupported():
    [incoming] = parse(payload("zalo_user_send_sticker_constructed.json"))
    assert incoming.text is None and incoming.payload is None
    assert incoming.raw[UNSUPPORTED] == "sticker"
    assert incoming.event_id == "c3d4e5f60718293a4b5c"


def test_other_media_is_marked_unsupported_with_its_kind():
    event = {**payload("zalo_user_send_sticker_constructed.json"), "event_name": "user_send_audio"}
    [incoming] = parse(event)
    assert incoming.raw[UNSUPPORTED] == "audio"


def test_a_location_with_garbled_coordinates_is_marked_unsupported():
    event = payload("zalo_user_send_location_constructed.json")
    event["message"]["attachments"][0]["payload"]["coordinates"]["latitude"] = "north"
    [incoming] = parse(event)
    assert incoming.location is None and incoming.raw[UNSUPPORTED] == "location"


def test_a_follow_greets_the_follower_with_a_derived_event_id():
    [incoming] = parse(payload("zalo_follow.json"))
    assert incoming.payload == "menu" and incoming.text is None
    assert incoming.chat_id == incoming.user_id == "9000000000000000001"
    assert incoming.event_id == "follow:9000000000000000001:1724921862647"


def test_unfollow_gives_nothing():
    assert parse(payload("zalo_unfollow_constructed.json")) == []


def test_our_own_echoes_and_admin_messages_give_nothing():
    assert parse(echo_event(USER, "Chào bạn")) == []
    assert parse(echo_event(USER, "Chị ơi, em gọi lại nhé", admin_id="123")) == []


def test_events_we_do_not_handle_give_nothing():
    assert parse({"event_name": "user_seen_message", "sender": {"id": USER}, "timestamp": "1"}) == []


def test_control_characters_are_dropped_from_text():
    [incoming] = parse(text_event(USER, "mua\x00 2 ký\x07"))
    assert incoming.text == "mua 2 ký"


@pytest.mark.parametrize(
    "event",
    [
        {"timestamp": "1"},
        {"event_name": "user_send_text", "message": {"text": "hi", "msg_id": "1"}, "timestamp": "1"},
        {"event_name": "user_send_text", "sender": {"id": USER}, "timestamp": "1"},
        {"event_name": "user_send_text", "sender": {"id": USER}, "message": {"text": 5}, "timestamp": "1"},
        {"event_name": "user_send_text", "sender": {"id": USER}, "message": {"msg_id": "1"}, "timestamp": "1"},
        {"event_name": "user_send_image", "sender": {"id": USER}, "message": {"attachments": {}}, "timestamp": "1"},
        {"event_name": "follow", "follower": {}, "timestamp": "1"},
    ],
)
def test_malformed_events_are_refused(event: dict[str, Any]):
    with pytest.raises(BadEvent):
        parse(event)


# --- render ---------------------------------------------------------------------------------------------------


def test_text_renders_as_the_documented_request_body():
    assert render(Text("hello, world!"), USER) == ([payload("zalo_send_cs_text_request.json")], [])


def test_long_text_is_split_under_the_limit_at_word_breaks():
    text = " ".join(f"từ{i}" for i in range(1200))
    bodies, _ = render(Text(text), USER)
    pieces = [b["message"]["text"] for b in bodies]
    assert len(pieces) > 1 and all(len(p) <= 2000 for p in pieces)
    assert " ".join(pieces) == text


def test_split_text_cuts_at_line_breaks_then_anywhere():
    assert split_text("a" * 10 + "\n" + "b" * 10, limit=15) == ["a" * 10, "b" * 10]
    assert split_text("x" * 35, limit=15) == ["x" * 15, "x" * 15, "x" * 5]
    assert split_text("   ", limit=15) == []


def test_empty_text_renders_nothing():
    assert render(Text(" "), USER) == ([], [])


def test_buttons_render_as_one_text_with_a_numbered_menu():
    bodies, menu = render(
        Buttons("Bạn muốn làm gì?", (Button("Xem sản phẩm", "browse"), Button("Giỏ hàng", "cart"))), USER
    )
    assert bodies == [
        {"recipient": {"user_id": USER}, "message": {"text": "Bạn muốn làm gì?\n1. Xem sản phẩm\n2. Giỏ hàng"}}
    ]
    assert menu == ["browse", "cart"]


def test_menu_numbers_can_continue_from_an_earlier_reply():
    bodies, menu = render(Buttons("Tiếp?", (Button("Thanh toán", "checkout"),)), USER, menu_start=4)
    assert bodies[0]["message"]["text"] == "Tiếp?\n4. Thanh toán"
    assert menu == ["checkout"]


def test_cards_render_a_picture_then_text_numbered_across_cards():
    cards = Cards(
        (
            Card(
                "Thanh long ruột đỏ", "45.000 ₫/kg", "https://cdn.example.vn/tl.jpg", (Button("Mua 1 kg", "add:TL:1"),)
            ),
            Card("Cà chua", "30.000 ₫/kg", None, (Button("Mua 1 kg", "add:CC:1"), Button("Chi tiết", "info:CC"))),
        )
    )
    bodies, menu = render(cards, USER)
    assert bodies[0] == {
        "recipient": {"user_id": USER},
        "message": {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "image", "url": "https://cdn.example.vn/tl.jpg"}],
                },
            }
        },
    }
    assert [b["message"].get("text") for b in bodies[1:]] == [
        "Thanh long ruột đỏ\n45.000 ₫/kg\n1. Mua 1 kg",
        "Cà chua\n30.000 ₫/kg\n2. Mua 1 kg\n3. Chi tiết",
    ]
    assert menu == ["add:TL:1", "add:CC:1", "info:CC"]


def test_relative_card_pictures_need_the_public_url():
    cards = Cards((Card("Cà chua", "30.000 ₫/kg", "/static/img/cc.jpg", ()),))
    with_url, _ = render(cards, USER, public_url="https://htx.example.vn/")
    element = with_url[0]["message"]["attachment"]["payload"]["elements"][0]
    assert element["url"] == "https://htx.example.vn/static/img/cc.jpg"
    without_url, _ = render(cards, USER)
    assert without_url == [{"recipient": {"user_id": USER}, "message": {"text": "Cà chua\n30.000 ₫/kg"}}]


def test_an_image_renders_as_the_documented_media_message():
    expected = payload("zalo_send_cs_image_request.json")
    reply = Image("https://stc-developers.zdn.vn/images/bg_1.jpg", "Zalo đạt 100 triệu người dùng")
    assert render(reply, "2468458835296117922") == ([expected], [])


def test_an_image_without_an_absolute_url_sends_only_its_caption():
    assert render(Image("/i.png", "ảnh"), USER) == ([{"recipient": {"user_id": USER}, "message": {"text": "ảnh"}}], [])
    assert render(Image("/i.png"), USER) == ([], [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", "browse"), ("2", "cart"), (" 3 ", "orders"), ("2.", "cart"), ("3)", "orders"), ("02", "cart")],
)
def test_a_bare_number_picks_from_the_menu(text: str, expected: str):
    assert menu_payload(text, ["browse", "cart", "orders"]) == expected


@pytest.mark.parametrize("text", ["0", "4", "2 kg", "", "hai", "1.5", "-1", "#2"])
def test_anything_else_is_not_a_menu_choice(text: str):
    assert menu_payload(text, ["browse", "cart", "orders"]) is None


def test_no_menu_means_no_choice():
    assert menu_payload("1", []) is None


# --- the webhook route ----------------------------------------------------------------------------------------


@pytest.fixture
async def webhook(aiohttp_client: Any) -> AsyncIterator[tuple[Any, RecordingStore]]:
    store = RecordingStore()
    channel = ZaloChannel(app_id=APP_ID, app_secret="s", oa_secret_key=OA_SECRET, token_store=InMemoryTokenStore())
    app = web.Application()
    app.add_routes(channel.routes(store))
    yield await aiohttp_client(app), store
    await channel.close()


async def test_a_signed_delivery_is_stored_and_answered_200(webhook: tuple[Any, RecordingStore]):
    client, store = webhook
    body = real_capture()
    response = await client.post("/webhooks/zalo", data=body, headers=webhook_headers(body, APP_ID, OA_SECRET))
    assert response.status == 200
    assert [(i.chat_id, i.event_id, i.text) for i in store.incoming] == [
        ("600000000000000001", "b2db3895fe26797f2030", "Alo")
    ]


async def test_a_bad_signature_is_refused_401_and_nothing_is_stored(webhook: tuple[Any, RecordingStore]):
    client, store = webhook
    body, headers = signed_webhook(text_event(USER, "xin chào"), APP_ID, "wrong-secret")
    response = await client.post("/webhooks/zalo", data=body, headers=headers)
    assert response.status == 401 and "error" in await response.json()
    response = await client.post("/webhooks/zalo", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 401
    assert store.incoming == []


async def test_a_tampered_body_is_refused_401(webhook: tuple[Any, RecordingStore]):
    client, store = webhook
    body, headers = signed_webhook(text_event(USER, "mua 1 ký"), APP_ID, OA_SECRET)
    response = await client.post("/webhooks/zalo", data=body.replace("1 ký".encode(), "9 ký".encode()), headers=headers)
    assert response.status == 401 and store.incoming == []


async def test_a_signed_but_malformed_event_is_refused_400(webhook: tuple[Any, RecordingStore]):
    client, store = webhook
    body, headers = signed_webhook({"event_name": "user_send_text", "message": {"text": "x"}}, APP_ID, OA_SECRET)
    response = await client.post("/webhooks/zalo", data=body, headers=headers)
    assert response.status == 400 and "sender" in (await response.json())["error"]
    assert store.incoming == []


async def test_an_oversized_body_is_refused_413(webhook: tuple[Any, RecordingStore]):
    client, store = webhook
    body, headers = signed_webhook(text_event(USER, "x" * (MAX_BODY + 1)), APP_ID, OA_SECRET)
    response = await client.post("/webhooks/zalo", data=body, headers=headers)
    assert response.status == 413 and "error" in await response.json()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 32 * 1024):
            yield body[start : start + 32 * 1024]

    response = await client.post("/webhooks/zalo", data=chunks(), headers=headers)
    assert response.status == 413
    assert store.incoming == []


async def test_echoes_and_unfollows_are_acknowledged_without_storing(webhook: tuple[Any, RecordingStore]):
    client, store = webhook
    for event in (echo_event(USER, "Chào bạn"), payload("zalo_unfollow_constructed.json")):
        body, headers = signed_webhook(event, APP_ID, OA_SECRET)
        response = await client.post("/webhooks/zalo", data=body, headers=headers)
        assert response.status == 200
    assert store.incoming == []


async def test_the_fakes_webhook_delivery_reaches_the_route(webhook: tuple[Any, RecordingStore]):
    client, store = webhook
    fake = FakeZalo(app_id=APP_ID, oa_secret_key=OA_SECRET)
    status = await fake.deliver(str(client.make_url("/webhooks/zalo")), follow_event(USER), num_retry=1)
    assert status == 200
    assert [(i.user_id, i.payload) for i in store.incoming] == [(USER, "menu")]


# --- sending through the fake ---------------------------------------------------------------------------------


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as fake:
        yield fake


MakeChannel = Callable[..., ZaloChannel]


@pytest.fixture
async def make_channel(zalo: FakeZalo) -> AsyncIterator[MakeChannel]:
    made: list[ZaloChannel] = []

    def make(store: InMemoryTokenStore | None = None, **options: Any) -> ZaloChannel:
        channel = ZaloChannel(
            app_id=zalo.app_id,
            app_secret=zalo.app_secret,
            oa_secret_key=zalo.oa_secret_key,
            token_store=store if store is not None else InMemoryTokenStore(zalo.pair()),
            api_base_url=zalo.api_base_url,
            oauth_url=zalo.oauth_url,
            **options,
        )
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.close()


def soon() -> datetime:
    """An expiry inside the 5-minute refresh margin."""
    return datetime.now(UTC) + timedelta(minutes=2)


async def test_a_reply_is_sent_with_the_access_token_header(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel()
    await channel.send(Delivery(USER, Text("hello, world!")))
    assert zalo.sent == [payload("zalo_send_cs_text_request.json")]
    assert zalo.calls[0].headers["access_token"] == "fake-access-0"
    assert channel.health() == "ok"


async def test_cards_go_out_as_several_messages_in_order(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel(public_url="https://htx.example.vn")
    card = Card("Cà chua", "30.000 ₫/kg", "/static/cc.jpg", (Button("Mua", "add:CC:1"),))
    await channel.send(Delivery(USER, Cards((card, card))))
    assert [("attachment" in b["message"]) for b in zalo.sent] == [True, False, True, False]
    assert zalo.texts == ["Cà chua\n30.000 ₫/kg\n1. Mua", "Cà chua\n30.000 ₫/kg\n2. Mua"]


async def test_an_access_token_expiring_mid_conversation_is_refreshed_once(zalo: FakeZalo, make_channel: MakeChannel):
    store = InMemoryTokenStore(zalo.pair())
    channel = make_channel(store)
    await channel.send(Delivery(USER, Text("một")))
    zalo.expire_access_token()
    await channel.send(Delivery(USER, Text("hai")))
    await channel.send(Delivery(USER, Text("ba")))
    assert zalo.texts == ["một", "hai", "ba"]
    assert zalo.refreshes == 1 and zalo.refused_refreshes == 0
    stored = await store.current()
    assert stored is not None and stored.access_token == zalo.access_token == "fake-access-1"
    assert stored.refresh_token == "fake-refresh-1"
    assert timedelta(hours=24) < stored.expires_at - datetime.now(UTC) <= timedelta(hours=25)


async def test_a_token_about_to_expire_is_refreshed_before_sending(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel(InMemoryTokenStore(zalo.pair(expires_at=soon())))
    await channel.send(Delivery(USER, Text("xin chào")))
    assert [c.path for c in zalo.calls] == ["/v4/oa/access_token", "/v3.0/oa/message/cs"]
    assert zalo.calls[0].headers["secret_key"] == zalo.app_secret
    assert zalo.calls[0].body == {
        "refresh_token": "fake-refresh-0",
        "app_id": zalo.app_id,
        "grant_type": "refresh_token",
    }
    assert zalo.calls[1].headers["access_token"] == "fake-access-1"


async def test_two_channels_sharing_a_store_spend_the_refresh_token_once(zalo: FakeZalo, make_channel: MakeChannel):
    zalo.oauth_delay = 0.05
    store = InMemoryTokenStore(zalo.pair(expires_at=soon()))
    first, second = make_channel(store), make_channel(store)
    await asyncio.gather(first.send(Delivery(USER, Text("a"))), second.send(Delivery(USER, Text("b"))))
    assert zalo.refreshes == 1 and zalo.refused_refreshes == 0
    assert sorted(zalo.texts) == ["a", "b"]


async def test_many_senders_hit_by_an_expired_token_refresh_it_once(zalo: FakeZalo, make_channel: MakeChannel):
    zalo.oauth_delay = 0.02
    store = InMemoryTokenStore(zalo.pair())
    channels = [make_channel(store) for _ in range(4)]
    zalo.expire_access_token()
    await asyncio.gather(*(c.send(Delivery(USER, Text(f"{i}-{n}"))) for i, c in enumerate(channels) for n in range(3)))
    assert zalo.refreshes == 1 and zalo.refused_refreshes == 0
    assert len(zalo.sent) == 12


async def test_the_environment_pair_is_used_only_while_the_store_is_empty(zalo: FakeZalo, make_channel: MakeChannel):
    store = InMemoryTokenStore()
    channel = make_channel(store, initial=pair_from_env(zalo.access_token, zalo.refresh_token))
    await channel.send(Delivery(USER, Text("một")))
    assert zalo.refreshes == 0 and await store.current() is None
    zalo.expire_access_token()
    await channel.send(Delivery(USER, Text("hai")))
    stored = await store.current()
    assert zalo.refreshes == 1 and stored is not None and stored.access_token == zalo.access_token
    # The environment's refresh token is spent now; the stored pair wins from here on.
    await channel.send(Delivery(USER, Text("ba")))
    assert zalo.texts == ["một", "hai", "ba"] and zalo.refused_refreshes == 0


async def test_a_refresh_token_alone_from_the_environment_is_enough(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel(InMemoryTokenStore(), initial=pair_from_env(None, zalo.refresh_token))
    await channel.send(Delivery(USER, Text("xin chào")))
    assert zalo.refreshes == 1 and zalo.texts == ["xin chào"]
    assert pair_from_env(None, None) is None


async def test_a_failed_refresh_degrades_health_and_is_retried_later(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel(InMemoryTokenStore(zalo.pair(expires_at=soon())))
    zalo.fail_next("refresh_refused", endpoint="oauth")
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(USER, Text("xin chào")))
    assert not failure.value.permanent
    assert channel.health() == "degraded: token refresh failed (Refresh token is invalid, expired or already used)"
    assert zalo.sent == []
    await channel.send(Delivery(USER, Text("xin chào")))
    assert channel.health() == "ok" and zalo.texts == ["xin chào"]


async def test_health_recovers_when_another_process_refreshed(zalo: FakeZalo, make_channel: MakeChannel):
    store = InMemoryTokenStore(zalo.pair(expires_at=soon()))
    first, second = make_channel(store), make_channel(store)
    zalo.fail_next("http_500", endpoint="oauth")
    with pytest.raises(SendError):
        await first.send(Delivery(USER, Text("a")))
    await second.send(Delivery(USER, Text("b")))
    await first.send(Delivery(USER, Text("c")))
    assert first.health() == second.health() == "ok"
    assert zalo.refreshes == 1 and zalo.texts == ["b", "c"]


async def test_the_zalo_channel_keeps_the_channel_contract():
    channel: Channel = ZaloChannel(app_id="a", app_secret="s", oa_secret_key="k", token_store=InMemoryTokenStore())
    assert channel.name == "zalo" and channel.health() == "ok"
    assert [r.path for r in channel.routes(RecordingStore())] == ["/webhooks/zalo"]
    await channel.close()


async def test_a_refresh_answered_500_degrades_health(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel(InMemoryTokenStore(zalo.pair(expires_at=soon())))
    zalo.fail_next("http_500", endpoint="oauth")
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(USER, Text("a")))
    assert not failure.value.permanent and channel.health() == "degraded: token refresh failed (HTTP 500)"


async def test_a_spent_refresh_token_degrades_health(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel(InMemoryTokenStore(TokenPair("gone", "spent-refresh", soon())))
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(USER, Text("a")))
    assert not failure.value.permanent and zalo.refused_refreshes == 1
    assert channel.health().startswith("degraded: token refresh failed")


async def test_no_tokens_at_all_degrades_health(make_channel: MakeChannel):
    channel = make_channel(InMemoryTokenStore())
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(USER, Text("a")))
    assert not failure.value.permanent
    assert channel.health() == "degraded: token refresh failed (no refresh token)"


async def test_a_token_still_refused_after_a_refresh_is_permanent(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel()
    zalo.fail_next("invalid_token", times=2)
    with pytest.raises(SendError) as failure:
        await channel.send(Delivery(USER, Text("a")))
    assert failure.value.permanent and zalo.refreshes == 1


async def test_the_documented_invalid_token_answer_triggers_one_refresh(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel()
    zalo.fail_next(payload("zalo_error_access_token_invalid.json"))
    await channel.send(Delivery(USER, Text("a")))
    assert zalo.refreshes == 1 and zalo.texts == ["a"]


@pytest.mark.parametrize(
    ("failure", "permanent"),
    [
        (payload("zalo_error_user_not_interacted_7d.json"), True),
        (payload("zalo_error_rate_limited.json"), False),
        ({"error": -213, "message": "User has not followed OA"}, True),
        ({"error": -211, "message": "Out of quota"}, True),
        ({"error": -999, "message": "Something new"}, True),
        ("http_500", False),
        ("http_503", False),
    ],
)
async def test_send_errors_map_to_permanent_or_transient(
    zalo: FakeZalo, make_channel: MakeChannel, failure: str | dict[str, Any], permanent: bool
):
    channel = make_channel()
    zalo.fail_next(failure)
    with pytest.raises(SendError) as error:
        await channel.send(Delivery(USER, Text("a")))
    assert error.value.permanent is permanent
    assert zalo.refreshes == 0 and channel.health() == "ok"


async def test_the_fake_enforces_the_seven_day_window(zalo: FakeZalo, make_channel: MakeChannel):
    zalo.user_interacted(USER, datetime.now(UTC) - timedelta(days=8))
    with pytest.raises(SendError) as error:
        await make_channel().send(Delivery(USER, Text("a")))
    assert error.value.permanent and "-230" in error.value.reason


async def test_an_order_update_to_a_user_silent_for_a_week_is_not_sent(zalo: FakeZalo, make_channel: MakeChannel):
    channel = make_channel()
    for last in (None, datetime.now(UTC) - timedelta(days=7, minutes=1)):
        with pytest.raises(SendError) as error:
            await channel.send(Delivery(USER, Text("Đơn đã giao"), last_user_message_at=last, proactive=True))
        assert error.value.permanent and "7-day window" in error.value.reason
    assert zalo.sent == []
    await channel.send(Delivery(USER, Text("Đơn đã giao"), last_user_message_at=datetime.now(UTC), proactive=True))
    assert len(zalo.sent) == 1


async def test_long_replies_pass_the_fakes_length_check(zalo: FakeZalo, make_channel: MakeChannel):
    await make_channel().send(Delivery(USER, Text("chữ " * 1500)))
    assert len(zalo.sent) == 3 and zalo.refreshes == 0


# --- HTTP details at unit level (respx) -----------------------------------------------------------------------

API = "https://openapi.test"
OAUTH = "https://oauth.test"


@pytest.fixture
def mocked() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def unit_channel(store: InMemoryTokenStore, client: httpx.AsyncClient) -> ZaloChannel:
    return ZaloChannel(
        app_id="app-1",
        app_secret="app-secret",
        oa_secret_key="oa-secret",
        token_store=store,
        api_base_url=API,
        oauth_url=OAUTH,
        client=client,
    )


async def test_the_refresh_request_and_the_documented_answer(mocked: respx.MockRouter):
    oauth = mocked.post(f"{OAUTH}/v4/oa/access_token").respond(200, json=payload("zalo_oauth_token_response.json"))
    send = mocked.post(f"{API}/v3.0/oa/message/cs").respond(200, json=payload("zalo_send_cs_response_success.json"))
    store = InMemoryTokenStore(TokenPair("old-access", "old-refresh", soon()))
    async with httpx.AsyncClient() as client:
        await unit_channel(store, client).send(Delivery(USER, Text("a")))
        assert not client.is_closed
    request = oauth.calls.last.request
    assert request.headers["secret_key"] == "app-secret"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(request.content.decode())) == {
        "refresh_token": "old-refresh",
        "app_id": "app-1",
        "grant_type": "refresh_token",
    }
    assert send.calls.last.request.headers["access_token"] == "<ACCESS_TOKEN>"
    stored = await store.current()
    assert stored is not None and stored.refresh_token == "<REFRESH_TOKEN>"
    assert timedelta(hours=24, minutes=59) < stored.expires_at - datetime.now(UTC) <= timedelta(hours=25)


@pytest.mark.parametrize(
    ("response", "permanent", "retry_after"),
    [
        (httpx.Response(429, headers={"Retry-After": "7"}), False, 7.0),
        (httpx.Response(503, headers={"Retry-After": "soon"}), False, None),
        (httpx.Response(200, text="<html>gateway</html>"), False, None),
        (httpx.Response(404, text="not found"), True, None),
    ],
)
async def test_http_level_failures(
    mocked: respx.MockRouter, response: httpx.Response, permanent: bool, retry_after: float | None
):
    mocked.post(f"{API}/v3.0/oa/message/cs").mock(return_value=response)
    async with httpx.AsyncClient() as client:
        with pytest.raises(SendError) as error:
            await unit_channel(
                InMemoryTokenStore(TokenPair("a", "r", datetime.now(UTC) + timedelta(hours=1))), client
            ).send(Delivery(USER, Text("a")))
    assert (error.value.permanent, error.value.retry_after) == (permanent, retry_after)


async def test_a_timeout_is_transient(mocked: respx.MockRouter):
    mocked.post(f"{API}/v3.0/oa/message/cs").mock(side_effect=httpx.ReadTimeout("slow"))
    async with httpx.AsyncClient() as client:
        with pytest.raises(SendError) as error:
            await unit_channel(
                InMemoryTokenStore(TokenPair("a", "r", datetime.now(UTC) + timedelta(hours=1))), client
            ).send(Delivery(USER, Text("a")))
    assert not error.value.permanent


@pytest.mark.parametrize(
    ("code", "permanent"), [(-32, False), (-230, True), (-232, True), (-213, True), (-244, True), (-216, True)]
)
def test_error_codes_map_to_send_errors(code: int, permanent: bool):
    error = send_error(code, "message", retry_after=None)
    assert error.permanent is permanent and str(code) in error.reason


# --- setup ----------------------------------------------------------------------------------------------------


def test_manual_setup_steps_name_the_webhook_url_and_every_setting():
    steps = manual_setup_steps("https://htx.example.vn/")
    assert "https://htx.example.vn/webhooks/zalo" in steps
    for name in ("ZALO_APP_ID", "ZALO_APP_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_ACCESS_TOKEN", "ZALO_REFRESH_TOKEN"):
        assert name in steps
    assert "!" not in steps
    warned = manual_setup_steps("http://localhost:8080")
    assert "only an HTTPS webhook URL" in warned and "host:port" in warned
