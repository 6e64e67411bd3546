"""Once a turn is committed, its caller hears what the turn left for other workers: the channels whose outboxes
now hold replies, and whether order events wait to be announced (only then is the announcer woken)."""

from __future__ import annotations

from bot.app import create_app
from bot.intake import Intake
from bot.keys import AFTER_TURN
from bot.order_news import announce_next
from bot.turns import Written, handle_next
from catalog.live_index import LiveIndex
from channels.types import Incoming
from tests.conftest import settings_for_tests
from tests.e2e.conftest import FULL_ORDER


async def test_a_greeting_leaves_replies_and_only_the_confirmed_order_leaves_news(engine, sessions):
    intake, index, settings = Intake(engine), LiveIndex(), settings_for_tests()
    written: list[Written] = []
    for n, text in enumerate(["xin chào", FULL_ORDER, "tiền mặt", "đồng ý"]):
        message = Incoming(channel="zalo", chat_id="buyer-1", user_id="buyer-1", event_id=f"e{n}", text=text)
        await intake.store([message])
        assert await handle_next(sessions, index, settings, after=written.append)
    assert not await handle_next(sessions, index, settings, after=written.append)  # nothing left: nothing heard

    assert [w.channels for w in written] == [frozenset({"zalo"})] * 4
    assert [w.order_news for w in written] == [False, False, False, True]
    assert await announce_next(sessions)  # the news the last turn reported is there to announce


async def test_the_web_chat_reports_its_turns_to_the_same_wake_ups(aiohttp_client, engine):
    app = create_app(settings_for_tests(workers=0), engine=engine)  # no worker loop to take the turns instead
    heard: list[Written] = []
    app[AFTER_TURN] = heard.append
    client = await aiohttp_client(app)
    for text in ["xin chào", FULL_ORDER, "tiền mặt", "đồng ý"]:
        assert (await client.post("/web/chat", json={"session": "s1", "text": text})).status == 200
    assert [w.order_news for w in heard] == [False, False, False, True]
