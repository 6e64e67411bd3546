"""The web chat: `GET /` serves the page, `POST /web/chat` runs the turn and answers with its replies."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from bot.intake import INTAKE
from bot.keys import AFTER_TURN, SEARCH, SESSIONS, SETTINGS
from bot.rate_limit import LIMITS, too_many
from bot.turns import handle, take_replies
from channels import web as web_channel
from channels.base import parse_json

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


async def page(_request: web.Request) -> web.FileResponse:
    """The chat page."""
    return web.FileResponse(STATIC / "index.html")


async def chat(request: web.Request) -> web.Response:
    """Validate, store in the inbox, run this message's turn, and return the replies it produced."""
    try:
        incoming = web_channel.parse(parse_json(await request.read()))
    except ValueError as error:  # UnicodeDecodeError is a ValueError
        reason = str(error) if isinstance(error, web_channel.BadRequest) else "body is not valid JSON"
        log.info("web chat request refused", extra={"reason": reason})
        return web.json_response({"error": reason}, status=400)
    limits = request.app[LIMITS]
    decision = limits.per_chat.take((incoming.channel, incoming.chat_id))
    if not decision.allowed:
        if decision.first:
            log.warning("rate limit: web chat session refused", extra={"chat": incoming.chat_id})
        return too_many(decision.retry_after, limits.locale)
    sessions = request.app[SESSIONS]
    [event_id] = await request.app[INTAKE].add([incoming])
    settings = request.app[SETTINGS]
    if event_id is None or not await handle(
        sessions, event_id, request.app[SEARCH], settings, after=request.app[AFTER_TURN]
    ):
        return web.json_response({"error": "the message could not be handled, please send it again"}, status=500)
    replies = await take_replies(sessions, event_id)
    return web.json_response({"replies": web_channel.render(replies)})


def routes() -> list[web.AbstractRouteDef]:
    """The web chat's routes."""
    return [web.get("/", page), web.post("/web/chat", chat), web.static("/static", STATIC)]
