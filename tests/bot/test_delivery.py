"""The outbox gives a reply up by its age, not by a count of tries (a long platform outage loses nothing), sends
to several chats at once while keeping each chat's replies in order, and tells each send what the platform's window
rules need."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from bot.delivery import GIVE_UP_AFTER, Deliverer
from bot.models import Conversation, OutboundMessage
from catalog.models import utcnow
from channels.base import Delivery, SendError
from channels.types import Text, reply_to_dict
from orders.models import Customer


class FlakyPlatform:
    """A platform that answers 429 to the first `failures` sends, then takes every message."""

    name = "flaky"

    def __init__(self, failures: int = 0, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.sent: list[str] = []

    async def send(self, delivery: Delivery) -> None:
        if self.failures:
            self.failures -= 1
            raise SendError("429 Too Many Requests", permanent=self.permanent)
        assert isinstance(delivery.reply, Text)
        self.sent.append(delivery.reply.text)


async def queue(sessions, text: str, age: timedelta = timedelta(0)) -> int:
    async with sessions.begin() as session:
        row = OutboundMessage(channel="flaky", chat_id="c1", body=reply_to_dict(Text(text)))
        session.add(row)
        await session.flush()
        row.created_at = utcnow() - age
        return row.id


async def run_until_settled(sessions, deliverer: Deliverer, row_id: int) -> OutboundMessage:
    """Deliver, making each retry due at once (the backoff would otherwise wait); the row once it is settled."""
    for _ in range(100):
        await deliverer.deliver_next()
        async with sessions.begin() as session:
            await session.execute(update(OutboundMessage).values(next_attempt_at=utcnow()))
            row = await session.get(OutboundMessage, row_id)
            if row.status != "pending":
                return row
    raise AssertionError("the row was never settled")


async def test_a_reply_failing_for_a_passing_reason_is_tried_as_often_as_it_takes(sessions):
    platform = FlakyPlatform(failures=30)
    row_id = await queue(sessions, "xin chào")
    row = await run_until_settled(sessions, Deliverer(sessions, {"flaky": platform}), row_id)  # type: ignore[dict-item]
    assert (row.status, row.attempts) == ("sent", 31)
    assert platform.sent == ["xin chào"]


async def test_a_reply_still_failing_when_too_old_is_given_up(sessions):
    platform = FlakyPlatform(failures=1)
    row_id = await queue(sessions, "xin chào", age=GIVE_UP_AFTER)
    row = await run_until_settled(sessions, Deliverer(sessions, {"flaky": platform}), row_id)  # type: ignore[dict-item]
    assert (row.status, row.attempts) == ("failed", 1)
    assert platform.sent == []


async def test_a_permanent_failure_is_not_tried_again(sessions):
    platform = FlakyPlatform(failures=1, permanent=True)
    row_id = await queue(sessions, "xin chào")
    row = await run_until_settled(sessions, Deliverer(sessions, {"flaky": platform}), row_id)  # type: ignore[dict-item]
    assert (row.status, row.attempts) == ("failed", 1)


class GatedPlatform:
    """A platform whose sends wait at a gate: shows how many are under way at once, and what arrived, in order."""

    name = "flaky"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.under_way = 0
        self.peak = 0
        self.sent: list[tuple[str, str]] = []

    async def send(self, delivery: Delivery) -> None:
        self.under_way += 1
        self.peak = max(self.peak, self.under_way)
        await self.gate.wait()
        self.under_way -= 1
        assert isinstance(delivery.reply, Text)
        self.sent.append((delivery.chat_id, delivery.reply.text))


async def test_one_step_sends_to_several_chats_at_once_and_each_chat_in_order(sessions):
    async with sessions.begin() as session:
        for n in (1, 2):
            for chat in ("a", "b", "c"):
                session.add(OutboundMessage(channel="flaky", chat_id=chat, body=reply_to_dict(Text(f"{chat}{n}"))))
    platform = GatedPlatform()
    deliverer = Deliverer(sessions, {"flaky": platform}, batch=8)  # type: ignore[dict-item]

    step = asyncio.create_task(deliverer.deliver_next())
    await asyncio.sleep(0.1)
    assert platform.under_way == 3  # the first reply of each chat; the second ones wait behind them
    platform.gate.set()
    assert await step is True
    assert await deliverer.deliver_next() is True
    assert await deliverer.deliver_next() is False

    assert platform.peak == 3
    for chat in ("a", "b", "c"):
        assert [text for to, text in platform.sent if to == chat] == [f"{chat}1", f"{chat}2"]
    async with sessions() as session:
        assert set((await session.scalars(select(OutboundMessage.status))).all()) == {"sent"}


class RecordingPlatform:
    """Takes every message and keeps what it was given."""

    name = "flaky"

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    async def send(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)


async def test_a_send_knows_when_its_chat_last_wrote_for_the_platform_window_and_whether_it_is_a_notification(
    sessions,
):
    wrote = utcnow() - timedelta(hours=30)  # past Messenger's 24 h, within Zalo's 7 days
    async with sessions.begin() as session:
        buyer = Customer(channel="flaky", user_id="u1")
        session.add(buyer)
        await session.flush()
        session.add(
            Conversation(channel="flaky", chat_id="c1", customer_id=buyer.id, locale="vi", last_inbound_at=wrote)
        )
        session.add(OutboundMessage(channel="flaky", chat_id="c1", body=reply_to_dict(Text("trả lời"))))
        session.add(
            OutboundMessage(channel="flaky", chat_id="new", body=reply_to_dict(Text("tin đơn")), proactive=True)
        )
    platform = RecordingPlatform()
    assert await Deliverer(sessions, {"flaky": platform}, batch=8).deliver_next()  # type: ignore[dict-item]

    by_chat = {delivery.chat_id: delivery for delivery in platform.deliveries}
    assert abs(by_chat["c1"].last_user_message_at - wrote) < timedelta(seconds=1)
    assert not by_chat["c1"].proactive
    assert by_chat["new"].last_user_message_at is None  # a chat that never wrote: no conversation
    assert by_chat["new"].proactive


class FailingTransaction:
    """Sessions whose `fail_at`-th transaction is rolled back at its end, as if the database went away then."""

    def __init__(self, sessions, fail_at: int) -> None:
        self.sessions = sessions
        self.fail_at = fail_at
        self.begun = 0

    @contextlib.asynccontextmanager
    async def begin(self):
        self.begun += 1
        async with self.sessions.begin() as session:
            yield session
            if self.begun == self.fail_at:
                raise ConnectionError("connection lost")


def outbound_count(result: str) -> float:
    return REGISTRY.get_sample_value("htx_outbound_messages_total", {"channel": "flaky", "result": result}) or 0.0


async def test_a_settle_that_does_not_commit_counts_nothing_and_the_row_is_counted_once_when_sent(sessions):
    row_id = await queue(sessions, "xin chào")
    before = {result: outbound_count(result) for result in ("sent", "retry", "failed")}
    failing = FailingTransaction(sessions, fail_at=2)  # the lease commits, the settle of the failed send does not
    with pytest.raises(ConnectionError):
        await Deliverer(failing, {"flaky": FlakyPlatform(failures=1)}).deliver_next()  # type: ignore[arg-type,dict-item]
    assert {result: outbound_count(result) for result in before} == before
    async with sessions.begin() as session:
        await session.execute(update(OutboundMessage).values(lease_until=None))  # its lease ran out

    row = await run_until_settled(sessions, Deliverer(sessions, {"flaky": FlakyPlatform()}), row_id)  # type: ignore[dict-item]
    assert (row.status, row.attempts) == ("sent", 2)
    assert {result: outbound_count(result) - before[result] for result in before} == {
        "sent": 1,
        "retry": 0,
        "failed": 0,
    }
