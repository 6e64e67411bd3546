"""Telegram: the webhook (secret-token header, Update → `Incoming`) and sends through python-telegram-bot's `Bot`.

Bot API: https://core.telegram.org/bots/api. Notes in ../shared/reference/platforms.md §3.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import math
import re
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from channels.base import MAX_BODY, Delivery, SendError, Store, absolute_url, parse_json, read_limited, tls_context
from channels.types import Button, Buttons, Card, Cards, Event, Image, Incoming, Location, Reply, Text

log = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/webhooks/telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
# Telegram sends the `secret_token` given to setWebhook back in this header on every webhook request; there is
# no body signature (https://core.telegram.org/bots/api#setwebhook).
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An incoming photo's `Incoming.image_url` is this prefix + the largest size's `file_id`. It is not fetchable as
# is: `Bot.get_file(file_id)` gives a download path. `render` sends such a value back by file_id.
FILE_PREFIX = "tg-file:"
# Only the update kinds `parse` understands are requested from Telegram by `set_webhook`.
ALLOWED_UPDATES = ("message", "callback_query")

# Bot API limits (PTB `telegram.constants`): message text, photo caption, callback_data bytes.
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
# setWebhook's secret_token: 1-256 characters of A-Z a-z 0-9 _ - (PTB `constants.WebhookLimit`).
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# C0 controls but tab and newline: dropped, since no one types them and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Telegram's sendPhoto takes JPEG/PNG/WEBP; an SVG URL is refused with 400 (reported by public third-party
# clients, unverified), so such pictures are left out and the card is sent as text.
_NOT_PHOTOS = (".svg", ".svgz")
# How long `close` lets pending answerCallbackQuery calls finish before cancelling them.
_CLOSE_GRACE = 2.0


def verify(headers: Mapping[str, str], secret: str) -> bool:
    """True when the request carries our webhook secret; compared in constant time. No secret set → False."""
    value = headers.get(SECRET_HEADER)
    if value is None and not hasattr(headers, "getall"):  # a plain dict: look the name up case-insensitively
        value = next((v for k, v in headers.items() if k.lower() == SECRET_HEADER.lower()), None)
    if not secret or value is None:
        return False
    return hmac.compare_digest(value.encode("utf-8", "replace"), secret.encode("utf-8", "replace"))


def parse(update: Mapping[str, Any]) -> list[Incoming]:
    """The messages in one Update: a new message (text, photo, contact or location) or an inline-button press.

    Edited messages, channel posts, membership changes and messages we cannot use (stickers, voice, files)
    give `[]`, as does any malformed shape: Telegram would only redeliver it.
    """
    if not isinstance(update, Mapping):
        return []
    update_id = update.get("update_id")
    if not _is_int(update_id):
        return []
    message, query = update.get("message"), update.get("callback_query")
    if isinstance(message, Mapping):
        incoming = _from_message(str(update_id), message, update)
    elif isinstance(query, Mapping):
        incoming = _from_callback_query(str(update_id), query, update)
    else:
        incoming = None
    return [incoming] if incoming is not None else []


def callback_query_id(update: Mapping[str, Any]) -> str | None:
    """The id to answer with answerCallbackQuery when the update is an inline-button press."""
    query = update.get("callback_query")
    if isinstance(query, Mapping) and isinstance(query.get("id"), str):
        return str(query["id"])
    return None


def render(reply: Reply, public_url: str | None = None) -> list[dict[str, Any]]:
    """The Bot API calls that show one reply: each dict is `{"method": "sendMessage" | "sendPhoto", **arguments}`
    in the Bot API's own field names, without `chat_id`.

    Buttons become an inline keyboard, one button per row. Each card is its own message: a photo with the text as
    caption when its picture has a URL Telegram can fetch, otherwise text. Relative picture URLs
    (`/static/img/x.jpg`) are made absolute with `public_url`; without it they are left out.
    """
    match reply:
        case Text(text=text):
            return [_message(text)] if text.strip() else []
        case Buttons(text=text, buttons=buttons):
            return [_message(text, buttons)]
        case Cards(cards=cards):
            return [_card(card, public_url) for card in cards]
        case Image(url=url, caption=caption):
            photo = photo_source(url, public_url)
            if photo is not None:
                return [_photo(photo, caption)]
            return [_message(caption)] if caption and caption.strip() else []
        case Event():
            return []  # for partners' systems only


def photo_source(url: str | None, public_url: str | None = None) -> str | None:
    """What to pass as sendPhoto's `photo`: a file_id for `tg-file:` values, an absolute http(s) URL, or None
    when Telegram could not fetch the picture (relative URL without `public_url`, SVG, other schemes)."""
    if not url:
        return None
    if url.startswith(FILE_PREFIX):
        return url.removeprefix(FILE_PREFIX) or None
    absolute = absolute_url(url, public_url)
    if absolute is None or urlsplit(absolute).path.lower().endswith(_NOT_PHOTOS):
        return None
    return absolute


class TelegramChannel:
    """The Telegram channel at run time: webhook route, sends through one shared `telegram.Bot`.

    Args:
        token: the bot token from @BotFather (TELEGRAM_BOT_TOKEN). Never logged.
        webhook_secret: the `secret_token` registered with setWebhook (TELEGRAM_WEBHOOK_SECRET).
        base_url: python-telegram-bot's `base_url`; the token is appended to it (TELEGRAM_API_BASE_URL).
        public_url: where this service is reachable (HTX_PUBLIC_URL), to make relative picture URLs absolute.
    """

    name = CHANNEL

    def __init__(
        self, token: str, webhook_secret: str, base_url: str = DEFAULT_BASE_URL, public_url: str | None = None
    ) -> None:
        if not token:
            raise ValueError("a Telegram bot token is required")
        if not _SECRET.match(webhook_secret):
            raise ValueError("the Telegram webhook secret must be 1-256 characters of A-Z, a-z, 0-9, '_' or '-'")
        self._token = token
        self._secret = webhook_secret
        self._public_url = public_url
        # Standalone Bot for sending only (platforms.md §3.5); HTTP/1.1, which a non-default base_url needs. Its two
        # clients (sending, and getUpdates, which a webhook bot never calls) share the process's certificate store.
        verify = {"verify": tls_context()}
        self._bot = Bot(
            token,
            base_url=base_url,
            request=HTTPXRequest(httpx_kwargs=verify),
            get_updates_request=HTTPXRequest(connection_pool_size=1, httpx_kwargs=verify),
        )
        self._ready_lock = asyncio.Lock()
        self._initialized = False
        self._problem: str | None = None
        # answerCallbackQuery calls running in the background; kept so they are not garbage-collected mid-flight
        # and so `close` can finish them.
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self, store: Store) -> list[web.RouteDef]:
        """`POST /webhooks/telegram`: secret header first, size limit, JSON, `store`, then 200 at once."""

        async def webhook(request: web.Request) -> web.Response:
            if not verify(request.headers, self._secret):
                log.warning("telegram webhook refused: wrong or missing secret", extra={"channel": CHANNEL})
                return web.json_response({"error": "wrong or missing secret token"}, status=401)
            body = await read_limited(request)
            if body is None:
                log.warning("telegram webhook refused: body too large", extra={"channel": CHANNEL})
                return web.json_response({"error": f"body larger than {MAX_BODY} bytes"}, status=413)
            try:
                update = parse_json(body)
            except ValueError:  # invalid UTF-8 (UnicodeDecodeError is a ValueError), NaN, or nested too deep
                update = None
            if not isinstance(update, dict):
                log.warning("telegram webhook refused: body is not a JSON object", extra={"channel": CHANNEL})
                return web.json_response({"error": "body is not a JSON object"}, status=400)
            incoming = parse(update)
            new = await store(incoming) if incoming else 0
            if not incoming:
                log.info("telegram update ignored", extra={"channel": CHANNEL, "event": update.get("update_id")})
            # Answer the button press here, in the background, rather than from `send`: the spinner stops at
            # once whatever the turn does, and any process may deliver the replies while only this one knows the
            # callback id (it is not part of `Delivery`). Redeliveries (new == 0) were answered the first time.
            query_id = callback_query_id(update)
            if query_id is not None and new:
                self._answer_later(query_id)
            return web.json_response({"ok": True})

        return [web.post(WEBHOOK_PATH, webhook)]

    async def send(self, delivery: Delivery) -> None:
        """Send one reply (a card row is several messages), or raise `SendError`.

        A failure part-way through a card row raises, and the retry sends the whole reply again.
        """
        await self._ready()
        for call in render(delivery.reply, self._public_url):
            try:
                await self._call(delivery.chat_id, call)
            except BadRequest as error:
                # A picture Telegram could not fetch or use: the card's text and buttons still go out.
                if call["method"] != "sendPhoto":
                    raise self._send_error(error, delivery.chat_id) from error
                log.info("telegram photo refused, sending text", extra={"channel": CHANNEL, "chat": delivery.chat_id})
                try:
                    await self._call(delivery.chat_id, _photo_as_message(call))
                except TelegramError as second:
                    raise self._send_error(second, delivery.chat_id) from second
            except TelegramError as error:
                raise self._send_error(error, delivery.chat_id) from error
        self._problem = None

    def health(self) -> str:
        """ "ok", or the last problem with the bot token."""
        return self._problem or "ok"

    async def close(self) -> None:
        """Let pending callback answers finish (briefly), then shut the Bot's HTTP client down."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=_CLOSE_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._bot.shutdown()
        self._initialized = False

    async def set_webhook(self, url: str) -> None:
        """Register `url` (https, port 443/80/88/8443) as the webhook with our secret, for `htx webhooks set`.

        Raises:
            SendError: Telegram refused (bad token, bad URL) or could not be reached.
        """
        try:
            await self._ready()
            await self._bot.set_webhook(url, secret_token=self._secret, allowed_updates=list(ALLOWED_UPDATES))
        except SendError:
            raise
        except TelegramError as error:
            raise self._send_error(error, None) from error
        log.info("telegram webhook set", extra={"channel": CHANNEL, "url": url})

    async def _ready(self) -> None:
        """Initialise the Bot once (it calls getMe, which also checks the token)."""
        if self._initialized:
            return
        async with self._ready_lock:
            if self._initialized:
                return
            try:
                await self._bot.initialize()
            except TelegramError as error:
                raise self._send_error(error, None) from error
            self._initialized = True

    async def _call(self, chat_id: str, call: dict[str, Any]) -> None:
        markup = _markup(call.get("reply_markup"))
        if call["method"] == "sendPhoto":
            await self._bot.send_photo(chat_id, call["photo"], caption=call.get("caption"), reply_markup=markup)
        else:
            await self._bot.send_message(chat_id, call["text"], reply_markup=markup)

    def _answer_later(self, query_id: str) -> None:
        task = asyncio.create_task(self._answer(query_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, query_id: str) -> None:
        try:
            await self._ready()
            await self._bot.answer_callback_query(query_id)
        except (SendError, TelegramError) as error:
            # Only the button's progress indicator depends on it, and Telegram clears it by itself after a while.
            log.info("telegram callback not answered", extra={"channel": CHANNEL, "error": type(error).__name__})
        except Exception:
            log.exception("telegram callback answer failed", extra={"channel": CHANNEL})

    def _send_error(self, error: TelegramError, chat_id: str | None) -> SendError:
        """Map a python-telegram-bot error to our `SendError`; the reason never contains the token."""
        reason = str(error.message).replace(self._token, "<token>")
        permanent, retry_after = True, None
        if isinstance(error, RetryAfter):
            permanent, retry_after = False, _retry_after_seconds(error)
        elif isinstance(error, InvalidToken):
            # Bot.initialize puts the token itself in this message; say it in our own words.
            reason = "telegram rejected the bot token"
            self._problem = reason
        elif isinstance(error, Forbidden | BadRequest | EndPointNotFound):
            pass  # blocked or deactivated user, chat not found, refused content: retrying will not help
        elif isinstance(error, ChatMigrated):
            reason = f"group moved to chat {error.new_chat_id}"
        elif isinstance(error, NetworkError):
            permanent = False  # TimedOut, connection errors, 5xx
        else:
            permanent = False
        log.info(
            "telegram send failed",
            extra={"channel": CHANNEL, "chat": chat_id, "error": type(error).__name__, "permanent": permanent},
        )
        return SendError(f"telegram: {reason}", permanent=permanent, retry_after=retry_after)


def _from_message(event_id: str, message: Mapping[str, Any], update: Mapping[str, Any]) -> Incoming | None:
    chat_id = _id(message.get("chat"))
    sender = message.get("from")
    sender = sender if isinstance(sender, Mapping) else {}
    if chat_id is None or sender.get("is_bot") is True:
        return None
    text = _clean(message.get("text"))
    contact, location, photo = message.get("contact"), message.get("location"), message.get("photo")
    contact_phone = _clean(contact.get("phone_number")) if isinstance(contact, Mapping) else None
    point = _location(location)
    image_url = _largest_photo(photo)
    if image_url is not None:
        text = _clean(message.get("caption"))
    if text is None and contact_phone is None and point is None and image_url is None:
        return None
    return Incoming(
        channel=CHANNEL,
        chat_id=chat_id,
        user_id=_id(sender) or chat_id,
        event_id=event_id,
        text=text,
        image_url=image_url,
        location=point,
        contact_phone=contact_phone,
        locale_hint=_language(sender),
        raw=dict(update),
    )


def _from_callback_query(event_id: str, query: Mapping[str, Any], update: Mapping[str, Any]) -> Incoming | None:
    sender = query.get("from")
    user_id = _id(sender)
    payload = _clean(query.get("data"))
    if user_id is None or payload is None:
        return None  # a game button, or malformed
    message = query.get("message")
    # Buttons on messages sent in inline mode carry no message; the press then comes from the user's own chat.
    chat_id = _id(message.get("chat")) if isinstance(message, Mapping) else None
    return Incoming(
        channel=CHANNEL,
        chat_id=chat_id or user_id,
        user_id=user_id,
        event_id=event_id,
        payload=payload,
        locale_hint=_language(sender),
        raw=dict(update),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _id(obj: Any) -> str | None:
    if isinstance(obj, Mapping) and _is_int(obj.get("id")):
        return str(obj["id"])
    return None


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = _CONTROL.sub("", value)
    return cleaned if cleaned.strip() else None


def _language(sender: Any) -> str | None:
    code = sender.get("language_code") if isinstance(sender, Mapping) else None
    return code if isinstance(code, str) and code else None


def _location(value: Any) -> Location | None:
    if not isinstance(value, Mapping):
        return None
    latitude, longitude = _number(value.get("latitude")), _number(value.get("longitude"))
    return Location(latitude, longitude) if latitude is not None and longitude is not None else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _largest_photo(sizes: Any) -> str | None:
    """The biggest PhotoSize's file_id, marked with FILE_PREFIX (Telegram lists sizes smallest first)."""
    if not isinstance(sizes, list):
        return None
    usable = [s for s in sizes if isinstance(s, Mapping) and isinstance(s.get("file_id"), str) and s["file_id"]]
    if not usable:
        return None

    def area(size: Mapping[str, Any]) -> tuple[int, int]:
        width, height, file_size = (size.get(k) for k in ("width", "height", "file_size"))
        pixels = width * height if isinstance(width, int) and isinstance(height, int) else 0
        return pixels, file_size if isinstance(file_size, int) else 0

    return FILE_PREFIX + str(max(usable, key=area)["file_id"])


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _keyboard(buttons: tuple[Button, ...]) -> dict[str, Any] | None:
    """An inline keyboard, one button per row; buttons whose payload Telegram would refuse are left out."""
    rows = []
    for button in buttons:
        size = len(button.payload.encode("utf-8"))
        if not 1 <= size <= MAX_CALLBACK_DATA:
            log.warning("telegram button left out: payload of %d bytes", size, extra={"channel": CHANNEL})
            continue
        rows.append([{"text": button.title, "callback_data": button.payload}])
    return {"inline_keyboard": rows} if rows else None


def _message(text: str, buttons: tuple[Button, ...] = ()) -> dict[str, Any]:
    call: dict[str, Any] = {"method": "sendMessage", "text": _truncate(text, MAX_TEXT)}
    if (keyboard := _keyboard(buttons)) is not None:
        call["reply_markup"] = keyboard
    return call


def _photo(photo: str, caption: str | None, buttons: tuple[Button, ...] = ()) -> dict[str, Any]:
    call: dict[str, Any] = {"method": "sendPhoto", "photo": photo}
    if caption:
        call["caption"] = _truncate(caption, MAX_CAPTION)
    if (keyboard := _keyboard(buttons)) is not None:
        call["reply_markup"] = keyboard
    return call


def _card(card: Card, public_url: str | None) -> dict[str, Any]:
    text = "\n".join(part for part in (card.title, card.subtitle) if part)
    photo = photo_source(card.image_url, public_url)
    return _photo(photo, text, card.buttons) if photo is not None else _message(text, card.buttons)


def _photo_as_message(call: dict[str, Any]) -> dict[str, Any]:
    message = {"method": "sendMessage", "text": call.get("caption") or "…"}
    if "reply_markup" in call:
        message["reply_markup"] = call["reply_markup"]
    return message


def _markup(keyboard: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in keyboard["inline_keyboard"]
        ]
    )


def _retry_after_seconds(error: RetryAfter) -> float:
    """`RetryAfter.retry_after` is an int before PTB v22.2 and, opted in or from v23, a timedelta; reading it
    in between warns about that change."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = error.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)
