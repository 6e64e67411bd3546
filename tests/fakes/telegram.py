"""A fake Telegram Bot API server on port 0: `POST /bot<token>/<method>` in the real wire format, every call recorded.

Point python-telegram-bot at it with `Bot(token, base_url=fake.base_url)` (PTB appends the token itself). It
answers like Telegram does (platforms.md §3.4, §5.3): `{"ok": true, "result": ...}`, and errors with the
matching HTTP status, because PTB picks its exception from the status. Usage:

    async with FakeTelegram() as fake:
        channel = TelegramChannel(fake.token, "secret", base_url=fake.base_url)
        fake.fail_next(429)                   # the next call (but getMe) answers "Too Many Requests"
        fake.recover()                        # ... unless it has not come yet: every call succeeds again
        await fake.close()                    # down: connections refused ...
        await fake.start()                    # ... until it is back on the same port
        ...
        assert fake.calls_to("sendMessage")[0]["text"] == "..."
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from channels.telegram import SECRET_HEADER
from tests.fakes.server import FakeServer

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
TOKEN = "123456:TEST-token_for-the-fake"
CHAT_ID = 100000001


def _payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Call:
    """One request the fake received: the Bot API method as sent, its decoded parameters, the status answered."""

    method: str
    params: dict[str, Any]
    status: int
    # When it arrived (`time.monotonic()`), for latency measurements such as bench/webhooks.py's.
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    times: int
    method: str | None
    retry_after: int
    description: str | None


class FakeTelegram(FakeServer):
    """The fake server. `calls` records every request, failed ones included (see `Call.status`).

    Form bodies (what PTB sends) are decoded the way Telegram reads them: a value that is a JSON object or
    array (`reply_markup`) is decoded, every other value stays a string (so `chat_id` is `"100000001"`). JSON
    bodies keep their types. Multipart file fields are recorded as `{"filename", "content_type", "size"}`.
    """

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        # What setWebhook registered: {"url", "secret_token", "allowed_updates"}; None while no webhook is set.
        self.webhook: dict[str, Any] | None = None
        # Chats that blocked the bot: every send to them answers 403, like Telegram.
        self.blocked: set[str] = set()
        self.bot_user: dict[str, Any] = dict(_payload("telegram_send_message_response.json")["result"]["from"])
        self.bot_user.update(can_join_groups=True, can_read_all_group_messages=False, supports_inline_queries=False)
        self._failures: list[_Failure] = []
        self._message_ids = itertools.count(_payload("telegram_send_message_response.json")["result"]["message_id"])
        self._update_ids = itertools.count(207890000)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    @property
    def base_url(self) -> str:
        """python-telegram-bot's `base_url` for this server: `http://127.0.0.1:PORT/bot` (PTB adds the token)."""
        if not self.port:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self.port}/bot"

    # Test controls ----------------------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        method: str | None = None,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls with an error: 429 (with `parameters.retry_after`), 403 (bot blocked),
        400 (chat not found), 401 (bad token), 500, or any status with `description`.

        `method` limits it to one Bot API method; by default it applies to every method but `getMe`, the
        handshake `Bot.initialize()` makes before the first real call (pass `method="getMe"` to fail that).
        """
        self._failures.append(_Failure(status, times, method, retry_after, description))

    def recover(self) -> None:
        """Forget the failures still to come: an outage (`fail_next(502, times=10**9)`) is over."""
        self._failures.clear()

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The parameters of each successful call to `method`, in order."""
        return [c.params for c in self.calls if c.method == method and c.status == 200]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until `count` successful calls to `method` arrived (for calls a service makes in the background)."""
        deadline = time.monotonic() + timeout
        while len(found := self.calls_to(method)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} {method} calls after {timeout} s")
            await asyncio.sleep(0.01)
        return found

    # Webhook side: what Telegram sends to the bot ----------------------------------------------------------------

    def text_update(self, text: str, chat_id: int = CHAT_ID, language_code: str = "vi") -> dict[str, Any]:
        """A new private text message (shaped like tests/payloads/telegram_message_text.json), fresh update_id."""
        update = _payload("telegram_message_text.json")
        message = update["message"]
        message["from"].update(id=chat_id, language_code=language_code)
        message["chat"]["id"] = chat_id
        message.update(text=text, date=int(time.time()), message_id=next(self._message_ids))
        update["update_id"] = next(self._update_ids)
        return update

    def callback_update(self, data: str, chat_id: int = CHAT_ID, language_code: str = "vi") -> dict[str, Any]:
        """An inline-button press (shaped like tests/payloads/telegram_callback_query.json), fresh ids."""
        update = _payload("telegram_callback_query.json")
        query = update["callback_query"]
        query["from"].update(id=chat_id, language_code=language_code)
        query["message"]["chat"]["id"] = chat_id
        update_id = next(self._update_ids)
        query.update(id=str(4316545281924000000 + update_id), data=data)
        update["update_id"] = update_id
        return update

    async def deliver(self, update: dict[str, Any], url: str | None = None, secret: str | None = None) -> int:
        """POST one Update to the bot's webhook, as Telegram does, and return the HTTP status it answered.

        `url` and `secret` default to what the bot registered with setWebhook.
        """
        registered = self.webhook or {}
        url = url or registered.get("url")
        secret = secret if secret is not None else registered.get("secret_token")
        if not url:
            raise RuntimeError("no webhook URL: call setWebhook first or pass url")
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[SECRET_HEADER] = secret
        async with ClientSession() as session, session.post(url, data=json.dumps(update), headers=headers) as answer:
            await answer.read()
            return answer.status

    # Bot API side -----------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        status, body = self._answer(request.match_info["token"], method, params)
        self.calls.append(Call(method, params, status))
        return web.json_response(body, status=status)

    def _answer(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if token != self.token:
            return _error(401, "Unauthorized")
        failure = self._take_failure(method)
        if failure is not None:
            return _failure_body(failure)
        handler = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "answercallbackquery": self._answer_callback_query,
            "editmessagetext": self._edit_message,
            "editmessagereplymarkup": self._edit_message,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
        }.get(method.lower())
        if handler is None:
            return _error(404, "Not Found")
        return handler(params)

    def _take_failure(self, method: str) -> _Failure | None:
        for failure in self._failures:
            applies = failure.method == method if failure.method else method.lower() != "getme"
            if applies and failure.times > 0:
                failure.times -= 1
                if failure.times == 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _get_me(self, _params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return _ok(self.bot_user)

    def _send_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        return self._message(params, text=text)

    def _send_photo(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        photo = params.get("photo")
        if not photo:
            return _error(400, "Bad Request: there is no photo in the request")
        caption = params.get("caption")
        if isinstance(caption, str) and len(caption) > 1024:
            return _error(400, "Bad Request: message caption is too long")
        sizes = [
            {"file_id": f"fake-photo-{n}", "file_unique_id": f"fake-unique-{n}", "width": w, "height": h}
            for n, (w, h) in enumerate(((90, 67), (800, 600)))
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._message(params, **content)

    def _edit_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "inline_message_id" in params:
            return _ok(True)
        return self._message(params, text=params.get("text", ""))

    def _answer_callback_query(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not params.get("callback_query_id"):
            return _error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return _ok(True)

    def _set_webhook(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        # Real Telegram wants https on port 443/80/88/8443; the fake also takes http://127.0.0.1:PORT for tests.
        url = params.get("url") or ""
        if not url:
            self.webhook = None
            return _ok(True, description="Webhook was deleted")
        secret = params.get("secret_token")
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": params.get("allowed_updates")}
        return _ok(True, description="Webhook was set")

    def _delete_webhook(self, _params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.webhook = None
        return _ok(True, description="Webhook was deleted")

    def _get_webhook_info(self, _params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        info = {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}
        return _ok(info)

    def _get_updates(self, _params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.webhook is not None:
            return _error(
                409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete it"
            )
        return _ok([])

    def _message(self, params: dict[str, Any], **content: Any) -> tuple[int, dict[str, Any]]:
        """A Message result for a send to `chat_id`, shaped like telegram_send_message_response.json."""
        chat_id = str(params.get("chat_id", ""))
        if not chat_id:
            return _error(400, "Bad Request: chat_id is empty")
        if not chat_id.lstrip("-").isdigit():
            return _error(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and not _buttons_valid(markup):
            return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        message = copy.deepcopy(_payload("telegram_send_message_response.json")["result"])
        message.pop("text", None)
        message["chat"]["id"] = int(chat_id)
        message["from"] = self.bot_user
        message.update(message_id=next(self._message_ids), date=int(time.time()), **content)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return _ok(message)


async def _params(request: web.Request) -> dict[str, Any]:
    """The call's parameters from the query string and a JSON, url-encoded or multipart body."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    if request.can_read_body:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                params[name] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "size": len(value.file.read()),
                }
            else:
                params[name] = _form_value(value)
    return params


def _form_value(value: str | bytes | bytearray) -> Any:
    if not isinstance(value, str):
        value = bytes(value).decode("utf-8", "replace")
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _buttons_valid(markup: dict[str, Any]) -> bool:
    rows = markup.get("inline_keyboard", [])
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                return False
    return True


def _ok(result: Any, description: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return 200, body


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


def _failure_body(failure: _Failure) -> tuple[int, dict[str, Any]]:
    if failure.status == 429:  # the shape of telegram_error_too_many_requests.json, with our retry_after
        description = failure.description or f"Too Many Requests: retry after {failure.retry_after}"
        return _error(429, description, {"retry_after": failure.retry_after})
    if failure.status == 403:
        return _error(403, failure.description or _payload("telegram_error_forbidden_blocked.json")["description"])
    defaults = {400: "Bad Request: chat not found", 401: "Unauthorized", 404: "Not Found"}
    return _error(failure.status, failure.description or defaults.get(failure.status, "Internal Server Error"))


class SlowTelegram(FakeTelegram):
    """The Telegram fake whose sendMessage calls wait until the test releases them."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.release = asyncio.Event()
        self.held = 0  # sendMessage calls waiting for the release

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "sendMessage":
            self.sending.set()
            self.held += 1
            await self.release.wait()
        return await super()._handle(request)
