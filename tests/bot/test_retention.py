"""Handled messages older than HTX_KEEP_MESSAGES_DAYS leave the inbox and outbox, in batches; pending ones, recent
ones and an event whose reply is still kept stay, and a running process prunes by itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.models import InboundEvent, OutboundMessage
from bot.retention import prune_messages
from catalog.models import utcnow
from channels.types import Text, reply_to_dict
from tests.conftest import POSTGRES_URL, settings_for_tests

KEEP = timedelta(days=30)
OLD = utcnow() - KEEP - timedelta(hours=1)


async def add_event(sessions, name: str, status: str, received_at) -> int:
    async with sessions.begin() as session:
        event = InboundEvent(
            channel="telegram", event_id=name, chat_id="c1", body={}, status=status, received_at=received_at
        )
        session.add(event)
        await session.flush()
        return event.id


async def add_reply(sessions, text: str, status: str, created_at, inbound_id: int | None = None) -> None:
    async with sessions.begin() as session:
        session.add(
            OutboundMessage(
                channel="telegram",
                chat_id="c1",
                body=reply_to_dict(Text(text)),
                status=status,
                created_at=created_at,
                inbound_id=inbound_id,
            )
        )


async def left(sessions) -> tuple[list[str], list[str]]:
    """The event ids and reply texts still stored."""
    async with sessions() as session:
        events = (await session.scalars(select(InboundEvent.event_id).order_by(InboundEvent.id))).all()
        bodies = (await session.scalars(select(OutboundMessage.body).order_by(OutboundMessage.id))).all()
    return list(events), [body["text"] for body in bodies]


async def test_old_handled_messages_go_in_batches_and_everything_still_needed_stays(sessions):
    answered = await add_event(sessions, "old answered", "done", OLD)
    await add_reply(sessions, "old sent reply", "sent", OLD, inbound_id=answered)
    await add_event(sessions, "old given up", "failed", OLD)
    await add_event(sessions, "old still pending", "pending", OLD)
    await add_event(sessions, "recent", "done", utcnow())
    waiting = await add_event(sessions, "old, reply not sent", "done", OLD)
    await add_reply(sessions, "old reply still pending", "pending", OLD, inbound_id=waiting)
    await add_reply(sessions, "old failed notification", "failed", OLD)
    await add_reply(sessions, "recent notification", "sent", utcnow())

    rounds = []
    while deleted := await prune_messages(sessions, KEEP, batch=1):
        rounds.append(deleted)
    assert rounds == [2, 2]  # one reply and one event a round (batch=1), the answered event once its reply is gone
    assert await left(sessions) == (
        ["old still pending", "recent", "old, reply not sent"],
        ["old reply still pending", "recent notification"],
    )


async def test_a_running_process_prunes_unless_told_to_keep_everything(aiohttp_client, engine, sessions):
    await add_event(sessions, "old answered", "done", OLD)
    await aiohttp_client(create_app(settings_for_tests(keep_messages_days=0), engine=engine))
    await asyncio.sleep(0.5)
    assert (await left(sessions))[0] == ["old answered"]

    await aiohttp_client(create_app(settings_for_tests(), engine=engine))
    for _ in range(100):
        if not (await left(sessions))[0]:
            break
        await asyncio.sleep(0.05)
    assert await left(sessions) == ([], [])


@pytest.mark.skipif(not POSTGRES_URL, reason="concurrent pruning needs PostgreSQL (SQLite serialises writers)")
async def test_processes_pruning_at_once_delete_everything_and_count_each_row_once(sessions):
    async with sessions.begin() as session:
        for n in range(400):
            event = InboundEvent(channel="telegram", event_id=f"e{n}", chat_id=f"c{n}", body={}, status="done")
            event.received_at = OLD
            session.add(event)
            await session.flush()
            session.add(
                OutboundMessage(
                    channel="telegram",
                    chat_id=f"c{n}",
                    body=reply_to_dict(Text("ok")),
                    status="sent",
                    created_at=OLD,
                    inbound_id=event.id,
                )
            )

    async def prune_until_done() -> int:
        total = 0
        while deleted := await prune_messages(sessions, KEEP, batch=25):
            total += deleted
        return total

    totals = await asyncio.gather(*(prune_until_done() for _ in range(4)))
    assert sum(totals) == 800
    assert await left(sessions) == ([], [])
