"""The app factory: settings, database (migrated, demo loaded when empty), and every route."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import api, bank_webhooks, charts, payments, trace_page, webchat
from bot.channel_setup import build_channels
from bot.db import make_engine, make_sessionmaker, migrate
from bot.delivery import Deliverer
from bot.keys import CHANNELS, DELIVERER, ENGINE, NEWS, SEARCH, SESSIONS, SETTINGS
from bot.order_news import WEBHOOK_CHANNEL, announce_next
from bot.order_work import SWEEP_EVERY, sweep
from bot.partner_webhooks import WEBHOOK_ATTEMPTS, WEBHOOK_DELIVERER, PartnerWebhooks
from bot.settings import Settings
from bot.turns import handle_next, receive
from bot.workers import Worker
from catalog.demo import AlreadyLoaded, load_demo_catalogue
from catalog.live_index import LiveIndex
from channels.base import MAX_BODY
from channels.types import Incoming
from orders.partners import load_demo_partners

log = logging.getLogger(__name__)


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
    """The whole service as one aiohttp application: routes, database, channels and their workers."""
    settings = settings or Settings()
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[SEARCH] = LiveIndex()
    app[CHANNELS] = channels = build_channels(settings, lambda: app[SESSIONS])
    # Partner webhooks go through their own Deliverer and worker: a slow partner never delays a buyer's reply.
    assert WEBHOOK_CHANNEL not in channels
    partner_webhooks = PartnerWebhooks(lambda: app[SESSIONS])

    async def next_turn() -> bool:
        done = await handle_next(app[SESSIONS], app[SEARCH], settings)
        if done:
            outbox.wake()
            news.wake()
        return done

    async def next_news() -> bool:
        done = await announce_next(app[SESSIONS])
        if done:
            outbox.wake()
            webhooks.wake()
        return done

    inbox = Worker("inbox", next_turn)
    outbox = Worker("outbox", lambda: app[DELIVERER].deliver_next(), idle=0.5)
    news = Worker("order news", next_news)

    async def next_sweep() -> bool:
        swept = await sweep(app[SESSIONS], settings.daily_summary_hour, deadline=settings.payment_deadline)
        if swept.events:
            news.wake()
        if swept.messages:
            outbox.wake()
        return bool(swept)

    # Order timeouts, stale new orders, unpaid transfers and daily summaries (bot/order_work.py): every process,
    # safe in parallel.
    sweeper = Worker("order sweep", next_sweep, idle=SWEEP_EVERY)
    webhooks = Worker("partner webhooks", lambda: app[WEBHOOK_DELIVERER].deliver_next())
    app[NEWS] = news

    async def store(incomings: list[Incoming]) -> int:
        new = [event for event in [await receive(app[SESSIONS], incoming) for incoming in incomings] if event]
        if new:
            inbox.wake()
        return len(new)

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

    async def workers(app: web.Application) -> AsyncIterator[None]:
        app[DELIVERER] = Deliverer(app[SESSIONS], channels)
        app[WEBHOOK_DELIVERER] = Deliverer(
            app[SESSIONS], {WEBHOOK_CHANNEL: partner_webhooks}, max_attempts=WEBHOOK_ATTEMPTS
        )
        # HTX_WORKERS=0 makes a process that only answers HTTP, for a deployment whose turns run elsewhere.
        count = min(settings.workers, 1) if settings.database_url.startswith("sqlite") else settings.workers
        tasks = [asyncio.create_task(inbox.run()) for _ in range(count)]
        if count:
            tasks.append(asyncio.create_task(news.run()))
            tasks.append(asyncio.create_task(sweeper.run()))
            tasks.append(asyncio.create_task(webhooks.run()))
        if channels and count:
            tasks.append(asyncio.create_task(outbox.run()))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for channel in [*channels.values(), partner_webhooks]:
            await channel.close()

    app.cleanup_ctx.extend([database, workers])
    app.add_routes(webchat.routes())
    app.add_routes(api.routes())
    app.add_routes(charts.routes())
    app.add_routes(payments.routes())
    app.add_routes(bank_webhooks.routes())
    app.add_routes(trace_page.routes())
    for channel in channels.values():
        app.add_routes(channel.routes(store))
    return app
