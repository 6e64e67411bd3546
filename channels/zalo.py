"""Zalo Official Account (Open API v3): webhook signature, events → `Incoming`, numbered-menu replies, tokens, send.

Notes and sources in ../shared/reference/platforms.md §1 (webhook §1.2, events §1.3, send API §1.4, window §1.5,
tokens §1.6, rate limits §1.7).

Numbered menus. Zalo has no confirmed button support on v3 consultation messages (platforms.md §1.4), so `render`
turns buttons into a numbered text menu ("1. Giỏ hàng") and returns, beside the message bodies, the button payloads
in menu order. The engine keeps the last menu of each conversation in the database (never in this process: any
process may handle the next message) and turns a reply that is just a number back into its payload with
`menu_payload`. See `render` for what to store and when.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from aiohttp import web

from channels.base import (
    MAX_BODY,
    Delivery,
    SendError,
    Store,
    absolute_url,
    parse_json,
    read_limited,
    split_text,
    tls_context,
)
from channels.types import Button, Buttons, Card, Cards, Event, Image, Incoming, Location, Reply, Text

log = logging.getLogger(__name__)

CHANNEL = "zalo"
WEBHOOK_PATH = "/webhooks/zalo"
SIGNATURE_HEADER = "X-ZEvent-Signature"
DEFAULT_API_BASE_URL = "https://openapi.zalo.me"
DEFAULT_OAUTH_URL = "https://oauth.zaloapp.com"
# Consultation ("tin Tư vấn") message: what a chatbot reply is (zalo-php-sdk API_OA_SEND_CONSULTATION_MESSAGE_V3).
SEND_PATH = "/v3.0/oa/message/cs"
# Token refresh (zalo-php-sdk OAuth2Client::getZaloTokenFromRefreshToken; platforms.md §1.6).
OAUTH_PATH = "/v4/oa/access_token"

# A consultation text is at most 2000 characters (platforms.md §1.4).
MAX_TEXT = 2000
# Refresh an access token this long before it expires, so no send races its expiry.
REFRESH_MARGIN = timedelta(minutes=5)
# Consultation messages reach only users who interacted with the OA in the last 7 days (platforms.md §1.5).
WINDOW = timedelta(days=7)
# The OAuth answer gives `expires_in` as a string of seconds, "90000" (25 h); used if it is missing or garbled.
DEFAULT_TOKEN_LIFETIME = timedelta(seconds=90000)
# Expiry of a pair read from the environment, where it is unknown: trust the token until Zalo rejects it, so the
# single-use refresh token from the environment is spent only when needed (platforms.md §1.6).
UNKNOWN_EXPIRY = datetime.max.replace(tzinfo=UTC)

# `Incoming.raw[UNSUPPORTED]` names what the user sent that we cannot read ("sticker", "audio", …): the engine
# answers politely that it reads only text.
UNSUPPORTED = "unsupported"

# Error codes of the official table /phu-luc/ma-loi (platforms.md §1.4). Every API error arrives with HTTP 200.
OK = 0
# Refresh the token and retry once: -216 invalid, -220 expired or removed. -124 is the older "access token
# invalid" code, not in platforms.md; kept because refreshing once on it costs nothing.
INVALID_TOKEN = frozenset({-216, -220, -124})
# "Your application/OA reached limit call api": back off and retry (4,000 requests per minute per app, §1.7).
RATE_LIMITED = -32
# Retrying cannot help. Any other non-zero code is treated as permanent too (logged with its code), so an
# unknown error never loops in the delivery worker.
PERMANENT = {
    -201: "invalid parameter",
    -211: "out of quota",
    -213: "user has not followed the OA",
    -217: "user has blocked invitations from the OA",
    -218: "out of quota receive",
    -227: "user is banned or inactive for more than 45 days",
    -230: "user has not interacted with the OA in the past 7 days",
    -232: "user has not interacted, or the last interaction expired",
    -240: "v2 message API shut down",
    -242: "invalid appsecret_proof",
    -244: "user has restricted this message type from the OA",
}

# C0 controls but tab and newline: dropped, since no one types them and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A reply to a numbered menu: "2", "2.", "2)", with spaces around.
_MENU_CHOICE = re.compile(r"^\s*(\d{1,3})\s*[.)]?\s*$")


class BadEvent(ValueError):
    """A correctly signed event whose shape we do not understand; the text says what is wrong."""


# --- webhook: signature and events ------------------------------------------------------------------------------


def verify(body: bytes, header: str | None, app_id: str, oa_secret_key: str) -> bool:
    """True when `header` is Zalo's `mac=` signature of this exact body.

    `mac = hex(SHA256(app_id + raw body + timestamp + OA secret key))`: a plain SHA-256, not an HMAC, keyed with
    the OA Secret Key of the app's Webhook page (not the App Secret), `timestamp` being the string value of the
    body's `timestamp` field (there is no timestamp header). Reproduced against a real capture (platforms.md §1.2).
    Our configured `app_id` is used, so an event signed for another app does not verify. A missing or malformed
    header, a body without a string timestamp, or empty credentials give False.
    """
    if not header or not app_id or not oa_secret_key:
        return False
    timestamp = _body_timestamp(body)
    if timestamp is None:
        return False
    given = header.strip()
    if given[:4].lower() != "mac=":
        return False
    expected = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return hmac.compare_digest(given[4:].strip().lower().encode("utf-8", "replace"), expected.encode())


def is_stale(event: dict[str, Any], max_age: timedelta, now: datetime) -> bool:
    """True when the event's `timestamp` (epoch milliseconds, a string) is older than `max_age`, or unreadable.

    Zalo repeats a delivery it could not make for about 2 h (platforms.md §1.2); an older signed event is a
    replay of a captured body, or a delivery so late that answering it would confuse the user.
    """
    timestamp = _string(event.get("timestamp")) or ""
    if not (timestamp.isascii() and timestamp.isdigit()):
        return True
    # Integers throughout: a signed timestamp of any length must not overflow a float.
    return int(now.timestamp() * 1000) - int(timestamp) > max_age // timedelta(milliseconds=1)


def _body_timestamp(body: bytes) -> str | None:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(event, dict):
        return None
    timestamp = event.get("timestamp")
    # Zalo's are digits; a non-ASCII one (a lone surrogate even) cannot be signed, so it never verifies.
    if isinstance(timestamp, str) and timestamp.isascii():
        return timestamp
    # Zalo sends a string; an integer's JSON text is the same digits, so accept it rather than guess.
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return str(timestamp)
    return None


def parse(event: dict[str, Any]) -> list[Incoming]:
    """The messages in one webhook event (Zalo sends one event per request).

    - `user_send_text` → text; `user_send_image` → `image_url` (and the caption as text, if any);
      `user_send_location` → `location`; stickers and every other `user_send_*` (audio, video, file, gif, link,
      business card) → no text and `raw["unsupported"]` naming the kind.
    - `follow` → payload "menu", so the engine greets the new follower.
    - `unfollow`, our own `oa_send_*` echoes, messages an OA admin typed in Zalo's chat tool (`oa_send_*` with
      `sender.admin_id`) and every other event → `[]`.

    `event_id` is `message.msg_id` (Zalo's redeliveries repeat it); follow events have none, so theirs is
    `follow:<follower id>:<timestamp>`. `chat_id` and `user_id` are both the user's id for this OA.
    Raises `BadEvent` when a message event lacks the fields every such event has.
    """
    if not isinstance(event, dict):
        raise BadEvent("event must be a JSON object")
    name = event.get("event_name")
    if not isinstance(name, str):
        raise BadEvent("event_name is missing")
    if name == "follow":
        follower = _id(event.get("follower"), "follower")
        timestamp = _string(event.get("timestamp")) or ""
        return [
            Incoming(
                channel=CHANNEL,
                chat_id=follower,
                user_id=follower,
                event_id=f"follow:{follower}:{timestamp}",
                payload="menu",
                raw=event,
            )
        ]
    if name == "unfollow":
        holder = event.get("follower")
        gone = _string(holder.get("id")) if isinstance(holder, dict) else None
        log.info("zalo user unfollowed the OA", extra={"channel": CHANNEL, "chat": gone})
        return []
    if name.startswith("oa_send_"):
        # Our own sends come back as oa_send_* echoes; `sender.admin_id` marks a message typed by a person in the
        # OA chat tool (platforms.md §1.2). Neither is a user message.
        sender = event.get("sender")
        if isinstance(sender, dict) and sender.get("admin_id"):
            recipient = event.get("recipient")
            chat = _string(recipient.get("id")) if isinstance(recipient, dict) else None
            log.info("zalo message sent by an OA admin", extra={"channel": CHANNEL, "chat": chat})
        return []
    if name.startswith("user_send_"):
        return [_user_message(name.removeprefix("user_send_"), event)]
    log.debug("zalo event ignored", extra={"channel": CHANNEL, "event": name})
    return []


def _user_message(kind: str, event: dict[str, Any]) -> Incoming:
    user_id = _id(event.get("sender"), "sender")
    message = event.get("message")
    if not isinstance(message, dict):
        raise BadEvent("message is missing")
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        raise BadEvent("message.text must be a string")
    if kind == "text" and text is None:
        raise BadEvent("user_send_text without message.text")
    attachments = message.get("attachments", [])
    if attachments is None:
        attachments = []
    if not isinstance(attachments, list):
        raise BadEvent("message.attachments must be a list")
    event_id = _string(message.get("msg_id")) or f"user_send_{kind}:{user_id}:{_string(event.get('timestamp'))}"
    cleaned = _CONTROL.sub("", text) if text is not None else None
    image_url: str | None = None
    location: Location | None = None
    if kind == "image":
        image_url = _attachment_url(attachments, "image")
    elif kind == "location":
        location = _location(attachments)
    understood = kind == "text" or image_url is not None or location is not None
    return Incoming(
        channel=CHANNEL,
        chat_id=user_id,
        user_id=user_id,
        event_id=event_id,
        text=cleaned if kind == "text" else (cleaned or None),
        image_url=image_url,
        location=location,
        raw=event if understood else {**event, UNSUPPORTED: kind},
    )


def _attachment_url(attachments: list[Any], kind: str) -> str | None:
    for attachment in attachments:
        if isinstance(attachment, dict) and attachment.get("type") == kind:
            payload = attachment.get("payload")
            url = payload.get("url") if isinstance(payload, dict) else None
            if isinstance(url, str) and url.startswith(("https://", "http://")):
                return url
    return None


def _location(attachments: list[Any]) -> Location | None:
    # payload.coordinates.latitude/longitude, as strings (platforms.md §1.3; Chatwoot reads the same).
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("type") != "location":
            continue
        payload = attachment.get("payload")
        coordinates = payload.get("coordinates") if isinstance(payload, dict) else None
        if not isinstance(coordinates, dict):
            continue
        try:
            latitude, longitude = float(coordinates["latitude"]), float(coordinates["longitude"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(latitude) and math.isfinite(longitude) and abs(latitude) <= 90 and abs(longitude) <= 180:
            return Location(latitude, longitude)
    return None


def _id(holder: Any, name: str) -> str:
    value = _string(holder.get("id")) if isinstance(holder, dict) else None
    if not value:
        raise BadEvent(f"{name}.id is missing")
    return value


def _string(value: Any) -> str | None:
    # Zalo ids and timestamps are JSON strings (ids exceed 2^53); an integer is accepted as its digits.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


# --- replies ----------------------------------------------------------------------------------------------------


def render(
    reply: Reply, user_id: str, *, public_url: str | None = None, menu_start: int = 1
) -> tuple[list[dict[str, Any]], list[str]]:
    """The `/v3.0/oa/message/cs` bodies that show one reply, in order, and the payloads of its numbered menu.

    - `Text` → text messages of at most 2000 characters (longer text is split at line or word breaks).
    - `Buttons` → one text message: the text, then "1. Title", "2. Title", … (split only past 2000 characters).
    - `Cards` → per card an image message when its picture has an absolute http(s) URL (a relative one is made
      absolute with `public_url`, and left out without it), then a text message with the title, the subtitle and
      its buttons numbered on from the previous card's.
    - `Image` → an image message with the caption as its text (only the caption if the URL cannot be made
      absolute).

    The second value lists the button payloads in menu order: number `menu_start + i` means `payloads[i]`. The
    engine stores the menu of the conversation's latest replies and replaces it on every turn, with `[]` when a
    turn shows none, so a later "2" typed as a quantity is not read as an old menu choice. When one turn sends
    several replies with buttons, number them on (`menu_start` = 1 + the payloads of the earlier replies) so the
    numbers do not repeat, and store the concatenation.
    """
    match reply:
        case Text(text=text):
            return [_text(user_id, chunk) for chunk in split_text(text, MAX_TEXT)], []
        case Buttons(text=text, buttons=buttons):
            lines = [text] if text.strip() else []
            lines += numbered_menu(buttons, menu_start)
            return [_text(user_id, chunk) for chunk in split_text("\n".join(lines), MAX_TEXT)], [
                b.payload for b in buttons
            ]
        case Cards(cards=cards):
            return _cards(cards, user_id, public_url, menu_start)
        case Image(url=url, caption=caption):
            chunks = split_text(caption or "", MAX_TEXT)
            absolute = absolute_url(url, public_url)
            if absolute is None:
                log.warning("zalo image left out: no absolute URL", extra={"channel": CHANNEL, "chat": user_id})
                return [_text(user_id, chunk) for chunk in chunks], []
            first = _image(user_id, absolute, chunks[0] if chunks else None)
            return [first, *(_text(user_id, chunk) for chunk in chunks[1:])], []
        case Event():
            return [], []  # for partners' systems only


def _cards(
    cards: tuple[Card, ...], user_id: str, public_url: str | None, menu_start: int
) -> tuple[list[dict[str, Any]], list[str]]:
    bodies: list[dict[str, Any]] = []
    payloads: list[str] = []
    for card in cards:
        if card.image_url:
            absolute = absolute_url(card.image_url, public_url)
            if absolute is not None:
                # A picture without text, then the card's text, as Chatwoot sends attachments (platforms.md §1.4).
                bodies.append(_image(user_id, absolute, None))
        lines = [line for line in (card.title, card.subtitle) if line.strip()]
        lines += numbered_menu(card.buttons, menu_start + len(payloads))
        payloads += [b.payload for b in card.buttons]
        bodies += [_text(user_id, chunk) for chunk in split_text("\n".join(lines), MAX_TEXT)]
    return bodies, payloads


def numbered_menu(buttons: tuple[Button, ...], start: int = 1) -> list[str]:
    """The lines "1. Title", "2. Title", … numbered from `start`."""
    return [f"{start + i}. {button.title}" for i, button in enumerate(buttons)]


def menu_payload(text: str, menu: list[str]) -> str | None:
    """The payload a reply to a numbered menu chose: "2", "2." or "2)" → `menu[1]`; anything else → None."""
    match = _MENU_CHOICE.match(text)
    if match is None:
        return None
    number = int(match.group(1))
    return menu[number - 1] if 1 <= number <= len(menu) else None


def _text(user_id: str, text: str) -> dict[str, Any]:
    return {"recipient": {"user_id": user_id}, "message": {"text": text}}


def _image(user_id: str, url: str, caption: str | None) -> dict[str, Any]:
    # zalo-php-sdk MessageBuilder, case 'media' (fixture zalo_send_cs_image_request.json).
    message: dict[str, Any] = {}
    if caption:
        message["text"] = caption
    message["attachment"] = {
        "type": "template",
        "payload": {"template_type": "media", "elements": [{"media_type": "image", "url": url}]},
    }
    return {"recipient": {"user_id": user_id}, "message": message}


# --- tokens -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    """An OA access token, the single-use refresh token issued with it, and when the access token expires."""

    access_token: str
    refresh_token: str
    expires_at: datetime

    def expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        """True when the access token is missing or expires within `margin` of `now`."""
        return not self.access_token or self.expires_at - (now or datetime.now(UTC)) <= margin


def pair_from_env(access_token: str | None, refresh_token: str | None) -> TokenPair | None:
    """The pair to start with from ZALO_ACCESS_TOKEN / ZALO_REFRESH_TOKEN, or None when both are empty.

    Their expiry is unknown: the access token is used until Zalo rejects it; without one, the first send
    refreshes at once.
    """
    if not access_token and not refresh_token:
        return None
    expires_at = UNKNOWN_EXPIRY if access_token else datetime.fromtimestamp(0, UTC)
    return TokenPair(access_token or "", refresh_token or "", expires_at)


class TokenRefresh(Protocol):
    """What `TokenStore.refreshing()` yields while it holds the lock."""

    @property
    def pair(self) -> TokenPair | None:
        """The stored pair, read after the lock was taken (another process may have just refreshed it)."""
        ...

    async def save(self, pair: TokenPair) -> None:
        """Store the new pair durably before the lock is released (and before anyone uses it)."""
        ...


class TokenStore(Protocol):
    """Where the OA's tokens live, shared by every process of the service.

    Refresh tokens are single use and a refresh kills the previous access token at once (platforms.md §1.6),
    so refreshing must be exclusive across processes: `refreshing()` is a cross-process lock (the database
    implementation: a row lock, `SELECT … FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) whose
    `save` commits the new pair before the lock is released.
    """

    async def current(self) -> TokenPair | None:
        """The stored pair, or None when nothing was stored yet."""
        ...

    def refreshing(self) -> AbstractAsyncContextManager[TokenRefresh]:
        """Hold the exclusive refresh lock; yields the pair re-read under it and a way to save the new one."""
        ...


class InMemoryTokenStore:
    """A `TokenStore` for tests and for one process without a database: a pair behind an `asyncio.Lock`."""

    def __init__(self, pair: TokenPair | None = None) -> None:
        self._pair = pair
        self._lock = asyncio.Lock()

    async def current(self) -> TokenPair | None:
        """The stored pair."""
        return self._pair

    @asynccontextmanager
    async def refreshing(self) -> AsyncIterator[TokenRefresh]:
        """Hold the lock; `save` replaces the stored pair."""
        async with self._lock:
            yield _MemoryRefresh(self)


class _MemoryRefresh:
    def __init__(self, store: InMemoryTokenStore) -> None:
        self._store = store
        self._pair = store._pair

    @property
    def pair(self) -> TokenPair | None:
        return self._pair

    async def save(self, pair: TokenPair) -> None:
        self._store._pair = self._pair = pair


class _RefreshFailed(Exception):
    pass


# --- the channel ------------------------------------------------------------------------------------------------


class ZaloChannel:
    """The Zalo OA channel: `POST /webhooks/zalo`, and replies through the consultation message API.

    Tokens come from `token_store`, shared by all processes; `initial` (from the environment) is used only while
    the store holds nothing. Before each send a token expiring within 5 minutes is refreshed, and a send that
    Zalo answers with an invalid-token error is retried once after a refresh. With `max_event_age`, signed events
    older than it are acknowledged and dropped (`is_stale`).
    """

    name = CHANNEL

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        oa_secret_key: str,
        token_store: TokenStore,
        initial: TokenPair | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
        oauth_url: str = DEFAULT_OAUTH_URL,
        public_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        max_event_age: timedelta | None = None,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._oa_secret_key = oa_secret_key
        self._tokens = token_store
        self._initial = initial
        self._send_url = api_base_url.rstrip("/") + SEND_PATH
        self._oauth_url = oauth_url.rstrip("/") + OAUTH_PATH
        self._public_url = public_url
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0), verify=tls_context())
        self._problem: str | None = None
        self._max_event_age = max_event_age

    def routes(self, store: Store) -> list[web.RouteDef]:
        """`POST /webhooks/zalo`: size limit, signature over the raw body, parse, `store`, then 200 at once
        (Zalo wants 200 within 2 s, platforms.md §1.2)."""

        async def webhook(request: web.Request) -> web.Response:
            body = await read_limited(request)
            if body is None:
                log.warning("zalo webhook refused: body too large", extra={"channel": CHANNEL})
                return web.json_response({"error": f"body larger than {MAX_BODY} bytes"}, status=413)
            if not verify(body, request.headers.get(SIGNATURE_HEADER), self._app_id, self._oa_secret_key):
                log.warning("zalo webhook refused: bad or missing signature", extra={"channel": CHANNEL})
                return web.json_response({"error": "bad or missing signature"}, status=401)
            try:
                event = parse_json(body)
                incoming = parse(event)
            except ValueError as error:  # UnicodeDecodeError is a ValueError
                reason = str(error) if isinstance(error, BadEvent) else "body is not valid JSON"
                log.warning("zalo webhook refused: %s", reason, extra={"channel": CHANNEL})
                return web.json_response({"error": reason}, status=400)
            if self._max_event_age is not None and is_stale(event, self._max_event_age, datetime.now(UTC)):
                # Acknowledged, not refused: a non-200 may get the webhook marked "not active" (platforms.md §1.2).
                log.warning(
                    "zalo event dropped: older than the replay window",
                    extra={"channel": CHANNEL, "timestamp": str(event.get("timestamp"))[:20]},
                )
                return web.json_response({"ok": True})
            if request.headers.get("num_retry"):
                log.info("zalo webhook redelivery", extra={"channel": CHANNEL, "retry": request.headers["num_retry"]})
            if incoming:
                await store(incoming)
            return web.json_response({"ok": True})

        return [web.post(WEBHOOK_PATH, webhook)]

    async def send(self, delivery: Delivery) -> None:
        """Send one reply as one or more consultation messages, or raise `SendError`.

        An order update (proactive) to a user silent for more than 7 days is refused here without a call.
        Permanent: the user is outside the 7-day window, not a follower, blocked us, or the token is still
        refused after a refresh. Transient: rate limit (-32), HTTP 429/5xx, timeouts, a failed token refresh.
        A reply that needs several messages is retried whole, so a message sent before a failure may repeat.
        """
        last = delivery.last_user_message_at
        if delivery.proactive and (last is None or datetime.now(UTC) - last > WINDOW):
            # Zalo would answer -230; outside the window only pre-approved ZBS templates get through.
            raise SendError("outside Zalo's 7-day window: the user has not written to the OA lately", permanent=True)
        # `Delivery.menu_start` is requested from the lead: numbers continue across the replies of one turn.
        menu_start = int(getattr(delivery, "menu_start", 1))
        bodies, _menu = render(delivery.reply, delivery.chat_id, public_url=self._public_url, menu_start=menu_start)
        for body in bodies:
            await self._send_one(body, delivery.chat_id)

    def health(self) -> str:
        """ "ok", or "degraded: token refresh failed (<reason>)" until a refresh or a send succeeds."""
        return self._problem or "ok"

    async def close(self) -> None:
        """Close the HTTP client if this channel made it."""
        if self._own_client:
            await self._client.aclose()

    async def _send_one(self, body: dict[str, Any], chat_id: str) -> None:
        token = await self._access_token()
        code, message, retry_after = await self._post(token, body)
        if code in INVALID_TOKEN:
            log.warning("zalo refused the access token, refreshing", extra={"channel": CHANNEL, "code": code})
            token = await self._access_token(rejected=token)
            code, message, retry_after = await self._post(token, body)
            if code in INVALID_TOKEN:
                raise SendError(f"zalo error {code}: {message} (after a token refresh)", permanent=True)
        if code == OK:
            self._problem = None  # the tokens work again, whichever process refreshed them
            return
        error = send_error(code, message, retry_after)
        log.info(
            "zalo send failed",
            extra={"channel": CHANNEL, "chat": chat_id, "code": code, "permanent": error.permanent},
        )
        raise error

    async def _post(self, token: str, body: dict[str, Any]) -> tuple[int, str, float | None]:
        try:
            response = await self._client.post(self._send_url, json=body, headers={"access_token": token})
        except httpx.TimeoutException as error:
            raise SendError("zalo send timed out", permanent=False) from error
        except httpx.HTTPError as error:
            raise SendError(f"zalo send failed: {type(error).__name__}", permanent=False) from error
        retry_after = _retry_after(response.headers.get("Retry-After"))
        status = response.status_code
        if status == 429 or status >= 500:
            raise SendError(f"zalo HTTP {status}", permanent=False, retry_after=retry_after)
        if status >= 400:
            raise SendError(f"zalo HTTP {status}", permanent=True)
        try:
            data = response.json()
        except ValueError:
            data = None
        code = data.get("error") if isinstance(data, dict) else None
        if not isinstance(code, int) or isinstance(code, bool):
            raise SendError("zalo answered without an error code", permanent=False, retry_after=retry_after)
        assert isinstance(data, dict)
        return code, str(data.get("message", "")), retry_after

    async def _access_token(self, rejected: str | None = None) -> str:
        pair = await self._tokens.current() or self._initial
        if pair is not None and pair.access_token != rejected and not pair.expires_within(REFRESH_MARGIN):
            return pair.access_token
        return await self._refresh(pair)

    async def _refresh(self, seen: TokenPair | None) -> str:
        async with self._tokens.refreshing() as refresh:
            pair = refresh.pair or self._initial
            if pair is not None and pair != seen and not pair.expires_within(REFRESH_MARGIN):
                # Another process refreshed while we waited for the lock: its pair is the live one.
                return pair.access_token
            try:
                if pair is None or not pair.refresh_token:
                    raise _RefreshFailed("no refresh token")
                new = await self._request_tokens(pair.refresh_token)
            except _RefreshFailed as error:
                reason = str(error)
                self._problem = f"degraded: token refresh failed ({reason})"
                log.error("zalo token refresh failed", extra={"channel": CHANNEL, "reason": reason})
                raise SendError(f"zalo token refresh failed: {reason}", permanent=False) from error
            await refresh.save(new)
        self._problem = None
        log.info("zalo access token refreshed", extra={"channel": CHANNEL, "expires_at": new.expires_at.isoformat()})
        return new.access_token

    async def _request_tokens(self, refresh_token: str) -> TokenPair:
        # Form body, App Secret in the `secret_key` header (zalo-php-sdk OAuth2Client; platforms.md §1.6).
        form = {"refresh_token": refresh_token, "app_id": self._app_id, "grant_type": "refresh_token"}
        try:
            response = await self._client.post(self._oauth_url, data=form, headers={"secret_key": self._app_secret})
        except httpx.HTTPError as error:
            raise _RefreshFailed(type(error).__name__) from error
        if response.status_code != 200:
            raise _RefreshFailed(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as error:
            raise _RefreshFailed("answer is not JSON") from error
        if not isinstance(data, dict):
            raise _RefreshFailed("answer is not a JSON object")
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            # The error codes of a refused refresh are undocumented (platforms.md §1.6); Chatwoot reads
            # error_description.
            detail = data.get("error_description") or data.get("error_name") or data.get("message")
            code = data.get("error")
            reason = str(detail) if detail else f"error {code}" if code is not None else "no tokens in the answer"
            raise _RefreshFailed(reason[:200])
        try:
            lifetime = timedelta(seconds=int(str(data.get("expires_in"))))
        except ValueError:
            lifetime = DEFAULT_TOKEN_LIFETIME
        return TokenPair(access, refresh, datetime.now(UTC) + lifetime)


def send_error(code: int, message: str, retry_after: float | None = None) -> SendError:
    """The `SendError` for a non-zero Zalo error code (invalid-token codes are retried by the caller first)."""
    if code == RATE_LIMITED:
        return SendError(f"zalo error {code}: rate limited ({message})", permanent=False, retry_after=retry_after)
    if code in INVALID_TOKEN:
        return SendError(f"zalo error {code}: {message}", permanent=True)
    meaning = PERMANENT.get(code, "unknown error")
    return SendError(f"zalo error {code}: {meaning} ({message})", permanent=True)


def _retry_after(value: str | None) -> float | None:
    # Zalo documents no Retry-After (only X-RateLimit-* headers); honour one in seconds if a proxy sends it.
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


# --- setup ------------------------------------------------------------------------------------------------------


def manual_setup_steps(public_url: str) -> str:
    """What a person does once on Zalo's sites to connect an OA to this service (printed by the CLI)."""
    webhook = public_url.rstrip("/") + WEBHOOK_PATH
    notes = []
    if not public_url.startswith("https://"):
        notes.append("  ! Zalo accepts only an HTTPS webhook URL; HTX_PUBLIC_URL must start with https://.")
    if re.match(r"^https?://[^/]+:\d+", public_url):
        notes.append("  ! Zalo refuses host:port URLs; serve the webhook on port 443 of a domain.")
    steps = f"""Zalo OA setup (platforms.md §1.2, §1.6; developers.zalo.me)
1. At https://developers.zalo.me create an app (or open yours) and link your Official Account to it.
   Copy the App ID → ZALO_APP_ID and the App Secret (Cài đặt / Settings) → ZALO_APP_SECRET.
2. Verify your domain for the app if Zalo asks (it serves a zalo_verifier<CODE>.html file at the domain root;
   the exact procedure is unconfirmed, follow the page).
3. In the app, open Webhook and set the URL ("Thay đổi") to:
     {webhook}
   Copy the OA Secret Key shown there → ZALO_OA_SECRET_KEY (it signs the webhooks; it is NOT the App Secret).
4. On the same page: turn "Webhook Retry" ON and "Lọc cú pháp" (syntax filter) OFF, and enable the events
   user_send_text, user_send_image, user_send_location, user_send_sticker, follow and unfollow.
5. Grant the app access to the OA (Official Account API permission): open
     https://oauth.zaloapp.com/v4/oa/permission?app_id=<ZALO_APP_ID>&redirect_uri=<your callback>
       &code_challenge=<PKCE challenge>&state=<random>   (one line; check the parameters on the official page
       .../official-account/bat-dau/xac-thuc-va-uy-quyen-cho-ung-dung-new)
   as an OA admin, then exchange the returned code (valid 10 minutes, single use) at
     POST https://oauth.zaloapp.com/v4/oa/access_token  (header secret_key: <App Secret>;
     form code, app_id, grant_type=authorization_code, code_verifier)
   Put access_token → ZALO_ACCESS_TOKEN and refresh_token → ZALO_REFRESH_TOKEN, then start the service.
   The service refreshes the pair itself (25 h / 3 months, each refresh token works once) and keeps it in its
   database; the environment values are used only while the database holds none. Never refresh by hand with
   the same refresh token while the service runs: it would spend the service's token.
6. Press "Test" beside an event on the Webhook page, or message the OA from Zalo: the service logs the event,
   and answers; /healthz shows "degraded: token refresh failed (…)" if the tokens need to be granted again."""
    return "\n".join([steps, *notes])
