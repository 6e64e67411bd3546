"""The rush: many buyers over Telegram, Messenger and Zalo race for a little stock of one product, and scale-out.

Run: `make bench-rush` (SQLite in a temporary folder, one process) or `make bench-rush ARGS="--database-url
postgresql+asyncpg://postgres@127.0.0.1:5432/htx_bench --processes 1,2,4"`. The PostgreSQL database is a scratch
one: every run drops and recreates it, so each starts from the demo catalogue.

Before each run the bench loads the demo catalogue, sets the stock of Thanh long ruột đỏ Hàm Đức (TL-RD-HD) to
`--stock` kg and lifts the delivery partners' daily capacity, then starts N `htx serve` processes in role `all`
(webhooks and workers in each, as a production scale-out behind a load balancer would run them; the first one
alone first, so demo loading and migrations do not race) and the platform fakes of tests/fakes in this process.
Each buyer (round-robin over platforms and processes) has a closed-loop conversation in signed real-format
webhooks, waiting at the platform's fake for the answer before writing again:

1. "mua 2 kg thanh long ruột đỏ hàm đức, tên …, sđt …, giao … Phan Thiết" → how to pay? (or sold out / only N left)
2. "tiền mặt" → the order summary;
3. "đồng ý" → order placed (or sold out / only N left: the conditional UPDATE at checkout lost the race).

It prints orders, orders/minute, time to sell out, turns/s, reply latency, and PASS/FAIL checks: no oversell,
every message answered, no reply delivered twice, every buyer who could not buy told so politely (exit 1 on a FAIL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from bench.webhooks import (
    LIMITS_LIFTED,
    MESSENGER_SECRET,
    PLATFORMS,
    TELEGRAM_SECRET,
    Result,
    _messenger_chat,
    _telegram_chat,
    _zalo_chat,
    free_port,
    result,
    service_env,
    start,
    wait_healthy,
)
from bot.app import load_demo_if_empty
from bot.db import make_engine, make_sessionmaker, migrate
from bot.models import OutboundMessage
from catalog.models import Product
from orders.models import Order, OrderLine, Partner
from tests.fakes import messenger, zalo
from tests.fakes.telegram import FakeTelegram

SKU = "TL-RD-HD"
PRODUCT = "thanh long ruột đỏ hàm đức"
# What the bot answers at each step (Vietnamese, locales/vi): the step's last reply matches one of these.
ASKS_PAYMENT = re.compile(r"thanh toán thế nào")
SUMMARY = re.compile(r"kiểm tra lại đơn hàng")
PLACED = re.compile(r"Đơn đã được đặt")
# explain_shortage (bot/flows/cart.py): "Xin lỗi, … hiện đã hết hàng." or "Xin lỗi, … chỉ còn N kg. …"
SHORTAGE = re.compile(r"Xin lỗi, .* (hiện đã hết hàng|chỉ còn)")
POLITE = re.compile(r"^Xin lỗi, Thanh long ruột đỏ Hàm Đức (hiện đã hết hàng\.|chỉ còn [\d,.]+ kg\. Anh/chị vui lòng)")
TIMEOUT = 120.0
NAMES = ("Lan", "Hoa", "Minh", "Tuấn", "Hùng", "Mai", "Thảo", "Nam", "Bình", "Cúc")


@dataclass
class Sent:
    """One reply the platform's fake accepted."""

    at: float
    text: str


class Transcripts:
    """The replies each (platform, chat) received at the fakes, with their texts; buyers wait here."""

    def __init__(self, telegram: FakeTelegram, graph: messenger.FakeGraph, zalo_fake: zalo.FakeZalo) -> None:
        self._sources: list[tuple[str, list[Any], Callable[[Any], str | None], Callable[[Any], str]]] = [
            ("telegram", telegram.calls, _telegram_chat, _telegram_text),
            ("messenger", graph.requests, _messenger_chat, _messenger_text),
            ("zalo", zalo_fake.calls, _zalo_chat, _zalo_text),
        ]
        self._seen = [0] * len(self._sources)
        self.sent: dict[tuple[str, str], list[Sent]] = defaultdict(list)
        self._changed: dict[tuple[str, str], asyncio.Event] = defaultdict(asyncio.Event)

    async def run(self) -> None:
        """Read the fakes' new requests every 5 ms and wake the buyers whose replies arrived."""
        while True:
            for n, (platform, calls, chat_of, text_of) in enumerate(self._sources):
                new, self._seen[n] = calls[self._seen[n] :], len(calls)
                for call in new:
                    chat = chat_of(call)
                    if chat is not None:
                        self.sent[(platform, chat)].append(Sent(call.at, text_of(call)))
                        self._changed[(platform, chat)].set()
            await asyncio.sleep(0.005)

    async def wait(self, platform: str, chat: str, after: int, expected: re.Pattern[str]) -> list[Sent]:
        """The replies after the first `after`, once one of them matches `expected`."""
        key = (platform, chat)
        while not any(expected.search(s.text) for s in self.sent[key][after:]):
            self._changed[key].clear()
            await self._changed[key].wait()
        return self.sent[key][after:]


def _telegram_text(call: Any) -> str:
    return str(call.params.get("text") or call.params.get("caption") or "")


def _messenger_text(request: Any) -> str:
    message = request.body["message"]
    return str(message.get("text") or message.get("attachment", {}).get("payload", {}).get("text", ""))


def _zalo_text(call: Any) -> str:
    return str(call.body.get("message", {}).get("text", ""))


@dataclass
class Buyer:
    """One buyer's conversation and how it ended."""

    platform: str
    chat: str
    kg: int
    url: str
    outcome: str = "unanswered"  # placed, short (told sold out or only N left), unanswered
    latencies: list[float] = field(default_factory=list)
    placed_at: float | None = None
    shortage: str = ""


class Rush:
    """Posts buyers' messages as signed webhooks and follows their conversations."""

    def __init__(
        self, http: aiohttp.ClientSession, telegram: FakeTelegram, zalo_fake: zalo.FakeZalo, replies: Transcripts
    ) -> None:
        self._http, self._telegram, self._zalo, self._replies = http, telegram, zalo_fake, replies
        self.errors = 0

    def webhook(self, platform: str, chat: str, words: str) -> tuple[bytes, dict[str, str]]:
        """A signed real-format webhook of `words` written by `chat`."""
        if platform == "telegram":
            body = json.dumps(self._telegram.text_update(words, chat_id=int(chat)), ensure_ascii=False).encode()
            return body, {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        if platform == "messenger":
            return messenger.signed_delivery([messenger.text_event(chat, words)], app_secret=MESSENGER_SECRET)
        return self._zalo.signed_webhook(zalo.text_event(chat, words))

    async def say(self, buyer: Buyer, words: str, expected: re.Pattern[str]) -> list[Sent] | None:
        """Post `words`, then the replies once one matches `expected` (None if the webhook failed or timed out)."""
        body, headers = self.webhook(buyer.platform, buyer.chat, words)
        before = len(self._replies.sent[(buyer.platform, buyer.chat)])
        posted = time.monotonic()
        async with self._http.post(f"{buyer.url}/webhooks/{buyer.platform}", data=body, headers=headers) as answer:
            await answer.read()
        if answer.status != 200:
            self.errors += 1
            return None
        try:
            replies = await asyncio.wait_for(self._replies.wait(buyer.platform, buyer.chat, before, expected), TIMEOUT)
        except TimeoutError:
            return None
        buyer.latencies.append(replies[0].at - posted)
        return replies

    async def converse(self, buyer: Buyer, n: int) -> None:
        """The three steps, stopping at the first shortage."""
        details = f"tên {NAMES[n % len(NAMES)]}, sđt 09{n:08d}, giao {n % 200 + 1} Nguyễn Tất Thành, Phan Thiết"
        steps = [
            (f"mua {buyer.kg} kg {PRODUCT}, {details}", ASKS_PAYMENT),
            ("tiền mặt", SUMMARY),
            ("đồng ý", PLACED),
        ]
        for words, wanted in steps:
            replies = await self.say(buyer, words, re.compile(f"{wanted.pattern}|{SHORTAGE.pattern}"))
            if replies is None:
                return
            short = next((r.text for r in replies if SHORTAGE.search(r.text)), None)
            if short is not None:
                buyer.outcome, buyer.shortage = "short", short
                return
            if wanted is PLACED:
                buyer.outcome, buyer.placed_at = "placed", next(r.at for r in replies if PLACED.search(r.text))


@dataclass
class Figures:
    """What one rush measured."""

    processes: int
    buyers: int
    orders: int
    sold_kg: Decimal
    stock: Decimal
    seconds: float
    sell_out: float | None
    turns: Result
    checks: list[tuple[str, bool, str]]

    @property
    def per_minute(self) -> float:
        """Orders per minute over the whole rush."""
        return self.orders / self.seconds * 60


async def prepare(url: str, stock: int) -> None:
    """A fresh database (PostgreSQL: dropped and recreated) with the demo catalogue, `stock` kg of the rush
    product, and delivery partners without a daily cap."""
    if url.startswith("postgresql"):
        target = make_url(url)
        admin = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
        async with admin.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{target.database}"'))
        await admin.dispose()
    engine = make_engine(url)
    await migrate(engine)
    await load_demo_if_empty(make_sessionmaker(engine))
    async with engine.begin() as connection:
        await connection.execute(update(Product).where(Product.sku == SKU).values(stock=stock))
        await connection.execute(update(Partner).values(daily_capacity=None))
    await engine.dispose()


async def rush(url: str, processes: int, options: Options, folder: Path) -> Figures:
    """One rush against `processes` fresh `htx serve` processes."""
    await prepare(url, options.stock)
    services: list[asyncio.subprocess.Process] = []
    async with (
        FakeTelegram() as telegram,
        messenger.FakeGraph() as graph,
        zalo.FakeZalo(rate_limit_per_minute=10**9) as zalo_fake,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
    ):
        env = {
            **service_env(url, options.workers, telegram, graph, zalo_fake),
            "HTX_RATE_LIMIT_IP_PER_MINUTE": "0",
        }
        replies = Transcripts(telegram, graph, zalo_fake)
        poller = asyncio.create_task(replies.run())
        try:
            urls = []
            for n in range(processes):
                port, log = free_port(), folder / f"serve-{processes}-{n + 1}.log"
                services.append(await start(["-m", "bot", "serve", "--port", str(port)], env, log))
                urls.append(f"http://127.0.0.1:{port}")
                await wait_healthy(http, urls[-1], services[-1], log)
            bench = Rush(http, telegram, zalo_fake, replies)
            wants = random.Random(8)  # the same demand in every run
            buyers = [
                Buyer(PLATFORMS[n % 3], str(5_000_000 + n), wants.randint(1, 3), urls[n % processes])
                for n in range(options.buyers)
            ]
            gate = asyncio.Semaphore(options.concurrency)

            async def one(n: int) -> None:
                async with gate:
                    await bench.converse(buyers[n], n)

            begin = time.monotonic()
            await asyncio.gather(*(one(n) for n in range(len(buyers))))
            seconds = time.monotonic() - begin
            checks = await check(url, options.stock, buyers, replies, bench.errors)
        finally:
            poller.cancel()
            for service in services:
                if service.returncode is None:
                    service.terminate()
                    await service.wait()
    return await figures(url, processes, buyers, seconds, checks)


async def figures(
    url: str, processes: int, buyers: list[Buyer], seconds: float, checks: list[tuple[str, bool, str]]
) -> Figures:
    """The rush's figures from the buyers and the database."""
    sold, stock = await sold_and_stock(url)
    placed = sorted(b.placed_at for b in buyers if b.placed_at is not None)
    sell_out = placed[-1] - placed[0] if placed and stock == 0 else None
    latencies = [latency for b in buyers for latency in b.latencies]
    turns = result(latencies, seconds)
    return Figures(processes, len(buyers), len(placed), sold, stock, seconds, sell_out, turns, checks)


async def sold_and_stock(url: str) -> tuple[Decimal, Decimal]:
    """kg of the product on non-cancelled orders, and its stock left."""
    engine = make_engine(url)
    async with engine.connect() as connection:
        sold = await connection.scalar(
            select(func.coalesce(func.sum(OrderLine.quantity), 0))
            .join(Order, Order.id == OrderLine.order_id)
            .where(OrderLine.sku == SKU, Order.status != "cancelled")
        )
        stock = await connection.scalar(select(Product.stock).where(Product.sku == SKU))
    await engine.dispose()
    return Decimal(sold or 0), Decimal(stock or 0)


async def check(
    url: str, stock: int, buyers: list[Buyer], replies: Transcripts, errors: int
) -> list[tuple[str, bool, str]]:
    """The PASS/FAIL checks, once the outbox has drained."""
    engine = make_engine(url)
    pending = sent_rows = 0
    for _ in range(300):
        async with engine.connect() as connection:
            query = select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
            counts = {status: count for status, count in await connection.execute(query)}
        pending, sent_rows = counts.get("pending", 0), counts.get("sent", 0)
        delivered = sum(len(v) for v in replies.sent.values())
        if not pending and delivered >= sent_rows:
            break
        await asyncio.sleep(0.1)
    async with engine.connect() as connection:
        rows = Counter(
            (channel, chat)
            for channel, chat in await connection.execute(
                select(OutboundMessage.channel, OutboundMessage.chat_id).where(OutboundMessage.status == "sent")
            )
        )
    await engine.dispose()
    sold, left = await sold_and_stock(url)
    outcomes = Counter(b.outcome for b in buyers)
    doubled = sum(max(0, len(sent) - rows[key]) for key, sent in replies.sent.items())
    short = [b for b in buyers if b.outcome == "short"]
    impolite = [b.shortage for b in short if not POLITE.search(b.shortage)]
    return [
        ("no oversell", sold + left == stock and left >= 0, f"{sold} kg sold + {left} kg left = {stock} kg, stock ≥ 0"),
        (
            "every message answered",
            outcomes["unanswered"] == 0 and errors == 0,
            f"{outcomes['unanswered']} buyers waited in vain, {errors} webhooks refused",
        ),
        (
            "no duplicate reply",
            doubled == 0 and pending == 0,
            f"{sum(len(v) for v in replies.sent.values())} sends at the fakes, {sent_rows} outbox rows sent, "
            f"{doubled} extra, {pending} pending",
        ),
        (
            "sold-out buyers told politely",
            not impolite and outcomes["placed"] + len(short) == len(buyers),
            f"{len(short)} told, e.g. {short[0].shortage!r}" if short else "nobody was short",
        ),
    ]


@dataclass
class Options:
    """The command line."""

    database_url: str | None
    processes: list[int]
    buyers: int
    stock: int
    concurrency: int
    workers: int


def report(url: str, options: Options, runs: list[Figures]) -> bool:
    """The table per process count, the scaling ratio, and the checks; True if all passed."""
    database = "PostgreSQL " + url.split("@")[-1] if url.startswith("postgresql") else "SQLite (temporary file)"
    print(
        f"{date.today()}, {os.cpu_count()} cores, {database}; {options.buyers} buyers (1–3 kg) for {options.stock} kg "
        f"of {SKU}, {options.concurrency} at a time; htx serve (role all, {options.workers} workers each)"
    )
    print(LIMITS_LIFTED)
    header = ("processes", "orders", "orders/min", "sell-out s", "turns/s", "p50 ms", "p99 ms", "wall s", "scaling")
    print("".join(f"{h:>12}" for h in header))
    for run in runs:
        sell_out = f"{run.sell_out:.1f}" if run.sell_out is not None else "not sold out"
        cells = (
            run.processes,
            run.orders,
            f"{run.per_minute:,.0f}",
            sell_out,
            f"{run.turns.rate:,.1f}",
            f"{run.turns.p50:,.0f}",
            f"{run.turns.p99:,.0f}",
            f"{run.seconds:.1f}",
            f"{run.turns.rate / runs[0].turns.rate:.2f}" if runs[0].turns.rate else "-",
        )
        print("".join(f"{c:>12}" for c in cells))
    passed = True
    for run in runs:
        for name, ok, detail in run.checks:
            passed &= ok
            print(f"{'PASS' if ok else 'FAIL'}  {run.processes} process(es): {name}: {detail}")
    return passed


async def main(options: Options) -> bool:
    """Every rush in turn, then the report."""
    folder = Path(tempfile.mkdtemp(prefix="htx-rush-"))
    url = options.database_url or f"sqlite+aiosqlite:///{folder}/rush.db"
    if not url.startswith("postgresql") and options.processes != [1]:
        raise SystemExit("several processes need PostgreSQL (--database-url)")
    runs = [await rush(url, processes, options, folder) for processes in options.processes]
    return report(url, options, runs)


def parse_options(argv: list[str] | None = None) -> Options:
    """The command line, as `Options`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a scratch database, recreated: postgresql+asyncpg://…/htx_bench")
    parser.add_argument("--processes", default="1", help="process counts to run, e.g. 1,2,4 (default 1)")
    parser.add_argument("--buyers", type=int, default=2000, help="buyers (default 2000)")
    parser.add_argument("--stock", type=int, default=500, help="kg of the product (default 500)")
    parser.add_argument("--concurrency", type=int, default=200, help="conversations at a time (default 200)")
    parser.add_argument("--workers", type=int, default=4, help="turn workers per process (SQLite: 1)")
    values = parser.parse_args(argv)
    counts = [int(n) for n in values.processes.split(",")]
    return Options(values.database_url, counts, values.buyers, values.stock, values.concurrency, values.workers)


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(parse_options())) else 1)
