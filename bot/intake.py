"""The inbox's front door: webhook events stored by group commit, each request answered once its events are durable.

One transaction per event caps intake at the database's single-row commit rate (about 1,000/s on SQLite and
2,600/s on PostgreSQL on our 2-core machines). `Intake` instead gathers the events of concurrent requests and
stores them with one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` in one transaction: the classic group
commit, where a batch closes when the previous commit finishes (or at `MAX_BATCH` events), never after a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import Insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import metrics
from bot.models import InboundEvent
from channels.types import Incoming

log = logging.getLogger(__name__)

# Events per transaction at most: bounds one commit's time, and so the wait of the requests queued behind it.
MAX_BATCH = 500


_FIELDS = dataclasses.fields(Incoming)
# The PostgreSQL channel a commit of new events notifies, so workers in other processes start at once.
NEW_EVENTS = "htx_inbox"
_NOTIFY = text(f"NOTIFY {NEW_EVENTS}")


class IntakeFailed(Exception):
    """The transaction holding this request's events failed: none of its batch is stored, the platform redelivers."""


def incoming_to_dict(incoming: Incoming) -> dict[str, Any]:
    """An `Incoming` as stored in the inbox: its fields as they are (`raw` is JSON already, so no deep copy, which
    `dataclasses.asdict` would make: it showed in profiles of the webhook path), the location as a dict."""
    data = {field.name: getattr(incoming, field.name) for field in _FIELDS}
    if incoming.location is not None:
        data["location"] = dataclasses.asdict(incoming.location)
    return data


@dataclasses.dataclass
class _Request:
    incomings: list[Incoming]
    done: asyncio.Future[list[int | None]]


class Intake:
    """Stores platform events in `inbound_events`, many requests per transaction.

    Args:
        engine: the service's database.
        on_new: called after a commit that stored new events (wakes this process's inbox worker).
    """

    def __init__(self, engine: AsyncEngine, on_new: Callable[[], None] = lambda: None) -> None:
        self._engine = engine
        self._on_new = on_new
        self._waiting: deque[_Request] = deque()
        # The task committing batches while requests wait; None when idle.
        self._committer: asyncio.Task[None] | None = None
        # Every such task not yet finished: one may still be closing its connection after it stopped taking
        # requests. Kept so none is garbage-collected, and so `close` can wait for them.
        self._runs: set[asyncio.Task[None]] = set()

    async def store(self, incomings: list[Incoming]) -> int:
        """The webhooks' `Store`: how many of `incomings` were new (not redeliveries)."""
        return sum(event_id is not None for event_id in await self.add(incomings))

    async def add(self, incomings: list[Incoming]) -> list[int | None]:
        """Store `incomings` in the next batch; once committed, each one's inbox id, or None for a duplicate.

        Raises `IntakeFailed` when the batch's transaction failed.
        """
        request = _Request(incomings, asyncio.get_running_loop().create_future())
        self._waiting.append(request)
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_while_waiting())
            self._runs.add(self._committer)
            self._committer.add_done_callback(self._runs.discard)
        return await request.done

    async def close(self) -> None:
        """Wait for the runs of batches under way to end and give their connections back: at shutdown, before the
        engine is disposed (a run answers its requests before it closes its connection)."""
        await asyncio.gather(*self._runs)

    async def _commit_while_waiting(self) -> None:
        """Commit batches until nobody waits: what arrives during one commit forms the next batch.

        One connection serves the whole run of batches (no pool check-out, ping and reset per batch); a failed
        batch closes it, in case the failure was the connection's.
        """
        connection: AsyncConnection | None = None
        try:
            while self._waiting:
                batch = [self._waiting.popleft()]
                size = len(batch[0].incomings)
                while self._waiting and size + len(self._waiting[0].incomings) <= MAX_BATCH:
                    batch.append(self._waiting.popleft())
                    size += len(batch[-1].incomings)
                incomings = [incoming for request in batch for incoming in request.incomings]
                try:
                    connection = connection or await self._engine.connect()
                    ids = await _insert(connection, incomings)
                except Exception as error:
                    # The driver's message, not SQLAlchemy's, which would log the batch's parameters (buyers' texts).
                    reason = str(getattr(error, "orig", None) or type(error).__name__)
                    log.error("inbox batch failed: %s", reason, extra={"events": len(incomings)})
                    for request in batch:
                        if not request.done.done():
                            request.done.set_exception(IntakeFailed(f"inbox batch failed: {reason}"))
                    if connection is not None:
                        await connection.close()
                        connection = None
                    continue
                self._resolve(batch, incomings, ids)
        finally:
            self._committer = None
            if connection is not None:
                await connection.close()

    def _resolve(self, batch: list[_Request], incomings: list[Incoming], ids: list[int | None]) -> None:
        """After the commit: count, wake the inbox worker, and answer every request of the batch."""
        for incoming, event_id in zip(incomings, ids, strict=True):
            metrics.INBOUND.labels(incoming.channel, "new" if event_id is not None else "duplicate").inc()
        if any(event_id is not None for event_id in ids):
            self._on_new()
        start = 0
        for request in batch:
            end = start + len(request.incomings)
            if not request.done.done():  # a request cancelled meanwhile (client gone) is simply not answered
                request.done.set_result(ids[start:end])
            start = end


async def _insert(connection: AsyncConnection, incomings: list[Incoming]) -> list[int | None]:
    """One transaction: insert the events, skipping those already stored; the new ids in order, None for duplicates.

    A key repeated within the batch is stored once, for its first occurrence; later ones are duplicates. On
    PostgreSQL the commit also notifies `NEW_EVENTS` listeners (workers in other processes).
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for incoming in incomings:
        key = (incoming.channel, incoming.event_id)
        if key not in rows:
            rows[key] = {
                "channel": incoming.channel,
                "event_id": incoming.event_id,
                "chat_id": incoming.chat_id,
                "body": incoming_to_dict(incoming),
            }
    dialect = connection.dialect.name
    async with connection.begin():
        # A list of parameters is one multi-row INSERT per up to 1,000 rows ("insertmanyvalues"), compiled once.
        # https://docs.sqlalchemy.org/en/20/core/connections.html#engine-insertmanyvalues
        statement = _insert_skipping_duplicates(dialect)
        stored = {
            (channel, event_id): id_
            for id_, channel, event_id in await connection.execute(statement, list(rows.values()))
        }
        if stored and dialect == "postgresql":
            await connection.execute(_NOTIFY)
    # pop: a key's first occurrence takes the id, any later one in the batch is a duplicate.
    return [stored.pop((incoming.channel, incoming.event_id), None) for incoming in incomings]


@functools.cache
def _insert_skipping_duplicates(dialect: str) -> Insert:
    """`INSERT INTO inbound_events … ON CONFLICT (channel, event_id) DO NOTHING RETURNING id, channel, event_id` in
    the dialect's own construct, built once per dialect (building it took 1.5 % of the web process's CPU, py-spy).

    https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#insert-on-conflict-upsert
    https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#insert-on-conflict-upsert (RETURNING: SQLite ≥ 3.35)
    """
    keys = [InboundEvent.channel, InboundEvent.event_id]
    insert: Insert
    if dialect == "postgresql":
        insert = postgresql.insert(InboundEvent).on_conflict_do_nothing(index_elements=keys)
    else:
        insert = sqlite.insert(InboundEvent).on_conflict_do_nothing(index_elements=keys)
    return insert.returning(InboundEvent.id, InboundEvent.channel, InboundEvent.event_id)


@contextlib.asynccontextmanager
async def new_events_wake(engine: AsyncEngine, wake: Callable[[], None]) -> AsyncIterator[None]:
    """While inside, `wake` is called whenever any process commits new events: PostgreSQL `LISTEN` on one held
    connection, so a process that only runs workers starts a turn at once rather than at its next poll. SQLite has
    no notifications: there, and if the connection is lost, the workers' polling still finds the events.

    https://www.postgresql.org/docs/current/sql-notify.html
    https://magicstack.github.io/asyncpg/current/api/index.html#asyncpg.connection.Connection.add_listener
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as connection:
        listener = (await connection.get_raw_connection()).driver_connection
        assert listener is not None
        await listener.add_listener(NEW_EVENTS, _call(wake))
        yield


def _call(wake: Callable[[], None]) -> Callable[..., None]:
    """asyncpg's listener signature around a plain callback."""
    return lambda *_notification: wake()


# The app's intake (bot/app.py makes it with the database); the web chat stores its messages through it too.
INTAKE = web.AppKey("intake", Intake)
