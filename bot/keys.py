"""Typed keys for what the app stores (aiohttp `web.AppKey`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery import Deliverer
from bot.settings import Settings
from bot.workers import Worker
from catalog.live_index import LiveIndex
from channels.base import Channel

if TYPE_CHECKING:  # bot.turns imports the flows, which import these keys
    from bot.turns import Written

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
SEARCH = web.AppKey("search", LiveIndex)
CHANNELS = web.AppKey("channels", dict[str, Channel])
# The outbox of each platform (bot/delivery.py), by channel name.
DELIVERERS = web.AppKey("deliverers", dict[str, Deliverer])
# Wake it after changing an order outside a turn (the partner API) so people hear of it at once.
NEWS = web.AppKey("news", Worker)
# What every committed turn calls with what it wrote: wakes the outboxes and the announcer that now have work.
AFTER_TURN: web.AppKey[Callable[[Written], None]] = web.AppKey("after_turn")
