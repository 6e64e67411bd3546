"""The web chat: `GET /` serves the page, `POST /web/chat` runs the turn and answers with its replies."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from aiohttp import web

from bot.keys import SEARCH, SESSIONS, SETTINGS
from bot.turns import handle, receive, take_replies
from channels import web as web_channel

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


async def page(_request: web.Request) -> web.FileResponse:
    """The chat page."""
    return web.FileResponse(STATIC / "index.html")


async def chat(request: web.Request) -> web.Response:
    """Validate, store in the inbox, run this message's turn, and return the replies it produced."""
    try:
        body = json.loads(await request.read(), parse_constant=_refuse_constant, parse_float=_finite_float)
        incoming = web_channel.parse(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        reason = str(error) if isinstance(error, web_channel.BadRequest) else "body is not valid JSON"
        log.info("web chat request refused", extra={"reason": reason})
        return web.json_response({"error": reason}, status=400)
    sessions = request.app[SESSIONS]
    event_id = await receive(sessions, incoming)
    settings = request.app[SETTINGS]
    if event_id is None or not await handle(sessions, event_id, request.app[SEARCH], settings):
        return web.json_response({"error": "the message could not be handled, please send it again"}, status=500)
    replies = await take_replies(sessions, event_id)
    return web.json_response({"replies": web_channel.render(replies)})


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def routes() -> list[web.AbstractRouteDef]:
    """The web chat's routes."""
    return [web.get("/", page), web.post("/web/chat", chat), web.static("/static", STATIC)]
