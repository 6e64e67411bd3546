"""Several loops share one worker: a wake-up rouses one loop, a loop that found work rouses the next, and work
announced while every loop is busy is looked for before any loop sleeps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.workers import Worker, stop_all

LOOPS = 4


@contextlib.asynccontextmanager
async def running(step: Callable[[], Awaitable[bool]], loops: int = LOOPS) -> AsyncIterator[Worker]:
    """A worker run by `loops` tasks that only a wake-up moves (they would poll after a minute)."""
    worker = Worker("test", step, idle=60)
    tasks = [asyncio.create_task(worker.run()) for _ in range(loops)]
    try:
        yield worker
    finally:
        await stop_all([worker], tasks, timeout=5)


async def test_a_wake_up_rouses_one_sleeping_loop_not_every_one():
    looks = 0

    async def step() -> bool:
        nonlocal looks
        looks += 1
        return False

    async with running(step) as worker:
        await asyncio.sleep(0.05)
        assert looks == LOOPS  # each loop looked once at start, then slept
        worker.wake()
        await asyncio.sleep(0.05)
        assert looks == LOOPS + 1


async def test_a_loop_that_found_work_rouses_another_so_a_backlog_is_shared():
    backlog = list(range(12))
    busy = peak = 0

    async def step() -> bool:
        nonlocal busy, peak
        if not backlog:
            return False
        backlog.pop()
        busy += 1
        peak = max(peak, busy)
        await asyncio.sleep(0.01)  # a turn's database time, during which other loops may work
        busy -= 1
        return True

    async with running(step) as worker:
        await asyncio.sleep(0.05)
        backlog.extend(range(12))
        worker.wake()
        for _ in range(100):
            if not backlog and not busy:
                break
            await asyncio.sleep(0.01)
    assert not backlog and peak == LOOPS


async def test_work_announced_while_every_loop_is_busy_is_looked_for_before_sleeping():
    gate = asyncio.Event()
    looks = 0
    todo: list[str] = []
    done: list[str] = []

    async def step() -> bool:
        nonlocal looks
        looks += 1
        if looks == 1:
            await gate.wait()  # busy, having found nothing, when the work is announced
            return False
        if todo:
            done.append(todo.pop())
            return True
        return False

    async with running(step, loops=1) as worker:
        await asyncio.sleep(0.05)
        todo.append("new event")
        worker.wake()  # no loop sleeps: the announcement must not be lost
        gate.set()
        await asyncio.sleep(0.05)
        assert done == ["new event"]  # not after the minute of polling
