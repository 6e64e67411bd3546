"""The service with one platform channel pointed at that platform's fake, workers running."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

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
