"""Shared fixtures: a migrated database with the demo catalogue per test (SQLite, or PostgreSQL when
HTX_TEST_DATABASE_URL is set), the app on a test server, and a helper to chat with it."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_app, load_demo_if_empty
from bot.db import make_engine, make_sessionmaker, migrate
from bot.models import Base
from bot.settings import Settings

POSTGRES_URL = os.environ.get("HTX_TEST_DATABASE_URL")
ADMIN_TOKEN = "test-admin-token"

Chat = Callable[..., Awaitable[list[dict[str, Any]]]]


async def _prepare_postgres(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await migrate(engine)
    await engine.dispose()


async def _sqlite_template(path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await load_demo_if_empty(make_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Migrate once per run: a SQLite file to copy for each test, or the PostgreSQL schema."""
    import asyncio

    if POSTGRES_URL:
        asyncio.run(_prepare_postgres(POSTGRES_URL))
        return None
    path = tmp_path_factory.mktemp("template") / "htx.db"
    asyncio.run(_sqlite_template(path))
    return path


@pytest.fixture
async def engine(database_template: Path | None, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh database holding only the demo catalogue."""
    if POSTGRES_URL:
        engine = make_engine(POSTGRES_URL)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await load_demo_if_empty(make_sessionmaker(engine))
    else:
        assert database_template is not None
        copy = tmp_path / "htx.db"
        shutil.copy(database_template, copy)
        engine = make_engine(f"sqlite+aiosqlite:///{copy}")
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test database."""
    return make_sessionmaker(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session for domain tests, rolled back at the end."""
    async with sessions() as session:
        yield session
        await session.rollback()


def settings_for_tests(**overrides: Any) -> Settings:
    """Settings for tests, ignoring any developer `.env`."""
    # No daily summary unless a test asks: it would arrive at whatever hour the suite runs.
    values: dict[str, Any] = {"admin_token": ADMIN_TOKEN, "load_demo": False, "daily_summary_hour": None, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def client(aiohttp_client: Any, engine: AsyncEngine) -> TestClient:
    """The whole app on a test server, on the test database."""
    return await aiohttp_client(create_app(settings_for_tests(), engine=engine))


@pytest.fixture
def chat(client: TestClient) -> Chat:
    """Send one web chat message (text or button payload) and return the replies, asserting a 200."""

    async def send(session: str, text: str | None = None, payload: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, str] = {"session": session}
        if text is not None:
            body["text"] = text
        if payload is not None:
            body["payload"] = payload
        response = await client.post("/web/chat", json=body)
        assert response.status == 200, await response.text()
        replies: list[dict[str, Any]] = (await response.json())["replies"]
        return replies

    return send


def joined(replies: list[dict[str, Any]]) -> str:
    """All reply texts as one string, for assertions on what the buyer reads."""
    return "\n".join(r["text"] for r in replies)


def payloads(replies: list[dict[str, Any]]) -> list[str]:
    """Every button payload offered in the replies."""
    return [b["payload"] for r in replies for b in r["buttons"]]
