"""The shared vocabulary between platforms and the engine: one incoming message, a closed set of replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Location:
    """A point a user shared."""

    latitude: float
    longitude: float


@dataclass(frozen=True)
class Incoming:
    """One message from a user, whatever the platform it came from."""

    channel: str
    chat_id: str
    user_id: str
    event_id: str
    text: str | None = None
    payload: str | None = None
    image_url: str | None = None
    location: Location | None = None
    contact_phone: str | None = None
    locale_hint: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    """A tappable choice; `payload` is a short typed string such as `add:TL-RD-HD:1` (Telegram allows 64 bytes)."""

    title: str
    payload: str


@dataclass(frozen=True)
class Text:
    """Plain text."""

    text: str


@dataclass(frozen=True)
class Buttons:
    """Text followed by a few choices."""

    text: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class Card:
    """One product card: title, a short description, an optional picture and its buttons."""

    title: str
    subtitle: str
    image_url: str | None
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class Cards:
    """A row of product cards."""

    cards: tuple[Card, ...]


@dataclass(frozen=True)
class Image:
    """A picture with an optional caption."""

    url: str
    caption: str | None = None


@dataclass(frozen=True)
class Event:
    """A machine-readable event for a partner's own system (a signed webhook); chat platforms never get one."""

    name: str
    data: dict[str, Any]


Reply = Text | Buttons | Cards | Image | Event


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """Serialise a reply for the durable outbox."""
    match reply:
        case Text(text=text):
            return {"type": "text", "text": text}
        case Buttons(text=text, buttons=buttons):
            return {"type": "buttons", "text": text, "buttons": [_button(b) for b in buttons]}
        case Cards(cards=cards):
            return {
                "type": "cards",
                "cards": [
                    {
                        "title": c.title,
                        "subtitle": c.subtitle,
                        "image_url": c.image_url,
                        "buttons": [_button(b) for b in c.buttons],
                    }
                    for c in cards
                ],
            }
        case Image(url=url, caption=caption):
            return {"type": "image", "url": url, "caption": caption}
        case Event(name=name, data=data):
            return {"type": "event", "name": name, "data": data}


def reply_from_dict(data: dict[str, Any]) -> Reply:
    """Read back a reply stored by `reply_to_dict`."""
    kind = data["type"]
    if kind == "text":
        return Text(data["text"])
    if kind == "buttons":
        return Buttons(data["text"], _buttons(data["buttons"]))
    if kind == "cards":
        return Cards(
            tuple(Card(c["title"], c["subtitle"], c["image_url"], _buttons(c["buttons"])) for c in data["cards"])
        )
    if kind == "image":
        return Image(data["url"], data["caption"])
    if kind == "event":
        return Event(data["name"], data["data"])
    raise ValueError(f"unknown reply type {kind!r}")


def _button(button: Button) -> dict[str, str]:
    return {"title": button.title, "payload": button.payload}


def _buttons(items: list[dict[str, str]]) -> tuple[Button, ...]:
    return tuple(Button(b["title"], b["payload"]) for b in items)
