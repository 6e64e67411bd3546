"""Zalo's single-use refresh token is spent once, however many senders find the access token expired at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.tokens import DatabaseTokenStore
from channels.base import Delivery
from channels.types import Text
from channels.zalo import ZaloChannel
from tests.fakes.zalo import FakeZalo


async def test_two_senders_sharing_the_database_refresh_an_expiring_token_once(sessions):
    async with FakeZalo(oauth_delay=0.2) as zalo:

        def channel() -> ZaloChannel:
            # Each channel stands for one process: its own store object, the same database.
            return ZaloChannel(
                app_id=zalo.app_id,
                app_secret=zalo.app_secret,
                oa_secret_key=zalo.oa_secret_key,
                token_store=DatabaseTokenStore(lambda: sessions, "zalo"),
                initial=zalo.pair(expires_at=datetime.now(UTC) + timedelta(minutes=1)),
                api_base_url=zalo.api_base_url,
                oauth_url=zalo.oauth_url,
            )

        first, second = channel(), channel()
        try:
            await asyncio.gather(
                *(
                    sender.send(Delivery(chat_id="2468013579111213", reply=Text(f"tin {n}")))
                    for n, sender in enumerate([first, second, first, second])
                )
            )
        finally:
            await first.close()
            await second.close()
        assert (zalo.refreshes, zalo.refused_refreshes) == (1, 0)
        assert len(zalo.texts) == 4
        stored = await DatabaseTokenStore(lambda: sessions, "zalo").current()
        assert stored is not None and stored.refresh_token == zalo.refresh_token
