"""The database engine, sessions and migrations, on SQLite (default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Seconds to open a PostgreSQL connection before a request fails with 503 (asyncpg waits 60). A stopped database
# refuses at once; this bounds a host that does not answer. 3 s proved too short on a busy 2-core machine, where a
# CI run once waited that long for a new backend and refused a healthy request.
CONNECT_TIMEOUT = 10.0
# Connections a process keeps open (PostgreSQL). A workers process runs about a dozen loops at once (inbox, order
# news, sweep, two per outbox and for partner webhooks); with SQLAlchemy's default of 5 kept, the others opened a
# new backend and closed it again for every transaction (about 200 connections in a 35 s bench). The overflow
# absorbs bursts; 4 processes stay under PostgreSQL's default max_connections (100).
POOL_SIZE = 15
MAX_OVERFLOW = 5


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite every transaction is `BEGIN IMMEDIATE` and waits for the write lock.

    SQLite ignores `SELECT ... FOR UPDATE`; deferred transactions that read then write oversell under
    concurrency (DESIGN §6). The recipe is SQLAlchemy's:
    https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    """
    if not url.startswith("sqlite"):
        options = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW, **kwargs}  # a caller may size its own
        return create_async_engine(url, pool_pre_ping=True, connect_args={"timeout": CONNECT_TIMEOUT}, **options)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def unreachable(error: BaseException | None) -> bool:
    """Whether `error` means the database cannot be reached (stopped, restarting, network lost), not a bug.

    asyncpg raises `ConnectionError` (refused) or `TimeoutError` when connecting; SQLAlchemy marks a connection
    lost mid-use:
    https://docs.sqlalchemy.org/en/20/core/pooling.html#dealing-with-disconnects
    """
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or unreachable(error.orig)
    return isinstance(error, ConnectionError | TimeoutError)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """Alembic's configuration, built in code so the installed package carries its migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration, sharing the engine's connection with Alembic.

    https://alembic.sqlalchemy.org/en/latest/cookbook.html#using-asyncio-with-alembic
    """

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    # Not `engine.begin()`: Alembic begins the transaction itself, so a migration can step out of it (an index
    # built concurrently on PostgreSQL).
    async with engine.connect() as connection:
        await connection.run_sync(upgrade)
        await connection.commit()
