"""Alembic environment: runs on the connection `bot.db.migrate` hands over, or on HTX_DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from bot.models import Base
from bot.settings import Settings

target_metadata = Base.metadata


def run(connection: Connection) -> None:
    """Run the migrations on one connection."""
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    """Open the configured database (for the `alembic` command line) and migrate it."""
    from bot.db import make_engine

    engine = make_engine(Settings().database_url)
    async with engine.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is None:
    asyncio.run(run_from_settings())
else:
    run(connection)
