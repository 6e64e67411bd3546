"""The inbox's group commit: concurrent requests share transactions, each event is stored once, failures fail all."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.intake import Intake, IntakeFailed, new_events_wake
from bot.models import InboundEvent
from channels.types import Incoming
from tests.conftest import POSTGRES_URL


def message(n: int, channel: str = "telegram") -> Incoming:
    return Incoming(channel=channel, chat_id=f"chat-{n % 7}", user_id=f"user-{n}", event_id=f"ev-{n}", text="xin chào")


@pytest.fixture
def commits(engine: AsyncEngine) -> Iterator[list[int]]:
    """One entry per transaction committed on the engine."""
    committed: list[int] = []

    def count(_connection: Any) -> None:
        committed.append(1)

    event.listen(engine.sync_engine, "commit", count)
    yield committed
    event.remove(engine.sync_engine, "commit", count)


async def stored(sessions: Any) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(select(InboundEvent.channel, InboundEvent.event_id).order_by(InboundEvent.id))
        return [(channel, event_id) for channel, event_id in rows]


async def test_many_concurrent_stores_share_few_transactions_and_store_each_event_once(engine, sessions, commits):
    woken: list[int] = []
    intake = Intake(engine, on_new=lambda: woken.append(1))

    news = await asyncio.gather(*(intake.store([message(n)]) for n in range(300)))

    assert news == [1] * 300
    assert sorted(await stored(sessions)) == sorted(("telegram", f"ev-{n}") for n in range(300))
    assert 1 <= len(commits) < 300 / 10
    assert len(woken) == len(commits)


async def test_events_of_one_request_keep_their_order_and_get_their_ids(engine, sessions):
    intake = Intake(engine)

    ids = await intake.add([message(1), message(2), message(3)])

    assert None not in ids
    assert ids == sorted(ids)
    async with sessions() as session:
        events = {e.id: e.event_id for e in await session.scalars(select(InboundEvent))}
    assert [events[i] for i in ids if i is not None] == ["ev-1", "ev-2", "ev-3"]


async def test_duplicates_within_a_batch_and_across_batches_are_reported_as_duplicates(engine, sessions):
    intake = Intake(engine)

    # One request repeating an event, and two concurrent requests carrying the same one: all in one batch.
    first, second, third = await asyncio.gather(
        intake.add([message(1), message(1)]), intake.add([message(2)]), intake.add([message(2), message(3)])
    )
    later = await intake.add([message(1), message(3), message(4), message(1, channel="zalo")])

    assert first[0] is not None and first[1] is None
    assert second[0] is not None and third[0] is None and third[1] is not None
    assert later[:2] == [None, None] and None not in later[2:]
    assert sorted(await stored(sessions)) == [
        ("telegram", "ev-1"),
        ("telegram", "ev-2"),
        ("telegram", "ev-3"),
        ("telegram", "ev-4"),
        ("zalo", "ev-1"),
    ]


async def test_a_failing_commit_fails_every_request_of_its_batch_and_stores_none_of_it(engine, sessions):
    intake = Intake(engine)
    broken = dataclasses.replace(message(2), chat_id=None)  # NOT NULL violated: the whole transaction fails

    results = await asyncio.gather(
        intake.store([message(1)]), intake.store([broken]), intake.store([message(3)]), return_exceptions=True
    )

    assert [type(result) for result in results] == [IntakeFailed] * 3
    assert await stored(sessions) == []
    assert await intake.store([message(1)]) == 1  # the next batch works again: the platform's redelivery lands
    assert await stored(sessions) == [("telegram", "ev-1")]


@pytest.mark.skipif(not POSTGRES_URL, reason="notifications are PostgreSQL's")
async def test_a_commit_of_new_events_wakes_listeners_in_other_processes(engine):
    woken = asyncio.Event()
    async with new_events_wake(engine, woken.set):
        await Intake(engine).store([message(1)])
        await asyncio.wait_for(woken.wait(), timeout=5)


async def test_closing_waits_for_the_batch_under_way_to_give_its_connection_back(engine, monkeypatch):
    give_back = AsyncConnection.close

    async def slowly(connection: AsyncConnection) -> None:
        await asyncio.sleep(0.05)
        await give_back(connection)

    monkeypatch.setattr(AsyncConnection, "close", slowly)
    intake = Intake(engine)
    assert await intake.add([message(1)]) == [1]
    assert engine.pool.checkedout() == 1  # answered, while the run of batches is still closing its connection
    await intake.close()
    assert engine.pool.checkedout() == 0
    await intake.close()  # idle: nothing to wait for
