"""Platform tokens kept in the database, so every process uses and refreshes the same pair (Zalo)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import ChannelToken
from channels.zalo import TokenPair, TokenRefresh


class DatabaseTokenStore:
    """A `channels.zalo.TokenStore` on the `channel_tokens` table.

    `refreshing()` holds a lock for the whole refresh (an advisory lock on PostgreSQL; SQLite's `BEGIN IMMEDIATE`
    write lock), so two processes never spend the same single-use refresh token.
    """

    def __init__(self, sessions: Callable[[], async_sessionmaker[AsyncSession]], channel: str) -> None:
        """`sessions` is called at use, so the store can be built before the app has opened the database."""
        self.sessions = sessions
        self.channel = channel

    async def current(self) -> TokenPair | None:
        """The stored pair, or None before the first refresh."""
        async with self.sessions()() as session:
            row = await session.get(ChannelToken, self.channel)
            return _pair(row)

    @asynccontextmanager
    async def refreshing(self) -> AsyncIterator[TokenRefresh]:
        """Hold the lock for one refresh; the new pair is committed when the block ends without error.

        The row may not exist yet (the first refresh), and `FOR UPDATE` locks no missing row, so PostgreSQL
        takes a transaction-scoped advisory lock named after the channel; SQLite's write lock covers it.
        """
        async with self.sessions().begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                key = zlib.crc32(f"channel_tokens:{self.channel}".encode())
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            query = select(ChannelToken).where(ChannelToken.channel == self.channel).with_for_update()
            yield _Refresh(session, self.channel, await session.scalar(query))


class _Refresh:
    def __init__(self, session: AsyncSession, channel: str, row: ChannelToken | None) -> None:
        self._session = session
        self._channel = channel
        self._row = row

    @property
    def pair(self) -> TokenPair | None:
        return _pair(self._row)

    async def save(self, pair: TokenPair) -> None:
        if self._row is None:
            self._row = ChannelToken(channel=self._channel)
            self._session.add(self._row)
        self._row.access_token = pair.access_token
        self._row.refresh_token = pair.refresh_token
        self._row.expires_at = pair.expires_at
        await self._session.flush()


def _pair(row: ChannelToken | None) -> TokenPair | None:
    return TokenPair(row.access_token, row.refresh_token, row.expires_at) if row else None
