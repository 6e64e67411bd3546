"""The web chat page's channel: validate a `POST /web/chat` body and render replies as its JSON."""

from __future__ import annotations

import re
import uuid
from typing import Any

from channels.types import Buttons, Cards, Image, Incoming, Reply, Text

CHANNEL = "web"
MAX_TEXT = 2000
_SESSION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# C0 controls but tab and newline: dropped, since no one types them and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class BadRequest(ValueError):
    """The body is not a valid web chat message; the text says why, in plain English for developers."""


def parse(body: Any) -> Incoming:
    """Turn the decoded JSON body into an `Incoming`, or raise `BadRequest`."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    session = body.get("session")
    if not isinstance(session, str) or not _SESSION.match(session):
        raise BadRequest("session must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    text, payload = body.get("text"), body.get("payload")
    if text is None and payload is None:
        raise BadRequest("give either text or payload")
    for name, value in (("text", text), ("payload", payload)):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{name} must be a string")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise BadRequest(f"{name} is longer than {MAX_TEXT} characters")
    return Incoming(
        channel=CHANNEL,
        chat_id=session,
        user_id=session,
        event_id=uuid.uuid4().hex,
        text=_CONTROL.sub("", text) if text is not None else None,
        payload=_CONTROL.sub("", payload) if payload is not None else None,
        raw=body,
    )


def render(replies: list[Reply]) -> list[dict[str, Any]]:
    """Render replies as the page's JSON: each card becomes one reply of its own."""
    rendered: list[dict[str, Any]] = []
    for reply in replies:
        match reply:
            case Text(text=text):
                rendered.append(_message(text))
            case Buttons(text=text, buttons=buttons):
                rendered.append(_message(text, [{"title": b.title, "payload": b.payload} for b in buttons]))
            case Cards(cards=cards):
                for card in cards:
                    rendered.append(
                        _message(
                            f"{card.title}\n{card.subtitle}",
                            [{"title": b.title, "payload": b.payload} for b in card.buttons],
                            card.image_url,
                        )
                    )
            case Image(url=url, caption=caption):
                rendered.append(_message(caption or "", image_url=url))
    return rendered


def _message(text: str, buttons: list[dict[str, str]] | None = None, image_url: str | None = None) -> dict[str, Any]:
    return {"text": text, "buttons": buttons or [], "image_url": image_url}
