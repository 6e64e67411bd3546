"""A fake Messenger: the Graph Send API on port 0, and signed webhook deliveries as Meta sends them.

Follows ../shared/reference/platforms.md §5.2: `POST /<version>/<PAGE_ID|me>/messages`, the token from
`access_token` or `Authorization: Bearer`, JSON or form bodies, `messaging_type` checked (`MESSAGE_TAG` needs a
`tag`), at most 13 quick replies, errors as non-2xx `{"error": {...}}`, and the 24-hour window for users it was
told about with `user_wrote`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer

DEFAULT_TOKEN = "test-page-token"
DEFAULT_PAGE_ID = "111111111111111"
VERSION = "v25.0"
TAGS = ("POST_PURCHASE_UPDATE", "CONFIRMED_EVENT_UPDATE", "ACCOUNT_UPDATE", "HUMAN_AGENT")

# The official example error (messenger_error_invalid_token.json) and the constructed window error.
INVALID_TOKEN = {
    "error": {
        "message": "Invalid OAuth access token.",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 1234567,
        "fbtrace_id": "BLBz/WZt8dN",
    }
}
OUTSIDE_WINDOW = {
    "error": {
        "message": "(#10) This message is sent outside of allowed window.",
        "type": "OAuthException",
        "code": 10,
        "error_subcode": 2018278,
        "fbtrace_id": "AbCdEfGhIjK",
    }
}


@dataclass
class GraphRequest:
    """One call the fake received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 200
    # When it arrived (`time.monotonic()`), for latency measurements such as bench/webhooks.py's.
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    body: dict[str, Any] | str | None
    times: int
    headers: dict[str, str] = field(default_factory=dict)


class FakeGraph(FakeServer):
    """The Send API on 127.0.0.1 and a free port. Use `async with FakeGraph() as graph:` and hand
    `graph.graph_url` to the channel; every call lands in `graph.requests`."""

    def __init__(self, page_token: str | None = DEFAULT_TOKEN) -> None:
        """
        Args:
            page_token: the only token accepted (code 190 otherwise); None accepts any.
        """
        self.page_token = page_token
        self.requests: list[GraphRequest] = []
        self.last_user_message: dict[str, datetime] = {}
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1)

    @property
    def graph_url(self) -> str:
        """The base URL with its version, as the channel's `graph_url` setting takes it."""
        return f"http://127.0.0.1:{self.port}/{VERSION}"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The bodies of every call, failed ones included, in order."""
        return [r.body for r in self.requests]

    def fail_next(
        self,
        status: int,
        body: dict[str, Any] | str | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` calls with this status, body (JSON if a dict) and headers."""
        self._failures.append(_Failure(status, body, times, dict(headers or {})))

    def recover(self) -> None:
        """Forget the failures still to come: an outage (`fail_next(503, times=10**9)`) is over."""
        self._failures.clear()

    def user_wrote(self, psid: str, at: datetime | None = None) -> None:
        """Remember when a user last wrote, so RESPONSE/UPDATE sends more than 24 h later are refused."""
        self.last_user_message[psid] = at or datetime.now(UTC)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/{page}/messages", self._messages)

    async def _messages(self, request: web.Request) -> web.Response:
        body = await _body(request)
        recorded = GraphRequest(request.path, dict(request.query), dict(request.headers), body)
        self.requests.append(recorded)
        response = self._answer(request, body)
        recorded.status = response.status
        return response

    def _answer(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        version = request.match_info["version"]
        if not (version.startswith("v") and version[1:].replace(".", "").isdigit()):
            return _error(400, 2500, f"Unknown path components: /{version}")
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            if isinstance(failure.body, dict):
                return web.json_response(failure.body, status=failure.status, headers=failure.headers)
            return web.Response(status=failure.status, text=failure.body or "", headers=failure.headers)
        token = request.query.get("access_token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.page_token is not None and token != self.page_token:
            return web.json_response(INVALID_TOKEN, status=400)
        problem = _check(body)
        if problem:
            return _error(400, 100, problem)
        psid = str(body["recipient"]["id"])
        last = self.last_user_message.get(psid)
        if (
            last is not None
            and body["messaging_type"] != "MESSAGE_TAG"
            and datetime.now(UTC) - last > timedelta(hours=24)
        ):
            return web.json_response(OUTSIDE_WINDOW, status=400)
        return web.json_response(
            {"recipient_id": psid, "message_id": f"m_{next(self._ids)}_{uuid.uuid4().hex}"},
            headers={"facebook-api-version": VERSION},
        )


async def _body(request: web.Request) -> dict[str, Any]:
    """A JSON body, or form fields whose values are JSON strings (as the official Python sample sends)."""
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    form = await request.post()
    decoded: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            continue
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


def _check(body: dict[str, Any]) -> str | None:
    """What Graph would refuse in a Send API body, in a few words, or None."""
    recipient = body.get("recipient")
    if not isinstance(recipient, dict) or not recipient.get("id"):
        return "(#100) The parameter recipient is required"
    kind = body.get("messaging_type")
    if kind not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
        return "(#100) messaging_type must be RESPONSE, UPDATE or MESSAGE_TAG"
    if kind == "MESSAGE_TAG" and body.get("tag") not in TAGS:
        return "(#100) Tag is required for MESSAGE_TAG"
    message = body.get("message")
    if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
        return "(#100) The parameter message must contain text or an attachment"
    if len(message.get("text") or "") > 2000:
        return "(#100) Length of param message[text] must be less than or equal to 2000"
    quick = message.get("quick_replies") or []
    if len(quick) > 13:
        return "(#100) param message[quick_replies] must have at most 13 elements"
    payload = (message.get("attachment") or {}).get("payload") or {}
    buttons = [b for e in payload.get("elements", []) for b in e.get("buttons", [])] + payload.get("buttons", [])
    if any(len(b.get("title", "")) > 20 for b in [*buttons, *quick]):
        return "(#100) Button and quick reply titles are limited to 20 characters"
    if len(payload.get("buttons", [])) > 3 or any(len(e.get("buttons", [])) > 3 for e in payload.get("elements", [])):
        return "(#100) At most 3 buttons"
    if len(payload.get("elements", [])) > 10:
        return "(#100) param elements must have at most 10 elements"
    if payload.get("template_type") == "button" and len(payload.get("text", "")) > 640:
        return "(#100) param text must be at most 640 characters"
    return None


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": uuid.uuid4().hex[:11]}},
        status=status,
    )


# --- webhook deliveries, as Meta sends them ----------------------------------------------------------------------


def now_ms() -> int:
    """Epoch milliseconds, as Meta's numeric timestamps."""
    return int(time.time() * 1000)


def _event(psid: str, page_id: str, timestamp: int | None, **content: Any) -> dict[str, Any]:
    return {
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": timestamp if timestamp is not None else now_ms(),
        **content,
    }


def _mid() -> str:
    return f"m_{uuid.uuid4().hex}"


def text_event(
    psid: str, text: str, *, mid: str | None = None, page_id: str = DEFAULT_PAGE_ID, timestamp: int | None = None
) -> dict[str, Any]:
    """A user's text message."""
    return _event(psid, page_id, timestamp, message={"mid": mid or _mid(), "text": text})


def quick_reply_event(
    psid: str, title: str, payload: str, *, mid: str | None = None, page_id: str = DEFAULT_PAGE_ID
) -> dict[str, Any]:
    """A quick-reply tap: the button title as text plus `quick_reply.payload`."""
    return _event(
        psid, page_id, None, message={"mid": mid or _mid(), "text": title, "quick_reply": {"payload": payload}}
    )


def postback_event(
    psid: str, title: str, payload: str, *, mid: str | None = None, page_id: str = DEFAULT_PAGE_ID
) -> dict[str, Any]:
    """A template button tap."""
    return _event(psid, page_id, None, postback={"mid": mid or _mid(), "title": title, "payload": payload})


def image_event(psid: str, url: str, *, mid: str | None = None, page_id: str = DEFAULT_PAGE_ID) -> dict[str, Any]:
    """A photo the user sent."""
    attachment = {"type": "image", "payload": {"url": url}}
    return _event(psid, page_id, None, message={"mid": mid or _mid(), "attachments": [attachment]})


def echo_event(
    psid: str, text: str, *, page_id: str = DEFAULT_PAGE_ID, app_id: int = 1517776481860111
) -> dict[str, Any]:
    """The echo of a message the Page sent to `psid` (sender and recipient swapped, `is_echo`)."""
    message = {"is_echo": True, "app_id": app_id, "metadata": "", "mid": _mid(), "text": text}
    return {"sender": {"id": page_id}, "recipient": {"id": psid}, "timestamp": now_ms(), "message": message}


def delivery_event(psid: str, mids: list[str], *, page_id: str = DEFAULT_PAGE_ID) -> dict[str, Any]:
    """A delivery receipt."""
    return _event(psid, page_id, None, delivery={"mids": mids, "watermark": now_ms()})


def read_event(psid: str, *, page_id: str = DEFAULT_PAGE_ID) -> dict[str, Any]:
    """A read receipt."""
    return _event(psid, page_id, None, read={"watermark": now_ms()})


def reaction_event(psid: str, mid: str, *, page_id: str = DEFAULT_PAGE_ID) -> dict[str, Any]:
    """A reaction to one of our messages."""
    return _event(psid, page_id, None, reaction={"mid": mid, "action": "react", "reaction": "love", "emoji": "❤"})


def page_delivery(*entries: list[dict[str, Any]], page_id: str = DEFAULT_PAGE_ID) -> dict[str, Any]:
    """A webhook body with one `entry` per list of events."""
    return {
        "object": "page",
        "entry": [{"id": page_id, "time": now_ms(), "messaging": events} for events in entries],
    }


def sign(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` value for a body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed_delivery(
    *entries: list[dict[str, Any]], app_secret: str, page_id: str = DEFAULT_PAGE_ID
) -> tuple[bytes, dict[str, str]]:
    """A signed webhook POST: the compact JSON body bytes and the headers Meta sends with it.

    Use as `await client.post("/webhooks/messenger", data=body, headers=headers)`.
    """
    body = json.dumps(page_delivery(*entries, page_id=page_id), separators=(",", ":"), ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}


def handshake_query(verify_token: str, challenge: str = "1158201444") -> dict[str, str]:
    """The query string of Meta's verification GET."""
    return {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
