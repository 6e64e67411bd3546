"""The app factory: settings, database (migrated, demo loaded when empty), and every route."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import api, bank_webhooks, charts, logs, metrics, payments, trace_page, webchat
from bot.channel_setup import build_channels
from bot.db import make_engine, make_sessionmaker, migrate, unreachable
from bot.delivery import Deliverer
from bot.intake import INTAKE, Intake, IntakeFailed, new_events_wake
from bot.keys import AFTER_TURN, CHANNELS, DELIVERERS, ENGINE, NEWS, SEARCH, SESSIONS, SETTINGS
from bot.order_news import WEBHOOK_CHANNEL, announce_next
from bot.order_work import SWEEP_EVERY, sweep
from bot.partner_webhooks import WEBHOOK_DELIVERER, WEBHOOK_GIVE_UP_AFTER, PartnerWebhooks
from bot.rate_limit import LIMITS, Limits, RateLimiter, admit, per_ip
from bot.retention import PRUNE_EVERY, prune_messages
from bot.settings import Settings
from bot.turns import Written, handle_next
from bot.workers import Worker, stop_all
from catalog.demo import AlreadyLoaded, load_demo_catalogue
from catalog.live_index import LiveIndex
from channels.base import MAX_BODY
from channels.types import Incoming
from orders.partners import load_demo_partners

log = logging.getLogger(__name__)

# Steps running each platform's outbox (and the partner webhooks) side by side, so a step waiting on one slow send
# (a partner's endpoint hanging until the timeout, say) does not hold up the rest.
OUTBOX_LOOPS = 2
# inbound_events.chat_id and event_id are String(128) (bot/models.py).
ID_LENGTH = 128


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
    """Any unexpected failure answers a JSON 500 and is logged, instead of aiohttp's plain-text page.

    An unreachable database (or an inbox batch that could not be stored) answers 503 at once instead: nothing was
    done, and platforms redeliver the webhook later.
    """
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as error:
        if isinstance(error, IntakeFailed) or unreachable(error):
            log.warning("request refused: database unavailable", extra={"path": request.path})
            return web.json_response({"error": "database unavailable, please try again"}, status=503)
        log.exception("request failed", extra={"path": request.path})
        return web.json_response({"error": "internal error, please try again"}, status=500)


def storable(incoming: Incoming) -> bool:
    """Whether the inbox's columns take this message's ids (at most 128 characters, no NUL). No platform sends
    others; one that did would fail the whole batch of events stored with it, so it is dropped and logged."""
    ids = (incoming.chat_id, incoming.event_id)
    if all(len(value) <= ID_LENGTH and "\x00" not in value for value in ids):
        return True
    log.warning("event dropped: ids the inbox cannot store", extra={"channel": incoming.channel})
    return False


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> web.Application:
    """The whole service as one aiohttp application: routes, database, channels and their workers.

    `settings.role` (HTX_ROLE) splits it for scaling out: `web` answers HTTP and runs no workers, `workers` runs
    them and serves only /healthz and /metrics, `all` does both.
    """
    settings = settings or Settings()
    middlewares = [logs.request_ids, json_errors, metrics.count_refused_webhooks, per_ip]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[LIMITS] = limits = Limits(
        per_ip=RateLimiter(settings.rate_limit_ip_per_minute),
        per_chat=RateLimiter(settings.rate_limit_chat_per_minute),
        trust_proxy=settings.trust_proxy,
        locale=settings.default_locale,
    )
    app[SEARCH] = LiveIndex()
    app[CHANNELS] = channels = build_channels(settings, lambda: app[SESSIONS])
    # Partner webhooks go through their own Deliverer and worker: a slow partner never delays a buyer's reply.
    assert WEBHOOK_CHANNEL not in channels
    partner_webhooks = PartnerWebhooks(lambda: app[SESSIONS])

    def after_turn(written: Written) -> None:
        wake_outboxes(written.channels)
        if written.order_news:
            news.wake()

    app[AFTER_TURN] = after_turn

    async def next_turn() -> bool:
        return await handle_next(app[SESSIONS], app[SEARCH], settings, after=after_turn)

    async def next_news() -> bool:
        done = await announce_next(app[SESSIONS])
        if done:
            wake_outboxes()
            webhooks.wake()
        return done

    def outbox(name: str) -> Worker:
        return Worker(f"outbox {name}", lambda: app[DELIVERERS][name].deliver_next(), idle=0.5)

    # One outbox per platform: a platform that is slow, down or at its rate limit never delays another's replies.
    outboxes = {name: outbox(name) for name in channels}

    def wake_outboxes(names: Iterable[str] = channels) -> None:
        """Rouse the outboxes of these channels (every one by default): replies were written for them."""
        for name in names:
            if name in outboxes:  # the web chat's replies go out in its HTTP response
                outboxes[name].wake()

    inbox = Worker("inbox", next_turn)
    news = Worker("order news", next_news)

    async def next_sweep() -> bool:
        swept = await sweep(app[SESSIONS], settings.daily_summary_hour, deadline=settings.payment_deadline)
        if swept.events:
            news.wake()
        if swept.messages:
            wake_outboxes()
        return bool(swept)

    # Order timeouts, stale new orders, unpaid transfers and daily summaries (bot/order_work.py): every process,
    # safe in parallel.
    sweeper = Worker("order sweep", next_sweep, idle=SWEEP_EVERY)
    webhooks = Worker("partner webhooks", lambda: app[WEBHOOK_DELIVERER].deliver_next())

    async def next_prune() -> bool:
        return await prune_messages(app[SESSIONS], timedelta(days=settings.keep_messages_days)) > 0

    # Handled messages older than HTX_KEEP_MESSAGES_DAYS (bot/retention.py); 0 keeps them for ever.
    pruner = Worker("message pruning", next_prune, idle=PRUNE_EVERY)
    app[NEWS] = news

    async def store(incomings: list[Incoming]) -> int:
        incomings = [incoming for incoming in incomings if storable(incoming)]
        # A flooding chat's extra messages stop here, so they never queue ahead of other chats' turns.
        incomings, told = await admit(limits, app[SESSIONS], incomings)
        if told:
            wake_outboxes()
        return await app[INTAKE].store(incomings) if incomings else 0

    async def database(app: web.Application) -> AsyncIterator[None]:
        own_engine = engine is None
        app[ENGINE] = engine or make_engine(settings.database_url)
        await migrate(app[ENGINE])
        app[SESSIONS] = make_sessionmaker(app[ENGINE])
        # Webhooks and the web chat store their events through it, many requests per transaction.
        app[INTAKE] = Intake(app[ENGINE], on_new=inbox.wake)
        if settings.load_demo and await load_demo_if_empty(app[SESSIONS]):
            log.info("demo catalogue loaded")
        yield
        await app[INTAKE].close()
        if own_engine:
            await app[ENGINE].dispose()

    async def workers(app: web.Application) -> AsyncIterator[None]:
        app[DELIVERERS] = {
            name: Deliverer(app[SESSIONS], {name: channel}, rates=settings.send_rates, batch=settings.send_batch)
            for name, channel in channels.items()
        }
        app[WEBHOOK_DELIVERER] = Deliverer(
            app[SESSIONS],
            {WEBHOOK_CHANNEL: partner_webhooks},
            give_up_after=WEBHOOK_GIVE_UP_AFTER,
            batch=settings.send_batch,
        )
        # HTX_ROLE=web (or HTX_WORKERS=0) makes a process that only answers HTTP; turns run in other processes.
        count = 0 if settings.role == "web" else settings.workers
        count = min(count, 1) if settings.database_url.startswith("sqlite") else count
        running = [inbox] * count
        if count:
            senders = [*outboxes.values(), webhooks]
            running += [news, sweeper, *(sender for sender in senders for _ in range(OUTBOX_LOOPS))]
            running += [pruner] if settings.keep_messages_days else []
        tasks = [asyncio.create_task(worker.run(), name=worker.name) for worker in running]
        async with contextlib.AsyncExitStack() as stack:
            if count:  # events stored by other processes (--web-only ones) start a turn here at once
                await stack.enter_async_context(new_events_wake(app[ENGINE], inbox.wake))
            yield
        # Graceful: each worker finishes the turn or delivery under way; what is left stays in the database.
        await stop_all(running, tasks, settings.shutdown_seconds)
        for channel in [*channels.values(), partner_webhooks]:
            await channel.close()

    app.cleanup_ctx.extend([database, workers])
    if settings.role == "workers":
        app.add_routes([web.get("/healthz", api.healthz), web.get("/metrics", metrics.metrics)])
        return app
    # The web chat runs its own turn inside its POST in every role that serves it (bot/webchat.py).
    app.add_routes(webchat.routes())
    app.add_routes(api.routes())
    app.add_routes(charts.routes())
    app.add_routes(payments.routes())
    app.add_routes(bank_webhooks.routes())
    app.add_routes(trace_page.routes())
    for channel in channels.values():
        app.add_routes(channel.routes(store))
    return app
