"""Structured log lines, as text (`HTX_LOG_FORMAT=text`) or one JSON object per line (`json`): the message and the
ids a record carries (channel, chat, order, event, request id), with phone numbers masked and secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler

LogFormat = Literal["text", "json"]

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_OURS = ("bot", "channels", "catalog", "orders")

REQUEST_ID_HEADER = "X-Request-ID"
# The id of the HTTP request being handled, added to every log line written while handling it.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# An incoming X-Request-ID is kept only when it looks like an id: a header must not forge log content.
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# aiohttp's access log line (written after the request, outside it), with the id the response carries.
ACCESS_LOG_FORMAT = f'%a %t "%r" %s %b %Tf "%{{User-Agent}}i" request_id=%{{{REQUEST_ID_HEADER}}}o'

REDACTED = "[redacted]"
# An extra whose name says it holds a credential is never written, whatever its value.
_SECRET_NAME = re.compile(r"token|secret|password|authorization|cookie|key|signature", re.IGNORECASE)
# Credentials inside text: a Telegram bot token (also inside Bot API URLs), an Authorization header's value, and
# query parameters such as Graph API's `access_token=` or `appsecret_proof=`.
_SECRETS = (
    (re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{20,}"), REDACTED),
    (re.compile(r"\b(Bearer|Apikey|Basic)\s+[^\s,;\"']+", re.IGNORECASE), rf"\1 {REDACTED}"),
    (
        re.compile(r"([?&][\w.-]*(?:token|secret|key|password|signature|proof)[\w.-]*=)[^&\s\"']+", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
)
# Vietnamese mobile numbers: 0xxxxxxxxx, +84xxxxxxxxx or 84xxxxxxxxx, digits possibly grouped by spaces, dots or
# dashes, and not part of a longer number (platform user ids are long digit strings).
_PHONE = re.compile(r"(?<![\d+])(\+84|84|0)[\s.-]?[35789](?:[\s.-]?\d){8}(?!\d)")


def _mask_phone(match: re.Match[str]) -> str:
    prefix = match.group(1)
    digits = re.sub(r"\D", "", match.group(0))[len(prefix.lstrip("+")) :]
    return f"{prefix}{digits[0]}******{digits[-3:]}"


def scrub(text: str) -> str:
    """`text` with Vietnamese mobile numbers masked to their network digit and last three ("09******678") and
    credentials replaced by `[redacted]`."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return _PHONE.sub(_mask_phone, text)


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ids of a record: what our own calls passed as `extra={...}` and the request id, scrubbed."""
    extras = record.__dict__.items() if record.name.startswith(_OURS) else ()
    found = {key: value for key, value in extras if key not in _STANDARD}
    if (request_id := REQUEST_ID.get()) is not None:
        found.setdefault("request_id", request_id)
    return {key: _clean(key, value) for key, value in found.items()}


def _clean(key: str, value: Any) -> Any:
    if _SECRET_NAME.search(key):
        return REDACTED
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))


class KeyValueFormatter(logging.Formatter):
    """`time level logger message key=value ...`, for reading on a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = scrub(super().format(record))
        extras = " ".join(f"{key}={value}" for key, value in fields(record).items())
        return f"{line} {extras}" if extras else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        line.update((key, value) for key, value in fields(record).items() if key not in line)
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def setup(level: str, log_format: LogFormat = "text") -> None:
    """Send log lines to stderr at the given level, as text or JSON."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give each HTTP request an id (the caller's X-Request-ID, e.g. nginx's `$request_id`, or a new one): in the
    log lines written while handling it and in the response's X-Request-ID header."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if _GOOD_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    token = REQUEST_ID.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        REQUEST_ID.reset(token)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response
