"""Helpers for the fault tests: real `htx serve` processes, a private PostgreSQL to stop, what reached a platform."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import OutboundMessage
from channels.telegram import render
from channels.types import Reply, reply_from_dict
from tests.e2e.conftest import TELEGRAM_SECRET, free_port
from tests.fakes.telegram import FakeTelegram

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SENDS = ("sendMessage", "sendPhoto")

# What one platform call shows the buyer: its kind and its content (for Telegram: the method and the text or caption).
Shown = tuple[str, str]
# Reply → the platform calls that show it to this chat, as `Shown`.
Renders = Callable[[Reply, str], list[Shown]]
T = TypeVar("T")


async def stop(service: asyncio.subprocess.Process) -> None:
    """Terminate a service process (if still running) and reap it."""
    if service.returncode is None:
        service.terminate()
    await service.wait()


async def count(sessions: async_sessionmaker[AsyncSession], *where: ColumnElement[bool]) -> int:
    """How many rows match `where` (whose columns name the table: the outbox, the inbox)."""
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).where(*where)) or 0)


async def until(check: Callable[[], Awaitable[bool]], timeout: float, failure: str) -> None:
    """Poll `check` (a database query, say) until it is true; fail the test with `failure` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.1)


def webhook_url(port: int) -> str:
    """The Telegram webhook of the service on `port`."""
    return f"http://127.0.0.1:{port}/webhooks/telegram"


async def post_update(telegram: FakeTelegram, port: int, update: dict[str, Any]) -> int | None:
    """Deliver one update; its status, or None when the service could not be reached (Telegram will retry)."""
    try:
        return await telegram.deliver(update, url=webhook_url(port), secret=TELEGRAM_SECRET)
    except aiohttp.ClientError:
        return None


def shown_at_the_fake(telegram: FakeTelegram) -> dict[str, list[Shown]]:
    """Per chat, what the buyer saw, in the order the fake received it."""
    shown: dict[str, list[Shown]] = defaultdict(list)
    for call in telegram.calls:
        if call.method in SENDS and call.status == 200:
            shown[str(call.params["chat_id"])].append(_shown(call.method, call.params))
    return shown


def telegram_calls(reply: Reply, _chat_id: str) -> list[Shown]:
    """The Bot API calls that show one reply."""
    return [_shown(call["method"], call) for call in render(reply)]


async def shown_by_the_outbox(
    sessions: async_sessionmaker[AsyncSession], status: str, renders: Renders = telegram_calls
) -> dict[str, list[list[Shown]]]:
    """Per chat, each outbox row with this status (in id order) as the platform calls that show it."""
    query = select(OutboundMessage).where(OutboundMessage.status == status).order_by(OutboundMessage.id)
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    shown: dict[str, list[list[Shown]]] = defaultdict(list)
    for row in rows:
        shown[row.chat_id].append(renders(reply_from_dict(row.body), row.chat_id))
    return shown


def _shown(method: str, params: dict[str, Any]) -> Shown:
    return method, str(params.get("text") or params.get("caption") or "")


def delivered_once_in_order(seen: list[T], rows: list[list[T]], resendable: set[int]) -> bool:
    """Whether `seen` is each row's calls once, in row order; a row whose index is in `resendable` (its send was
    under way when its process died, or timed out on our side) may first show any prefix of its calls a second time."""
    if not rows:
        return not seen
    calls, rest = rows[0], rows[1:]
    shifted = {index - 1 for index in resendable if index}
    repeats = range(len(calls) + 1) if 0 in resendable else range(1)
    for repeat in repeats:
        segment = calls[:repeat] + calls
        if seen[: len(segment)] == segment and delivered_once_in_order(seen[len(segment) :], rest, shifted):
            return True
    return False


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    """A running fake of the Telegram Bot API."""
    async with FakeTelegram() as fake:
        yield fake


@dataclass(frozen=True)
class PrivatePostgres:
    """A PostgreSQL server of the test's own, which it may stop and start without disturbing anyone else's."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its `postgres` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *arguments: str, check: bool = True) -> None:
        """Run `pg_ctl` on this server's data directory."""
        _as_postgres("pg_ctl", "-D", str(self.directory / "data"), *arguments, check=check)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-o", options, "-l", str(self.directory / "server.log"), "-w", "start")

    def stop(self) -> None:
        """Stop the server the hard way, as a crash or a lost network would: open connections simply break."""
        self.pg_ctl("-m", "immediate", "-w", "stop")


def _as_postgres(program: str, *arguments: str, check: bool = True) -> None:
    # initdb and postgres refuse to run as root: run them as the postgres OS user then.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, str(PG_BIN / program), *arguments], check=check, capture_output=True, timeout=60)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh PostgreSQL cluster in a temporary directory on a free port, running; removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"needs PostgreSQL's server binaries in {PG_BIN}")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("needs runuser to run PostgreSQL as the postgres user")
    directory = Path(tempfile.mkdtemp(prefix="htx-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    server = PrivatePostgres(directory, free_port())
    _as_postgres("initdb", "-D", str(directory / "data"), "-U", "postgres", "-A", "trust")
    server.start()
    try:
        yield server
    finally:
        server.pg_ctl("-m", "immediate", "stop", check=False)  # already stopped when the test failed meanwhile
        shutil.rmtree(directory, ignore_errors=True)
