"""Log lines: JSON with the ids, a request id per HTTP request, phone numbers masked and secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.logs import REQUEST_ID_HEADER, JsonFormatter, KeyValueFormatter, scrub


class Lines:
    """What was logged through one formatter while the test ran."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)

    def text(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text()]


def capture(formatter: logging.Formatter) -> Iterator[Lines]:
    lines = Lines(formatter)
    logger = logging.getLogger()
    level = logger.level
    logger.addHandler(lines.handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(lines.handler)
    logger.setLevel(level)


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    """The lines as JSON objects."""
    yield from capture(JsonFormatter())


@pytest.fixture
def text_lines() -> Iterator[Lines]:
    """The lines as text."""
    yield from capture(KeyValueFormatter())


def test_a_json_line_has_time_level_logger_message_and_the_ids(json_lines):
    ids = {"channel": "telegram", "chat": "100000001", "order": "DH7K2M9Q", "event": 42}
    logging.getLogger("bot.turns").warning("turn failed for %s", "DH7K2M9Q", extra=ids)
    (line,) = json_lines.json()
    assert line["level"] == "WARNING" and line["logger"] == "bot.turns"
    assert line["message"] == "turn failed for DH7K2M9Q"
    assert line["time"].endswith("+00:00")
    assert {key: line[key] for key in ids} == ids


def test_an_exception_goes_into_the_json_line(json_lines):
    try:
        raise RuntimeError("boom for 0912345678")
    except RuntimeError:
        logging.getLogger("bot.workers").exception("worker step failed", extra={"worker": "inbox"})
    (line,) = json_lines.json()
    assert "RuntimeError: boom for 09******678" in line["exception"] and line["worker"] == "inbox"


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("0912345678", "09******678"),
        ("0912 345 678", "09******678"),
        ("0912.345.678", "09******678"),
        ("+84912345678", "+849******678"),
        ("+84 912 345 678", "+849******678"),
        ("84912345678", "849******678"),
        ("sđt 0387654321, giao sáng", "sđt 03******321, giao sáng"),
    ],
)
def test_vietnamese_mobile_numbers_keep_only_their_last_three_digits(written, masked):
    assert scrub(written) == masked


@pytest.mark.parametrize("kept", ["2010099998877665544", "100000001", "DH7K2M9Q", "2026-11-01 12:30:45,123", "105000"])
def test_ids_amounts_and_times_are_not_taken_for_phone_numbers(kept):
    assert scrub(kept) == kept


def test_phone_numbers_are_masked_in_the_message_and_in_the_extras(json_lines, text_lines):
    logging.getLogger("bot.flows").info("buyer gave 0912345678", extra={"phone": "+84 912 345 678", "chat": "s1"})
    (line,) = json_lines.json()
    assert line["message"] == "buyer gave 09******678" and line["phone"] == "+849******678"
    (text,) = text_lines.text()
    assert "0912345678" not in text and "345 678" not in text and "09******678" in text and "chat=s1" in text


def test_secrets_are_redacted_by_their_extra_name_and_inside_text(json_lines, text_lines):
    extras = {
        "access_token": "EAAG-very-secret",
        "authorization": "Bearer partner-token-1",
        "api_key": "sepay-key",
        "webhook_secret": "whsec",
        "chat": "42",
    }
    logging.getLogger("channels.messenger").info(
        "POST https://graph.facebook.com/v25.0/me/messages?access_token=EAAG-very-secret&x=1 with Bearer abc.def",
        extra=extras,
    )
    # httpx logs every request's URL, and Telegram's carry the bot token.
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123456:TEST-token_for-the-fake/x")
    first, second = json_lines.json()
    for key in ("access_token", "authorization", "api_key", "webhook_secret"):
        assert first[key] == "[redacted]"
    assert first["chat"] == "42"
    assert "EAAG" not in first["message"] and "abc.def" not in first["message"] and "x=1" in first["message"]
    assert "TEST-token" not in second["message"]
    assert not any(secret in "\n".join(text_lines.text()) for secret in ("EAAG", "partner-token", "sepay-key", "whsec"))


async def test_each_request_has_an_id_in_its_response_and_its_log_lines(client, json_lines):
    response = await client.post("/web/chat", data=b"not json", headers={REQUEST_ID_HEADER: "nginx-7f3a9c"})
    assert response.status == 400 and response.headers[REQUEST_ID_HEADER] == "nginx-7f3a9c"
    refused = [line for line in json_lines.json() if line["logger"] == "bot.webchat"]
    assert refused and all(line["request_id"] == "nginx-7f3a9c" for line in refused)

    generated = (await client.get("/healthz")).headers[REQUEST_ID_HEADER]
    assert len(generated) == 32 and generated != (await client.get("/healthz")).headers[REQUEST_ID_HEADER]
    missing = await client.get("/no/such/page", headers={REQUEST_ID_HEADER: "abc"})
    assert missing.status == 404 and missing.headers[REQUEST_ID_HEADER] == "abc"


async def test_a_forged_request_id_is_replaced(client):
    response = await client.get("/healthz", headers={REQUEST_ID_HEADER: "x" * 65})
    assert len(response.headers[REQUEST_ID_HEADER]) == 32
    response = await client.get("/healthz", headers={REQUEST_ID_HEADER: 'a" level="ERROR'})
    assert len(response.headers[REQUEST_ID_HEADER]) == 32


def test_lines_outside_a_request_have_no_request_id(json_lines):
    logging.getLogger("bot.workers").info("idle")
    (line,) = json_lines.json()
    assert "request_id" not in line
