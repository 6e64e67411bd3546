"""A fake partner endpoint on port 0 that receives our signed order webhooks and records exactly what arrived.

async with FakePartner() as partner:
    partner.answer(500, 500)        # the next two deliveries fail, then 200 again
    partner.answer(429, retry_after="7")
    partner.stall(30)               # every request hangs 30 s (until released or closed) before answering 200
    partner.release()               # ... the hanging ones answer now, the next ones at once
    ...
    [hit] = partner.received        # raw body bytes and headers, as the partner's server saw them
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.server import FakeServer

PATH = "/htx-events"


@dataclass(frozen=True)
class Received:
    """One request the fake received: the raw body, its headers, the status it answered and when (monotonic)."""

    body: bytes
    headers: dict[str, str]
    status: int
    at: float


class FakePartner(FakeServer):
    """The fake endpoint. `received` lists every request, failed answers included, in arrival order."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.arrived = asyncio.Event()  # set whenever a request arrives (even one that then stalls)
        self._answers: deque[tuple[int, str | None]] = deque()
        self._stall: float = 0.0
        self._released = asyncio.Event()

    @property
    def url(self) -> str:
        """The webhook URL to register for a partner."""
        return f"http://127.0.0.1:{self.port}{PATH}"

    def answer(self, *statuses: int, retry_after: str | None = None) -> None:
        """Answer the next requests with these statuses (then 200 again), with a Retry-After header if given."""
        self._answers.extend((status, retry_after) for status in statuses)

    def stall(self, seconds: float) -> None:
        """Make every request wait this long (or until `release()` or `close()`) before answering; 0 stops stalling."""
        self._stall = seconds
        self._released.clear()

    def release(self) -> None:
        """Stop stalling: the requests waiting now answer at once, and later ones straight away."""
        self._stall = 0.0
        self._released.set()

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until at least `count` requests have been answered; returns them."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.received)} of {count} webhook requests arrived")
            await asyncio.sleep(0.02)
        return self.received

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.arrived.set()
        if self._stall:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), timeout=self._stall)
        status, retry_after = self._answers.popleft() if self._answers else (200, None)
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.received.append(Received(body, dict(request.headers), status, time.monotonic()))
        return web.json_response({"ok": status < 300}, status=status, headers=headers)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(PATH, self._handle)

    async def close(self) -> None:
        self.release()  # stalled requests answer now
        await super().close()
