"""Webhook latency under load: how fast a signed Telegram update is stored and answered 200.

Run: `make bench-webhooks` (or `.venv/bin/python -m bench.webhooks [--database-url URL]`). Starts the service on
this machine as two processes, as in production: one answering HTTP only (HTX_WORKERS=0) and one running the
turns and deliveries, on PostgreSQL when a URL is given (else SQLite in a temporary folder, where both processes
share one write lock), a fake Bot API so replies have somewhere to go; then it sends bursts of concurrent
webhooks and prints median and p99 latency, next to `GET /healthz` (one database round trip, no inbox write)
measured in the same run as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time

import aiohttp

from tests.fakes.telegram import TOKEN, FakeTelegram

SECRET = "bench-secret"
REQUESTS = 1200
# Webhooks per second, sustained: every one becomes a conversation turn, and the two cores of our machines
# run about this many turns a second beside the webhook process, the fake Bot API and this client.
RATE = 60.0


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def measure(send: object, count: int, rate: float) -> list[float]:
    """Latencies in ms of `count` calls of `send()`, started at a steady `rate` per second (an open loop, as
    platforms deliver: a slow answer does not slow the arrivals down)."""
    latencies: list[float] = []

    async def one(n: int) -> None:
        start = time.perf_counter()
        await send(n)  # type: ignore[operator]
        latencies.append((time.perf_counter() - start) * 1000)

    tasks = []
    begin = time.perf_counter()
    for n in range(count):
        await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    return sorted(latencies)


def summary(latencies: list[float]) -> tuple[float, float]:
    """Median and p99."""
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99)]


async def main(database_url: str | None) -> None:
    """Run the bursts and print the figures."""
    folder = tempfile.mkdtemp()
    url = database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    port = free_port()
    async with FakeTelegram() as telegram, aiohttp.ClientSession() as http:
        env = {
            **os.environ,
            "HTX_DATABASE_URL": url,
            "HTX_LOG_LEVEL": "WARNING",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
        }
        services = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--port",
                str(listen),
                env={**env, "HTX_WORKERS": workers},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            for listen, workers in ((port, "0"), (free_port(), "2"))
        ]
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    async with http.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

            async def webhook(n: int) -> None:
                update = telegram.text_update("xin chào", chat_id=10_000 + n % 500)
                async with http.post(f"{base}/webhooks/telegram", json=update, headers=headers) as response:
                    assert response.status == 200

            async def health(_n: int) -> None:
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 200

            await measure(health, 100, RATE)  # warm up connections and code paths
            await measure(webhook, 100, RATE)
            ours = summary(await measure(webhook, REQUESTS, RATE))
            baseline = summary(await measure(health, REQUESTS, RATE))
        finally:
            for service in services:
                service.terminate()
                await service.wait()
    print(f"database: {url.split('@')[-1]}; {REQUESTS} requests at {RATE:.0f} per second")
    print(f"  POST /webhooks/telegram  median {ours[0]:.1f} ms  p99 {ours[1]:.1f} ms  (target p99 < 50 ms)")
    print(f"  GET /healthz (baseline)  median {baseline[0]:.1f} ms  p99 {baseline[1]:.1f} ms")
    print(f"  ratio to baseline        median {ours[0] / baseline[0]:.2f}  p99 {ours[1] / baseline[1]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    asyncio.run(main(parser.parse_args().database_url))
