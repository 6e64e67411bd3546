"""Background workers of one process: inbox turns and outbox deliveries, woken at once or polling, stopped
gracefully (the step under way finishes, the rest stays in the database for the next start or another process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)


class Worker:
    """Runs `step` until it reports nothing to do, then sleeps until woken or until `idle` seconds pass.

    Other processes sharing the database are seen by polling; this process's own new work wakes it at once. Several
    loops may run one worker (`run` in several tasks): a wake-up rouses one sleeping loop, and a loop that found
    work rouses the next, so a single new event costs one or two empty looks instead of one per loop.
    """

    def __init__(self, name: str, step: Callable[[], Awaitable[bool]], idle: float = 1.0) -> None:
        self.name = name
        self.step = step
        self.idle = idle
        self.stopping = False
        self._sleeping: deque[asyncio.Future[None]] = deque()
        # Work announced while no loop slept: the next loop to run out of work looks once more instead of sleeping.
        self._announced = False

    def wake(self) -> None:
        """There is new work (an event stored, a reply written)."""
        if not self._rouse_one():
            self._announced = True

    def stop(self) -> None:
        """Take no new step: every loop running this worker returns once its current step is done."""
        self.stopping = True
        while self._rouse_one():
            pass

    def _rouse_one(self) -> bool:
        while self._sleeping:
            sleeper = self._sleeping.popleft()
            if not sleeper.done():
                sleeper.set_result(None)
                return True
        return False

    async def run(self) -> None:
        """Loop until stopped (or cancelled); an unexpected error is logged and the loop goes on after a pause."""
        while not self.stopping:
            self._announced = False  # before the work: what is announced from here on, this look or the next sees
            try:
                while not self.stopping and await self.step():
                    self._rouse_one()  # there may be more: let another loop share it
                    await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker step failed", extra={"worker": self.name})
            if self.stopping:
                break
            if not self._announced:
                await self._sleep()

    async def _sleep(self) -> None:
        sleeper = asyncio.get_running_loop().create_future()
        self._sleeping.append(sleeper)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sleeper, timeout=self.idle)
        finally:
            if sleeper in self._sleeping:
                self._sleeping.remove(sleeper)


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
