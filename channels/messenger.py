"""Facebook Messenger: the signed webhook (with its GET handshake), event parsing, Send API rendering and sending.

Reference: ../shared/reference/platforms.md §2. Meta's pages:
- webhooks and events: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/messages
- Send API: https://developers.facebook.com/docs/messenger-platform/reference/send-api
- policy (24-hour window): https://developers.facebook.com/documentation/business-messaging/messenger-platform/policy/
- error codes: https://developers.facebook.com/documentation/business-messaging/messenger-platform/error-codes
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from aiohttp import web

from channels.base import Delivery, SendError, Store, absolute_url, parse_json, read_limited, split_text, tls_context
from channels.types import Button, Buttons, Card, Cards, Image, Incoming, Location, Reply, Text

log = logging.getLogger(__name__)

CHANNEL = "messenger"
PATH = "/webhooks/messenger"
GRAPH_URL = "https://graph.facebook.com/v25.0"

# Send API limits. Text: 2,000 characters is the commonly given limit (UNCONFIRMED, platforms.md §2.4).
MAX_TEXT = 2000
MAX_TEMPLATE_TEXT = 640  # button template text
MAX_BUTTON_TITLE = 20  # postback buttons and quick replies
MAX_BUTTONS = 3  # per button template and per generic template element
MAX_QUICK_REPLIES = 13  # https://developers.facebook.com/documentation/business-messaging/messenger-platform/send-messages/quick-replies
MAX_PAYLOAD = 1000
MAX_ELEMENTS = 10  # generic template
MAX_ELEMENT_TEXT = 80  # generic template title and subtitle
MAX_EVENT_ID = 128  # inbound_events.event_id

# The standard messaging window (CONFIRMED, platforms.md §2.5):
# https://developers.facebook.com/documentation/business-messaging/messenger-platform/policy/
WINDOW = timedelta(hours=24)
# Order updates outside the window go out with a message tag. Whether Meta still accepts the tags in late 2026 is
# UNCONFIRMED (platforms.md §2.5, open item 3); a rejection (code 10 / 2018278) is a permanent SendError, not a crash.
# https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags/
ORDER_UPDATE_TAG = "POST_PURCHASE_UPDATE"

TIMEOUT = httpx.Timeout(10.0, connect=5.0)

# Graph error codes (platforms.md §2.4; only 190 and 2 are from Meta's own table, the others from client libraries).
_INVALID_TOKEN = 190
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
_USER_UNAVAILABLE_CODES = frozenset({551})
_USER_UNAVAILABLE_SUBCODES = frozenset({1545041, 2018108})
_OUTSIDE_WINDOW = (10, 2018278)
_PAGE_RESTRICTED = (10, 1893063)  # "temporarily restricted from sending": worth retrying later
_UNEXPECTED_CODES = frozenset({1, 2})  # "unknown" / "unexpected error, retry"

_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
# C0 controls but tab and newline: nobody types them and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# --- inbound -----------------------------------------------------------------------------------------------------


def verify(body: bytes, header: str | None, app_secret: str) -> bool:
    """Check `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>` in constant time.

    A missing or malformed header, or an empty secret, never verifies.
    """
    if not header or not app_secret:
        return False
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(1).lower())


def parse(payload: dict[str, Any]) -> list[Incoming]:
    """Every user message and postback of a (possibly batched) `{"object": "page", "entry": [...]}` delivery.

    Echoes of our own sends, delivery and read receipts, reactions, referrals and handover `standby` events
    are left out. Malformed parts are skipped rather than failing the whole batch.
    """
    found: list[Incoming] = []
    for entry in _list(payload.get("entry")):
        for event in _list(_dict(entry).get("messaging")):
            incoming = _parse_event(_dict(event))
            if incoming is not None:
                found.append(incoming)
    return found


def _parse_event(event: dict[str, Any]) -> Incoming | None:
    sender = _dict(event.get("sender")).get("id")
    if not isinstance(sender, str | int) or isinstance(sender, bool) or not str(sender):
        return None  # e.g. `sender.user_ref` from the checkbox plugin: not a conversation we can answer
    psid = str(sender)
    if "message" in event:
        message = _dict(event["message"])
        if message.get("is_echo"):
            return None
        return _incoming(event, psid, message.get("mid"), text=_str(message.get("text")), **_content(message))
    if "postback" in event:
        postback = _dict(event["postback"])
        return _incoming(
            event, psid, postback.get("mid"), text=_str(postback.get("title")), payload=_str(postback.get("payload"))
        )
    return None  # delivery, read, reaction, referral, optin, ...


def _content(message: dict[str, Any]) -> dict[str, Any]:
    """The quick-reply payload, first picture and shared location of a message."""
    content: dict[str, Any] = {"payload": _str(_dict(message.get("quick_reply")).get("payload"))}
    for attachment in _list(message.get("attachments")):
        kind = _dict(attachment).get("type")
        data = _dict(_dict(attachment).get("payload"))
        # Stickers: legacy `image` attachments carrying `sticker_id`, then `sticker` only after 2026-08-30
        # (platforms.md §2.3). A sticker is not a photo of anything, so it gives no image_url.
        if kind == "sticker" or "sticker_id" in data:
            continue
        url = data.get("url")
        if kind == "image" and "image_url" not in content and isinstance(url, str) and url:
            content["image_url"] = url
        # Meta removed location sharing; old clients may still send it, so read it when present.
        coordinates = _dict(data.get("coordinates"))
        if kind == "location" and "location" not in content:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                content["location"] = Location(float(coordinates["lat"]), float(coordinates["long"]))
    return content


def _incoming(event: dict[str, Any], psid: str, mid: Any, **fields: Any) -> Incoming:
    # Deduplicate on message.mid / postback.mid; old postbacks have no mid (platforms.md §2.2).
    if isinstance(mid, str) and mid:
        event_id = mid
    elif event.get("timestamp") is not None:
        event_id = f"{psid}:{event['timestamp']}"
    else:  # no mid and no timestamp: the same event redelivered still gets the same id
        event_id = "sha256:" + hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()
    if len(event_id) > MAX_EVENT_ID:
        event_id = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    for name in ("text", "payload"):
        if fields.get(name) is not None:
            fields[name] = _CONTROL.sub("", fields[name])
    return Incoming(channel=CHANNEL, chat_id=psid, user_id=psid, event_id=event_id, raw=_without_nul(event), **fields)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _without_nul(value: Any) -> Any:
    """The event without NUL characters, which PostgreSQL refuses in JSON."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


# --- outbound ----------------------------------------------------------------------------------------------------


def render(
    reply: Reply,
    recipient: str,
    *,
    messaging_type: str = "RESPONSE",
    tag: str | None = None,
    public_url: str | None = None,
) -> list[dict[str, Any]]:
    """The Send API bodies for one reply, in order.

    Long text is split; button text over 640 characters goes first as plain text; more than 3 buttons become
    quick replies (at most 13); more than 10 cards become several carousels; an image's caption follows it.
    Relative image URLs are made absolute with `public_url`, or left out when there is none.

    Raises:
        ValueError: a button payload is longer than Messenger's 1,000 characters.
    """
    messages: list[dict[str, Any]] = []
    match reply:
        case Text(text=text):
            messages += [{"text": part} for part in split_text(text, MAX_TEXT)]
        case Buttons(text=text, buttons=buttons) if not buttons:
            messages += [{"text": part} for part in split_text(text, MAX_TEXT)]
        case Buttons(text=text, buttons=buttons) if len(buttons) <= MAX_BUTTONS:
            *head, last = split_text(text, MAX_TEMPLATE_TEXT) or ["…"]
            messages += [{"text": part} for part in head]
            messages.append(_template({"template_type": "button", "text": last, "buttons": _postbacks(buttons)}))
        case Buttons(text=text, buttons=buttons):
            *head, last = split_text(text, MAX_TEXT) or ["…"]
            if len(buttons) > MAX_QUICK_REPLIES:
                log.warning("quick replies cut to 13", extra={"channel": CHANNEL, "buttons": len(buttons)})
            quick = [
                {"content_type": "text", "title": _shorten(b.title, MAX_BUTTON_TITLE), "payload": _payload(b)}
                for b in buttons[:MAX_QUICK_REPLIES]
            ]
            messages += [{"text": part} for part in head]
            messages.append({"text": last, "quick_replies": quick})
        case Cards(cards=cards):
            for start in range(0, len(cards), MAX_ELEMENTS):
                elements = [_element(card, public_url) for card in cards[start : start + MAX_ELEMENTS]]
                messages.append(_template({"template_type": "generic", "elements": elements}))
        case Image(url=url, caption=caption):
            absolute = absolute_url(url, public_url)
            if absolute is not None:
                messages.append({"attachment": {"type": "image", "payload": {"url": absolute, "is_reusable": True}}})
            messages += [{"text": part} for part in split_text(caption or "", MAX_TEXT)]
    envelope: dict[str, Any] = {"recipient": {"id": recipient}, "messaging_type": messaging_type}
    if tag is not None:
        envelope["tag"] = tag
    return [{**envelope, "message": message} for message in messages]


def _template(payload: dict[str, Any]) -> dict[str, Any]:
    return {"attachment": {"type": "template", "payload": payload}}


def _postbacks(buttons: tuple[Button, ...]) -> list[dict[str, str]]:
    # Postback buttons: fbsamples/messenger-platform-samples node/app.js; they come back as postback.payload.
    return [
        {"type": "postback", "title": _shorten(b.title, MAX_BUTTON_TITLE), "payload": _payload(b)}
        for b in buttons[:MAX_BUTTONS]
    ]


def _element(card: Card, public_url: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {"title": _shorten(card.title, MAX_ELEMENT_TEXT) or "…"}
    if card.subtitle.strip():
        element["subtitle"] = _shorten(card.subtitle, MAX_ELEMENT_TEXT, lines=True)
    image_url = absolute_url(card.image_url, public_url) if card.image_url else None
    if image_url is not None:
        element["image_url"] = image_url
    if card.buttons:
        element["buttons"] = _postbacks(card.buttons)
    return element


def _payload(button: Button) -> str:
    if len(button.payload) > MAX_PAYLOAD:
        raise ValueError(f"button payload longer than {MAX_PAYLOAD} characters: {button.payload[:40]!r}…")
    return button.payload


def _shorten(text: str, limit: int, *, lines: bool = False) -> str:
    """Cut to `limit` characters at a word boundary when one is near, ending with '…'. Runs of spaces become
    one space; line breaks are kept with `lines` (card subtitles list facts one per line)."""
    if lines:
        text = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    else:
        text = " ".join(text.split())
    text = unicodedata.normalize("NFC", text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" \n,.;:-–·") + "…"


def messaging_type_for(delivery: Delivery, now: datetime) -> tuple[str, str | None]:
    """(messaging_type, tag) for a delivery, following the 24-hour window.

    A reply inside the window is a RESPONSE, a later update inside it an UPDATE, and an update outside it (or
    when we never heard from the user) goes with the POST_PURCHASE_UPDATE tag. A reply whose user wrote more
    than 24 hours ago cannot be sent at all. A reply without `last_user_message_at` is sent and left to Meta.

    Raises:
        SendError: permanent, for a reply outside the window.
    """
    last = delivery.last_user_message_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)  # the database hands back naive UTC on SQLite
    inside = last is not None and now - last < WINDOW
    if delivery.proactive:
        return ("UPDATE", None) if inside else ("MESSAGE_TAG", ORDER_UPDATE_TAG)
    if last is None or inside:
        return "RESPONSE", None
    raise SendError("outside the 24-hour window", permanent=True)


def graph_error(status: int, body: Any, retry_after: str | None = None) -> SendError:
    """The SendError for a non-2xx Graph answer `{"error": {"code", "error_subcode", "message"}}`."""
    error = _dict(_dict(body).get("error"))
    code, subcode = error.get("code"), error.get("error_subcode")
    detail = f"({code}/{subcode}) {str(error.get('message', ''))[:200]}" if error else f"(HTTP {status})"
    if code == _INVALID_TOKEN:
        return SendError(f"invalid page token {detail}", permanent=True)
    if code in _USER_UNAVAILABLE_CODES or subcode in _USER_UNAVAILABLE_SUBCODES:
        return SendError(f"user unavailable {detail}", permanent=True)
    if (code, subcode) == _OUTSIDE_WINDOW:
        return SendError(f"outside the allowed window {detail}", permanent=True)
    if status == 429 or code in _RATE_LIMIT_CODES:
        return SendError(f"rate limited {detail}", permanent=False, retry_after=_seconds(retry_after))
    if status >= 500 or code in _UNEXPECTED_CODES or (code, subcode) == _PAGE_RESTRICTED:
        return SendError(f"graph api error {detail}", permanent=False, retry_after=_seconds(retry_after))
    # Anything else (bad parameter, missing permission, ...) will fail the same way next time.
    return SendError(f"refused {detail}", permanent=True)


def _seconds(retry_after: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not retry_after:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- the channel -------------------------------------------------------------------------------------------------


class MessengerChannel:
    """The Messenger channel: webhook routes and Send API calls through one `httpx.AsyncClient`."""

    name = CHANNEL

    def __init__(
        self,
        *,
        app_secret: str,
        verify_token: str,
        page_token: str,
        graph_url: str = GRAPH_URL,
        public_url: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """
        Args:
            graph_url: the Graph API base including its version, e.g. https://graph.facebook.com/v25.0;
                tests point it at a fake.
            public_url: where this service is reachable, to make relative image URLs absolute.
            client: a shared client; one is made (and closed by `close()`) when not given.
        """
        self._app_secret = app_secret
        self._verify_token = verify_token
        self._page_token = page_token
        self._graph_url = graph_url.rstrip("/")
        self._public_url = public_url
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT, verify=tls_context())
        self._health = "ok"

    def routes(self, store: Store) -> list[web.RouteDef]:
        """`GET` for Meta's verification handshake and `POST` for signed event deliveries."""

        async def handshake(request: web.Request) -> web.StreamResponse:
            # https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/create-webhook-endpoint
            query = request.query
            token = query.get("hub.verify_token", "")
            challenge = query.get("hub.challenge")
            if (
                query.get("hub.mode") == "subscribe"
                and self._verify_token
                and hmac.compare_digest(token.encode(), self._verify_token.encode())
                and challenge is not None
            ):
                return web.Response(text=challenge, content_type="text/plain")
            log.warning("messenger handshake refused", extra={"channel": CHANNEL})
            return web.Response(status=403, text="forbidden", content_type="text/plain")

        async def webhook(request: web.Request) -> web.StreamResponse:
            body = await read_limited(request)
            if body is None:
                return web.json_response({"error": "body too large"}, status=413)
            # Verify before anything else looks at the body.
            if not verify(body, request.headers.get("X-Hub-Signature-256"), self._app_secret):
                log.warning("messenger webhook with a bad signature", extra={"channel": CHANNEL})
                return web.json_response({"error": "bad signature"}, status=403)
            try:
                payload = parse_json(body)
            except ValueError:
                return web.json_response({"error": "body is not JSON"}, status=400)
            if not isinstance(payload, dict):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            if payload.get("object") != "page":
                return web.json_response({"error": "not a page subscription"}, status=404)
            incoming = parse(payload)
            if incoming:
                new = await store(incoming)
                log.info("messenger events stored", extra={"channel": CHANNEL, "events": len(incoming), "new": new})
            return web.Response(text="EVENT_RECEIVED", content_type="text/plain")

        return [web.get(PATH, handshake), web.post(PATH, webhook)]

    async def send(self, delivery: Delivery) -> None:
        """Send one reply as one or more Send API calls, or raise `SendError`.

        A later part failing after an earlier one went out makes the whole delivery be retried (the earlier
        part is then sent again): acceptable for split text, rarer than losing the rest.
        """
        messaging_type, tag = messaging_type_for(delivery, datetime.now(UTC))
        try:
            bodies = render(
                delivery.reply, delivery.chat_id, messaging_type=messaging_type, tag=tag, public_url=self._public_url
            )
        except ValueError as error:
            raise SendError(str(error), permanent=True) from error
        for body in bodies:
            await self._post(body)

    async def _post(self, body: dict[str, Any]) -> None:
        # The token goes in the Authorization header (documented alongside ?access_token=, platforms.md §2.4)
        # so it never appears in a URL, and so never in httpx's request log lines.
        try:
            response = await self._client.post(
                f"{self._graph_url}/me/messages",
                json=body,
                headers={"Authorization": f"Bearer {self._page_token}"},
                timeout=TIMEOUT,
            )
        except httpx.TimeoutException as error:
            raise SendError("graph api timed out", permanent=False) from error
        except httpx.TransportError as error:
            raise SendError(f"graph api unreachable ({type(error).__name__})", permanent=False) from error
        if response.is_success:
            self._health = "ok"
            return
        try:
            answer = response.json()
        except ValueError:
            answer = None
        failure = graph_error(response.status_code, answer, response.headers.get("Retry-After"))
        if _dict(_dict(answer).get("error")).get("code") == _INVALID_TOKEN:
            self._health = "invalid page token"
        log.warning(
            "messenger send failed",
            extra={"channel": CHANNEL, "status": response.status_code, "permanent": failure.permanent},
        )
        raise failure

    def health(self) -> str:
        """ "ok", or "invalid page token" once Meta refused the token (until a send succeeds again)."""
        return self._health

    async def close(self) -> None:
        """Close the HTTP client if this channel made it."""
        if self._own_client:
            await self._client.aclose()


def manual_setup_steps(public_url: str) -> str:
    """What an operator does once in Meta's dashboards to connect a Facebook Page (printed by `htx webhooks set`)."""
    callback = public_url.rstrip("/") + PATH
    steps = [
        "Messenger cannot be registered by API call; do this once in Meta's dashboards:",
        "1. At https://developers.facebook.com/apps create an app (type Business) and add the Messenger product.",
        "2. Messenger > Settings > Access tokens: connect the cooperative's Facebook Page and generate a Page "
        "access token; set MESSENGER_PAGE_TOKEN to it.",
        "3. App settings > Basic: copy the App Secret into MESSENGER_APP_SECRET.",
        '4. Choose a long random verify token (e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`)'
        " and set MESSENGER_VERIFY_TOKEN to it; set HTX_PUBLIC_URL; restart `htx serve` so it answers the check.",
        f"5. Messenger > Settings > Webhooks: Callback URL {callback} and the same Verify Token, "
        "then 'Verify and save' (Meta calls GET on the URL; htx answers with the challenge).",
        "6. Subscribe the Page to the webhook fields `messages` and `messaging_postbacks` (delivery, read and echo "
        "fields are not needed; they are ignored).",
        "7. The URL must be HTTPS with a valid certificate; self-signed certificates are refused by Meta.",
        "8. Until App Review grants `pages_messaging`, only people with a role on the app can chat with the Page.",
        "9. Send the Page a message from Messenger and check `GET /healthz` says messenger: ok.",
    ]
    if not public_url.startswith("https://"):
        steps.append(f"Warning: {public_url} is not an https:// URL; Meta will not deliver webhooks to it.")
    return "\n".join(steps)
