"""The web chat channel: what a valid body is, and how replies render as the page's JSON."""

from __future__ import annotations

import pytest

from channels import web
from channels.types import Button, Buttons, Card, Cards, Image, Text, reply_from_dict, reply_to_dict


def test_a_valid_body_becomes_an_incoming_message():
    incoming = web.parse({"session": "abc_DEF-123", "text": "xin chào"})
    assert (incoming.channel, incoming.chat_id, incoming.user_id, incoming.text) == (
        "web",
        "abc_DEF-123",
        "abc_DEF-123",
        "xin chào",
    )
    assert incoming.event_id


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"text": "hi"},
        {"session": "", "text": "hi"},
        {"session": "a b", "text": "hi"},
        {"session": "x" * 65, "text": "hi"},
        {"session": "ok"},
        {"session": "ok", "text": 5},
        {"session": "ok", "text": "x" * 2001},
        {"session": "ok", "payload": "x" * 2001},
    ],
)
def test_invalid_bodies_are_refused_with_a_reason(body):
    with pytest.raises(web.BadRequest):
        web.parse(body)


def test_text_of_exactly_two_thousand_characters_is_accepted():
    assert web.parse({"session": "ok", "text": "a" * 2000}).text == "a" * 2000


def test_replies_render_as_text_buttons_and_one_reply_per_card():
    card = Card("Cà chua", "30.000 ₫/kg", "/static/img/x.svg", (Button("Mua 1 kg", "add:RAU-CACHUA-TP:1"),))
    rendered = web.render(
        [Text("chào"), Buttons("chọn", (Button("Giỏ hàng", "cart"),)), Cards((card, card)), Image("/i.png")]
    )
    assert rendered[0] == {"text": "chào", "buttons": [], "image_url": None}
    assert rendered[1]["buttons"] == [{"title": "Giỏ hàng", "payload": "cart"}]
    assert rendered[2] == {
        "text": "Cà chua\n30.000 ₫/kg",
        "buttons": [{"title": "Mua 1 kg", "payload": "add:RAU-CACHUA-TP:1"}],
        "image_url": "/static/img/x.svg",
    }
    assert len(rendered) == 5 and rendered[4]["image_url"] == "/i.png"


def test_replies_survive_the_outbox_round_trip():
    card = Card("Cà chua", "30.000 ₫/kg", None, (Button("Mua", "add:X:1"),))
    for reply in (Text("a"), Buttons("b", (Button("c", "d"),)), Cards((card,)), Image("/i.png", "ảnh")):
        assert reply_from_dict(reply_to_dict(reply)) == reply
