"""The app factory: settings, database (migrated, demo loaded when empty), and every route."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import api, webchat
from bot.db import make_engine, make_sessionmaker, migrate
from bot.keys import ENGINE, SEARCH, SESSIONS, SETTINGS
from bot.settings import Settings
from catalog.demo import AlreadyLoaded, load_demo_catalogue
from catalog.live_index import LiveIndex
from orders.partners import load_demo_partners

log = logging.getLogger(__name__)

# Channels that need platform credentials; they arrive with the channel modules (issue 4).
PLATFORM_CHANNELS = ("telegram", "messenger", "zalo")


async def load_demo_if_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Load the demo catalogue and partners into an empty database. Returns True if it did."""
    try:
        async with sessions.begin() as session:
            await load_demo_catalogue(session)
            await load_demo_partners(session)
    except AlreadyLoaded:
        return False
    return True


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any unexpected failure answers a JSON 500 and is logged, instead of aiohttp's plain-text page."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("request failed", extra={"path": request.path})
        return web.json_response({"error": "internal error, please try again"}, status=500)


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> web.Application:
    """The whole service as one aiohttp application."""
    settings = settings or Settings()
    app = web.Application(middlewares=[json_errors])
    app[SETTINGS] = settings
    app[SEARCH] = LiveIndex()

    async def database(app: web.Application) -> AsyncIterator[None]:
        own_engine = engine is None
        app[ENGINE] = engine or make_engine(settings.database_url)
        await migrate(app[ENGINE])
        app[SESSIONS] = make_sessionmaker(app[ENGINE])
        if settings.load_demo and await load_demo_if_empty(app[SESSIONS]):
            log.info("demo catalogue loaded")
        yield
        if own_engine:
            await app[ENGINE].dispose()

    app.cleanup_ctx.append(database)
    app.add_routes(webchat.routes())
    app.add_routes(api.routes())
    return app
