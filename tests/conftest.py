"""Shared fixtures: a migrated database with the demo catalogue per test (SQLite, or PostgreSQL when
HTX_TEST_DATABASE_URL is set), the app on a test server, and a helper to chat with it."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_app, load_demo_if_empty
from bot.db import make_engine, make_sessionmaker, migrate
from bot.models import Base
from bot.settings import Settings

SHARED_POSTGRES_URL = os.environ.get("HTX_TEST_DATABASE_URL")


def _database_of_this_worker(url: str | None) -> str | None:
    """Under pytest-xdist (`make test` runs one worker per core) each worker has a database of its own,
    `<name>_<worker>` on the same server, made on first use."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


POSTGRES_URL = _database_of_this_worker(SHARED_POSTGRES_URL)
ADMIN_TOKEN = "test-admin-token"

Chat = Callable[..., Awaitable[list[dict[str, Any]]]]


# The demo catalogue as loaded once per run, copied back before each test on PostgreSQL (SQLite copies a file).
SNAPSHOT = "demo_snapshot"
# Deleting rows takes a tenth of TRUNCATE's time on tables this small (TRUNCATE makes new files for every table and
# index); every `TRUNCATE_EVERY`th reset truncates, so deleted rows do not pile up where autovacuum is off.
TRUNCATE_EVERY = 100
_resets = itertools.count()


async def _prepare_postgres(url: str) -> None:
    """Migrate, load the demo, keep a copy of it and a `restore(truncate)` function that puts it back in one call."""
    if url != SHARED_POSTGRES_URL:
        await _create_database(url)
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA IF EXISTS {SNAPSHOT} CASCADE"))
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await _migrate_with_demo(engine)
    tables = [table.name for table in Base.metadata.sorted_tables]
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {SNAPSHOT}"))
        for table in tables:
            await connection.execute(text(f"CREATE TABLE {SNAPSHOT}.{table} AS TABLE public.{table}"))
        sequences = (
            await connection.execute(
                text(
                    "SELECT sequencename, coalesce(last_value, 1), last_value IS NOT NULL FROM pg_sequences "
                    "WHERE schemaname = 'public'"
                )
            )
        ).all()
        delete = "".join(f"DELETE FROM public.{table}; " for table in reversed(tables))
        copy = "".join(f"INSERT INTO public.{table} SELECT * FROM {SNAPSHOT}.{table}; " for table in tables)
        rewind = "".join(f"PERFORM setval('public.{name}', {value}, {called}); " for name, value, called in sequences)
        await connection.execute(
            text(
                f"CREATE FUNCTION {SNAPSHOT}.restore(truncate boolean) RETURNS void LANGUAGE plpgsql AS $$ BEGIN "
                f"IF truncate THEN TRUNCATE {', '.join(tables)}; ELSE {delete}END IF; {copy}{rewind}END $$"
            )
        )
    await engine.dispose()


async def _create_database(url: str) -> None:
    """Create the database of `url` on its server unless it exists, connected to the shared test database."""
    assert SHARED_POSTGRES_URL
    name = make_url(url).database
    server = make_engine(SHARED_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        exists = await connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
        if not exists:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await server.dispose()


async def _sqlite_template(path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await _migrate_with_demo(engine)
    await engine.dispose()


async def _migrate_with_demo(engine: AsyncEngine) -> None:
    await migrate(engine)
    await load_demo_if_empty(make_sessionmaker(engine))


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
        truncate = next(_resets) % TRUNCATE_EVERY == 0
        async with engine.begin() as connection:
            await connection.execute(text(f"SELECT {SNAPSHOT}.restore(:truncate)"), {"truncate": truncate})
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
