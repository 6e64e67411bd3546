"""Background workers of one process: inbox turns and outbox deliveries, woken at once or polling, stopped
gracefully (the step under way finishes, the rest stays in the database for the next start or another process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

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
        self.stopping = False

    def wake(self) -> None:
        """There is new work (an event stored, a reply written)."""
        self.wakeup.set()

    def stop(self) -> None:
        """Take no new step: every loop running this worker returns once its current step is done."""
        self.stopping = True
        self.wakeup.set()

    async def run(self) -> None:
        """Loop until stopped (or cancelled); an unexpected error is logged and the loop goes on after a pause."""
        while not self.stopping:
            self.wakeup.clear()  # before the work: a wake-up during it makes the wait below return at once
            try:
                while not self.stopping and await self.step():
                    await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker step failed", extra={"worker": self.name})
            if self.stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.idle)


async def stop_all(workers: Iterable[Worker], tasks: list[asyncio.Task[None]], timeout: float) -> None:
    """Stop `workers` and wait up to `timeout` seconds for their `tasks` to finish the step under way; cancel the
    ones still running then. A cancelled turn or delivery rolls back (or its lease runs out) and is done later."""
    for worker in workers:
        worker.stop()
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=timeout)
    for task in late:
        log.warning("worker still busy at shutdown, cancelled", extra={"task": task.get_name()})
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
