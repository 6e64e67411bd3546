"""Background workers of one process: inbox turns and outbox deliveries, woken at once or polling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Worker:
    """Runs `step` until it reports nothing to do, then sleeps until woken or until `idle` seconds pass.

    Other processes sharing the database are seen by polling; this process's own new work wakes it at once.
    """

    def __init__(self, name: str, step: Callable[[], Awaitable[bool]], idle: float = 1.0) -> None:
        self.name = name
        self.step = step
        self.idle = idle
        self.wakeup = asyncio.Event()

    def wake(self) -> None:
        """There is new work (an event stored, a reply written)."""
        self.wakeup.set()

    async def run(self) -> None:
        """Loop until cancelled; an unexpected error is logged and the loop goes on after a pause."""
        while True:
            self.wakeup.clear()  # before the work: a wake-up during it makes the wait below return at once
            try:
                while await self.step():
                    await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker step failed", extra={"worker": self.name})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.idle)
