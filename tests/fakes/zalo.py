"""A fake Zalo: the OA API and the OAuth token endpoint on port 0, and signed webhook deliveries as Zalo sends them.

Follows ../shared/reference/platforms.md §5.1: `POST /v3.0/oa/message/cs` authenticated by the `access_token`
header (unknown token → -216, expired → -220), every API error as HTTP 200 `{"error": <negative>, "message"}`,
text ≤ 2000 characters, -32 past the rate limit, `X-RateLimit-Limit`/`X-RateLimit-Remain` on every answer, the
7-day window for users it was told about with `user_interacted`; `POST /v4/oa/access_token` (form body, App Secret
in the `secret_key` header) where a refresh token works once and a new access token kills the old one at once;
webhooks as compact JSON with `X-ZEvent-Signature: mac=sha256(app_id + body + timestamp + OA secret key)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from channels.zalo import TokenPair
from tests.fakes.server import FakeServer

APP_ID = "3349222483842580322"
APP_SECRET = "test-app-secret"
OA_SECRET_KEY = "test-oa-secret-key"
OA_ID = "4024926008133882615"
RATE_LIMIT_PER_MINUTE = 4000

# Error bodies with the official codes and texts (fixtures zalo_error_*.json; platforms.md §1.4).
INVALID_TOKEN = {"error": -216, "message": "Access token is invalid"}
EXPIRED_TOKEN = {"error": -220, "message": "access_token is expired or removed"}
RATE_LIMITED = {"error": -32, "message": "Your OA reached limit call api"}
NOT_INTERACTED = {"error": -230, "message": "User has not interacted with the OA in the past 7 days"}
INVALID_PARAMETER = {"error": -201, "message": "Invalid parameter"}
V2_SHUT_DOWN = {"error": -240, "message": "MessageV2 API has been shut down, please switch to MessageV3"}
# Zalo does not document how it refuses a refresh (platforms.md §1.6, open item 6): code and texts are placeholders
# in the shape Chatwoot reads (`error_description`).
REFRESH_REFUSED = {
    "error": -14014,
    "error_name": "Invalid refresh token",
    "error_description": "Refresh token is invalid, expired or already used",
}
BAD_APP_SECRET = {"error": -14002, "error_name": "Invalid secret key", "error_description": "Invalid app secret"}

# What `fail_next` can answer, by name: (HTTP status, body).
PRESETS: dict[str, tuple[int, dict[str, Any] | str]] = {
    "http_500": (500, "Internal Server Error"),
    "http_503": (503, "Service Unavailable"),
    "rate_limited": (200, RATE_LIMITED),
    "invalid_token": (200, INVALID_TOKEN),
    "expired_token": (200, EXPIRED_TOKEN),
    "not_interacted": (200, NOT_INTERACTED),
    "refresh_refused": (200, REFRESH_REFUSED),
}


@dataclass
class ZaloCall:
    """One request the fake received, and what it answered."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 200
    answer: dict[str, Any] | str = ""
    # When it arrived (`time.monotonic()`), for latency measurements such as bench/webhooks.py's.
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    body: dict[str, Any] | str
    times: int
    endpoint: str


@dataclass
class FakeZalo(FakeServer):
    """The OA API and OAuth endpoint on 127.0.0.1 and a free port. Use `async with FakeZalo() as zalo:` and hand
    `zalo.api_base_url`, `zalo.oauth_url` and `zalo.pair()` to the channel.

    `sent` holds the message bodies it accepted; `calls` every request; `refreshes` the refreshes it granted and
    `refused_refreshes` the ones it refused (a reused refresh token lands there).
    """

    app_id: str = APP_ID
    app_secret: str = APP_SECRET
    oa_secret_key: str = OA_SECRET_KEY
    access_token: str = "fake-access-0"
    refresh_token: str = "fake-refresh-0"
    # The OAuth answer's `expires_in` (a string in seconds, like Zalo's "90000").
    expires_in: int = 90000
    # Seconds the OAuth endpoint takes to answer (after spending the refresh token), to let refreshes overlap.
    oauth_delay: float = 0.0
    rate_limit_per_minute: int = RATE_LIMIT_PER_MINUTE
    calls: list[ZaloCall] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    refreshes: int = 0
    refused_refreshes: int = 0
    last_interaction: dict[str, datetime] = field(default_factory=dict)
    _expired: bool = False
    _spent: set[str] = field(default_factory=set)
    _failures: list[_Failure] = field(default_factory=list)
    _recent: deque[float] = field(default_factory=deque)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_base_url(self) -> str:
        """Where the channel's `api_base_url` points."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def oauth_url(self) -> str:
        """Where the channel's `oauth_url` points."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def texts(self) -> list[str]:
        """The text of every accepted message, in order (image messages without text left out)."""
        return [b["message"]["text"] for b in self.sent if "text" in b["message"]]

    def pair(self, expires_at: datetime | None = None) -> TokenPair:
        """The currently valid pair, as the channel would have stored it (expiring in 25 h unless told)."""
        return TokenPair(self.access_token, self.refresh_token, expires_at or datetime.now(UTC) + timedelta(hours=25))

    def expire_access_token(self) -> None:
        """The current access token expires now: sends with it get -220 until a refresh."""
        self._expired = True

    def user_interacted(self, user_id: str, at: datetime | None = None) -> None:
        """Remember when a user last interacted: sends more than 7 days later get -230, and sends after 48 h are
        billed (no `quota` in the answer). Users never mentioned are treated as within 48 h."""
        self.last_interaction[user_id] = at or datetime.now(UTC)

    def fail_next(
        self, failure: str | dict[str, Any] = "http_500", *, times: int = 1, endpoint: str = "message"
    ) -> None:
        """Answer the next `times` calls of `endpoint` ("message" or "oauth") with a preset of `PRESETS`
        ("http_500", "rate_limited", "invalid_token", "refresh_refused", …) or with this body and HTTP 200.
        A failed call changes nothing else (a refresh token is not spent)."""
        if endpoint not in ("message", "oauth"):
            raise ValueError(f"unknown endpoint {endpoint!r}")
        status, body = PRESETS[failure] if isinstance(failure, str) else (200, failure)
        self._failures.append(_Failure(status, body, times, endpoint))

    def recover(self) -> None:
        """Forget the failures still to come: an outage (`fail_next("http_503", times=10**9)`) is over."""
        self._failures.clear()

    def signed_webhook(self, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """`signed_webhook(event, self.app_id, self.oa_secret_key)`."""
        return signed_webhook(event, self.app_id, self.oa_secret_key)

    async def deliver(self, url: str, event: dict[str, Any], *, num_retry: int | None = None) -> int:
        """POST a signed event to a running webhook the way Zalo does; returns the HTTP status."""
        body, headers = self.signed_webhook(event)
        if num_retry is not None:
            headers["num_retry"] = str(num_retry)
        async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        app.router.add_post("/v2.0/oa/message", self._v2_message)
        app.router.add_get("/v3.0/oa/user/detail", self._user_detail)
        app.router.add_post("/v4/oa/access_token", self._access_token)

    # --- the OA API -------------------------------------------------------------------------------------------

    async def _message(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        call = self._record(request, body if isinstance(body, dict) else {})
        failure = self._failure("message")
        if failure is not None:
            return self._answer(call, failure.status, failure.body)
        problem = self._check_token(request)
        if problem is not None:
            return self._answer(call, 200, problem)
        if self._over_rate_limit():
            return self._answer(call, 200, RATE_LIMITED)
        if not isinstance(body, dict) or not _valid_message(body):
            return self._answer(call, 200, INVALID_PARAMETER)
        user_id = body["recipient"]["user_id"]
        silence = datetime.now(UTC) - self.last_interaction.get(user_id, datetime.now(UTC))
        if silence > timedelta(days=7):
            return self._answer(call, 200, NOT_INTERACTED)
        data: dict[str, Any] = {
            "message_id": uuid.uuid4().hex[:20],
            "user_id": user_id,
            "sent_time": str(int(time.time() * 1000)),
        }
        if silence <= timedelta(hours=48):
            data["quota"] = {"quota_type": "reply", "remain": "8", "total": "8"}
        self.sent.append(body)
        return self._answer(call, 200, {"data": data, "error": 0, "message": "Success"})

    async def _v2_message(self, request: web.Request) -> web.Response:
        return self._answer(self._record(request, {}), 200, V2_SHUT_DOWN)

    async def _user_detail(self, request: web.Request) -> web.Response:
        call = self._record(request, dict(request.query))
        problem = self._check_token(request)
        if problem is not None:
            return self._answer(call, 200, problem)
        try:
            user_id = str(json.loads(request.query.get("data", ""))["user_id"])
        except (ValueError, KeyError, TypeError):
            return self._answer(call, 200, INVALID_PARAMETER)
        data = {"user_id": user_id, "display_name": f"Zalo user {user_id[-4:]}", "user_is_follower": True}
        return self._answer(call, 200, {"data": data, "error": 0, "message": "Success"})

    def _check_token(self, request: web.Request) -> dict[str, Any] | None:
        token = request.headers.get("access_token")
        if token != self.access_token:
            return INVALID_TOKEN
        if self._expired:
            return EXPIRED_TOKEN
        return None

    def _over_rate_limit(self) -> bool:
        now = time.monotonic()
        while self._recent and now - self._recent[0] > 60:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit_per_minute:
            return True
        self._recent.append(now)
        return False

    # --- OAuth ------------------------------------------------------------------------------------------------

    async def _access_token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        call = self._record(request, form)
        failure = self._failure("oauth")
        if failure is not None:
            return self._answer(call, failure.status, failure.body)
        if request.headers.get("secret_key") != self.app_secret:
            self.refused_refreshes += 1
            return self._answer(call, 200, BAD_APP_SECRET)
        token = form.get("refresh_token", "")
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("app_id") != self.app_id
            or token != self.refresh_token
            or token in self._spent
        ):
            self.refused_refreshes += 1
            return self._answer(call, 200, REFRESH_REFUSED)
        # Spend the refresh token and kill the old access token before answering (platforms.md §1.6), so two
        # overlapping refreshes with one token cannot both succeed.
        self._spent.add(token)
        self.refreshes += 1
        number = next(self._ids)
        self.access_token, self.refresh_token = f"fake-access-{number}", f"fake-refresh-{number}"
        self._expired = False
        answer = {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": str(self.expires_in),
        }
        if self.oauth_delay:
            await asyncio.sleep(self.oauth_delay)
        return self._answer(call, 200, answer)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _record(self, request: web.Request, body: dict[str, Any]) -> ZaloCall:
        call = ZaloCall(request.path, dict(request.headers), body)
        self.calls.append(call)
        return call

    def _failure(self, endpoint: str) -> _Failure | None:
        for failure in self._failures:
            if failure.endpoint == endpoint:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _answer(self, call: ZaloCall, status: int, body: dict[str, Any] | str) -> web.Response:
        call.status, call.answer = status, body
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit_per_minute),
            "X-RateLimit-Remain": str(max(self.rate_limit_per_minute - len(self._recent), 0)),
        }
        if isinstance(body, dict):
            return web.json_response(body, status=status, headers=headers)
        return web.Response(status=status, text=body, headers=headers)


def _valid_message(body: dict[str, Any]) -> bool:
    """A consultation message body Zalo would take: a recipient, and text ≤ 2000 characters or an image."""
    recipient, message = body.get("recipient"), body.get("message")
    if not isinstance(recipient, dict) or not isinstance(recipient.get("user_id"), str):
        return False
    if not isinstance(message, dict):
        return False
    text, attachment = message.get("text"), message.get("attachment")
    if text is not None and (not isinstance(text, str) or not text or len(text) > 2000):
        return False
    if attachment is None:
        return text is not None
    try:
        payload = attachment["payload"]
        elements = payload["elements"]
        ok = attachment["type"] == "template" and payload["template_type"] == "media" and len(elements) == 1
        element = elements[0]
        # Either url or attachment_id, never both (zalo-php-sdk MessageBuilder; platforms.md §1.4).
        has_url = isinstance(element.get("url"), str) and element["url"].startswith(("http://", "https://"))
        return ok and element["media_type"] == "image" and has_url != ("attachment_id" in element)
    except (KeyError, TypeError, IndexError):
        return False


# --- webhook deliveries, as Zalo sends them -----------------------------------------------------------------------


def now_ms() -> str:
    """Epoch milliseconds as a string, as Zalo's `timestamp`."""
    return str(int(time.time() * 1000))


def signature(body: bytes, app_id: str, oa_secret_key: str) -> str:
    """The `X-ZEvent-Signature` value for exact body bytes: `mac=` + sha256(app_id + body + timestamp + key)."""
    timestamp = str(json.loads(body)["timestamp"])
    return "mac=" + hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()


def signed_webhook(event: dict[str, Any], app_id: str, oa_secret_key: str) -> tuple[bytes, dict[str, str]]:
    """A signed webhook POST: compact JSON body bytes (the event's `app_id` set to `app_id`, a `timestamp` added if
    missing) and the headers Zalo sends. Use as `await client.post("/webhooks/zalo", data=body, headers=headers)`."""
    event = {**event, "app_id": app_id}
    event.setdefault("timestamp", now_ms())
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    return body, webhook_headers(body, app_id, oa_secret_key)


def webhook_headers(body: bytes, app_id: str, oa_secret_key: str) -> dict[str, str]:
    """The headers of a Zalo webhook delivery of exactly these bytes (no timestamp header: platforms.md §1.2)."""
    return {
        "Content-Type": "application/json",
        "X-ZEvent-Signature": signature(body, app_id, oa_secret_key),
        "x-zevent-server": "OA OpenAPI",
        "User-Agent": "ZaloWebhook",
    }


def text_event(user_id: str, text: str, *, msg_id: str | None = None, oa_id: str = OA_ID) -> dict[str, Any]:
    """A user's text message to the OA."""
    return {
        "event_name": "user_send_text",
        "sender": {"id": user_id},
        "recipient": {"id": oa_id},
        "message": {"text": text, "msg_id": msg_id or uuid.uuid4().hex[:20]},
        "timestamp": now_ms(),
    }


def follow_event(user_id: str, *, oa_id: str = OA_ID) -> dict[str, Any]:
    """A user following the OA (no sender/recipient, no msg_id)."""
    return {
        "oa_id": oa_id,
        "follower": {"id": user_id},
        "event_name": "follow",
        "source": "oa_profile",
        "timestamp": now_ms(),
    }


def echo_event(user_id: str, text: str, *, admin_id: str | None = None, oa_id: str = OA_ID) -> dict[str, Any]:
    """The `oa_send_text` echo of a message the OA sent (`admin_id` when a person typed it in the chat tool)."""
    sender: dict[str, str] = {"id": oa_id}
    if admin_id is not None:
        sender["admin_id"] = admin_id
    return {
        "event_name": "oa_send_text",
        "sender": sender,
        "recipient": {"id": user_id},
        "message": {"text": text, "msg_id": uuid.uuid4().hex[:20]},
        "timestamp": now_ms(),
    }
