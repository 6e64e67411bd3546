"""Replayed Zalo events: correctly signed but older than the window, they are acknowledged (200, so Zalo does not
mark the webhook inactive) and dropped; fresh ones, and Zalo's own retries within the window, are stored."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.models import InboundEvent
from tests.fakes.zalo import text_event
from tests.fuzz.conftest import Service, Start, zalo_headers
from tests.fuzz.strategies import dumps

MINUTE_MS = 60_000


async def deliver(service: Service, event: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    body = dumps({**event, "app_id": service.zalo_app_id})
    response = await service.client.post("/webhooks/zalo", data=body, headers=headers or zalo_headers(body, service))
    return response.status


async def inbox(service: Service) -> int:
    async with service.sessions() as session:
        return await session.scalar(select(func.count()).select_from(InboundEvent)) or 0


def sent_minutes_ago(minutes: float, text: str = "mua cà chua") -> dict[str, Any]:
    return {**text_event("8000000000000000001", text), "timestamp": str(int(time.time() * 1000 - minutes * MINUTE_MS))}


@pytest.mark.parametrize("minutes", [121, 60 * 24, 60 * 24 * 365])
async def test_a_replayed_event_older_than_the_window_is_acknowledged_and_dropped(service: Service, minutes: int):
    assert await deliver(service, sent_minutes_ago(minutes)) == 200
    assert await inbox(service) == 0


@pytest.mark.parametrize("timestamp", ["", "soon", "-5", "1.5e12", "１７８７２０９８１７２２５"])
async def test_an_event_whose_timestamp_is_no_epoch_is_dropped(service: Service, timestamp: str):
    assert await deliver(service, {**sent_minutes_ago(0), "timestamp": timestamp}) in (200, 401)
    assert await inbox(service) == 0


@pytest.mark.parametrize("minutes", [0, 1, 110, -3])
async def test_a_fresh_event_or_a_zalo_retry_within_the_window_is_stored(service: Service, minutes: int):
    # Zalo's last retry comes about 1 h 50 min after the first try (platforms.md §1.2); -3: our clock is behind.
    assert await deliver(service, sent_minutes_ago(minutes)) == 200
    assert await inbox(service) == 1


@pytest.mark.parametrize(("minutes", "stored"), [(10, 0), (0, 1)])
async def test_the_window_is_a_setting_and_0_turns_it_off(start: Start, minutes: int, stored: int):
    service = await start(zalo_max_event_age_minutes=minutes)
    assert await deliver(service, sent_minutes_ago(30)) == 200
    assert await inbox(service) == stored
