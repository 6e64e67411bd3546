"""The service with one platform channel pointed at that platform's fake, workers running."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.settings import Settings
from tests.conftest import settings_for_tests
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.fakes.zalo import FakeZalo

TELEGRAM_SECRET = "e2e-telegram-secret"
CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")
FULL_ORDER = "mua 3kg thanh long ruột đỏ hàm đức, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết"


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy (background workers deliver asynchronously)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
    return result


@pytest.fixture
async def telegram() -> Any:
    """A running fake of the Telegram Bot API."""
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def zalo() -> Any:
    """A running fake of the Zalo OA API and OAuth server."""
    async with FakeZalo() as fake:
        yield fake


def telegram_settings(fake: FakeTelegram, **overrides: Any) -> Settings:
    """Test settings with the Telegram channel on, pointed at the fake."""
    return settings_for_tests(
        telegram_bot_token=TOKEN,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base_url=fake.base_url,
        **overrides,
    )


def zalo_settings(fake: FakeZalo, **overrides: Any) -> Settings:
    """Test settings with the Zalo channel on, pointed at the fake."""
    return settings_for_tests(
        zalo_app_id=fake.app_id,
        zalo_oa_secret_key=fake.oa_secret_key,
        zalo_app_secret=fake.app_secret,
        zalo_access_token=fake.access_token,
        zalo_refresh_token=fake.refresh_token,
        zalo_api_base_url=fake.api_base_url,
        zalo_oauth_url=fake.oauth_url,
        **overrides,
    )


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_service(port: int, database_url: str, telegram: FakeTelegram) -> asyncio.subprocess.Process:
    """`htx serve` on `port` as a real process, with the Telegram channel pointed at the fake (secret
    `TELEGRAM_SECRET`), as in production."""
    env = {
        **os.environ,
        "HTX_DATABASE_URL": database_url,
        "HTX_LOAD_DEMO": "false",
        "HTX_LOG_LEVEL": "WARNING",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def healthy(http: aiohttp.ClientSession, port: int) -> bool:
    """Does the service on `port` answer `/healthz` with 200?"""
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def wait_healthy(http: aiohttp.ClientSession, port: int, timeout: float = 30.0) -> None:
    """Return once `/healthz` answers 200; fail the test if it does not in time."""
    for _ in range(int(timeout / 0.1)):
        if await healthy(http, port):
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"htx serve on port {port} did not become healthy")
