"""Webhook throughput and latency, and end-to-end turns, against `htx serve` as production runs it.

Run: `make bench-webhooks` (SQLite in a temporary folder) or `make bench-webhooks ARGS="--database-url
postgresql+asyncpg://postgres@127.0.0.1:5432/htx_bench"` (a scratch database: the run empties its inbox and
outbox first), and `make bench-soak` for the 10-minute memory soak.

It starts the platform fakes of tests/fakes (Telegram, Messenger, Zalo) in this process, then the service as
separate processes: workers process(es) (turns and deliveries, `htx serve --workers-only`) and web process(es)
answering HTTP only (`--web-only`). An aiohttp client on loopback posts signed webhooks in the real formats of
tests/payloads for many distinct buyers, and measures in one run:

1. bare: the same requests against bench/bare.py, an aiohttp server that parses the JSON and answers 200;
2. end to end: conversations (closed loop: each buyer waits for the reply to reach the platform's fake before
   writing again): turns per second and event-posted → reply-received latency;
3. intake: webhooks as fast as `--concurrency` connections allow: accepted events per second and answer latency,
   while the workers process runs the turns behind (as in production).

`--soak SECONDS` instead runs conversations for that long and samples the resident memory of every service process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import delete, text

from bot.db import make_engine, migrate
from bot.models import InboundEvent, OutboundMessage
from tests.fakes import messenger, zalo
from tests.fakes.telegram import TOKEN, FakeTelegram

TELEGRAM_SECRET = "bench-secret"
MESSENGER_SECRET = "bench-app-secret"
PLATFORMS = ("telegram", "messenger", "zalo")
# What buyers write: the greeting's answer is one message on every platform.
TEXT = "xin chào"
# Targets of issue 8 (PostgreSQL, this 2-core machine).
INTAKE_SHARE, INTAKE_P99 = 0.25, 50.0
TURNS_RATE, TURNS_P99 = 500.0, 250.0
# Messages per second allowed to each platform fake: more than the service can send.
UNLIMITED = 100_000.0
LIMITS_LIFTED = "outbox send limits lifted (the fakes have none; real platforms cap each app, Telegram near 30 msg/s)"
# Distinct buyers per platform writing during the intake phase.
INTAKE_BUYERS = 1000
# Seconds after a phase before reading PostgreSQL's transaction counts: a backend gone idle reports its counts
# within 10 s (PostgreSQL 15's PGSTAT_IDLE_INTERVAL), a busy one every second.
STATISTICS_DELAY = 11.0


@dataclass(frozen=True)
class Webhook:
    """One signed delivery, ready to post."""

    platform: str
    chat: str
    body: bytes
    headers: dict[str, str]


class Deliveries:
    """Real-format signed webhooks with fresh event ids: a body per platform built once by the fakes' helpers with
    placeholders, then filled and signed per request (cheap, so the client spends its time on HTTP)."""

    def __init__(self, zalo_fake: zalo.FakeZalo) -> None:
        self._zalo = zalo_fake
        self._ids = itertools.count(int(time.time() * 1000) * 1000)  # unique across runs on one database
        telegram = FakeTelegram().text_update(TEXT, chat_id="@CHAT@")  # type: ignore[arg-type]
        telegram["update_id"] = "@EVENT@"
        self._templates = {
            "telegram": _quoted_numbers(json.dumps(telegram, ensure_ascii=False).encode()),
            "messenger": json.dumps(
                messenger.page_delivery([messenger.text_event("@CHAT@", TEXT, mid="m_@EVENT@")]),
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode(),
            "zalo": json.dumps(
                {**zalo.text_event("@CHAT@", TEXT, msg_id="@EVENT@"), "app_id": zalo_fake.app_id},
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode(),
        }

    def make(self, platform: str, chat: str) -> Webhook:
        """A new message from buyer `chat` (digits) on `platform`."""
        body = self._templates[platform].replace(b"@CHAT@", chat.encode())
        body = body.replace(b"@EVENT@", str(next(self._ids)).encode())
        if platform == "telegram":
            headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        elif platform == "messenger":
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": messenger.sign(body, MESSENGER_SECRET),
            }
        else:
            headers = zalo.webhook_headers(body, self._zalo.app_id, self._zalo.oa_secret_key)
        return Webhook(platform, chat, body, headers)


def _quoted_numbers(body: bytes) -> bytes:
    """Telegram's ids are JSON numbers: drop the quotes around the placeholders."""
    return body.replace(b'"@CHAT@"', b"@CHAT@").replace(b'"@EVENT@"', b"@EVENT@")


class Replies:
    """What the fakes received, per (platform, chat), with arrival times; buyers wait here for their replies."""

    def __init__(self, telegram: FakeTelegram, graph: messenger.FakeGraph, zalo_fake: zalo.FakeZalo) -> None:
        self._sources: list[tuple[str, list[Any], Callable[[Any], str | None]]] = [
            ("telegram", telegram.calls, _telegram_chat),
            ("messenger", graph.requests, _messenger_chat),
            ("zalo", zalo_fake.calls, _zalo_chat),
        ]
        self._seen = [0] * len(self._sources)
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._waiting: dict[tuple[str, str], tuple[int, asyncio.Future[float]]] = {}

    async def run(self) -> None:
        """Read new requests every 2 ms and wake the buyers whose replies arrived."""
        while True:
            for n, (platform, calls, chat_of) in enumerate(self._sources):
                new, self._seen[n] = calls[self._seen[n] :], len(calls)
                for call in new:
                    chat = chat_of(call)
                    if chat is not None:
                        key = (platform, chat)
                        self.times[key].append(call.at)
                        self._check(key)
            await asyncio.sleep(0.002)

    async def wait(self, platform: str, chat: str, count: int) -> float:
        """When the chat's `count`-th reply arrived, once it has."""
        key = (platform, chat)
        future = asyncio.get_running_loop().create_future()
        self._waiting[key] = (count, future)
        self._check(key)
        return await future

    def _check(self, key: tuple[str, str]) -> None:
        waiting = self._waiting.get(key)
        if waiting is not None and len(self.times[key]) >= waiting[0]:
            del self._waiting[key]
            waiting[1].set_result(self.times[key][waiting[0] - 1])


def _telegram_chat(call: Any) -> str | None:
    return str(call.params["chat_id"]) if call.method in ("sendMessage", "sendPhoto") and call.status == 200 else None


def _messenger_chat(request: Any) -> str | None:
    return str(request.body["recipient"]["id"]) if request.status == 200 else None


def _zalo_chat(call: Any) -> str | None:
    sent = call.path == "/v3.0/oa/message/cs" and isinstance(call.answer, dict) and call.answer.get("error") == 0
    return str(call.body["recipient"]["user_id"]) if sent else None


@dataclass
class Result:
    """A phase's figures: how many done per second, and latency percentiles in ms."""

    rate: float
    p50: float
    p99: float
    errors: int = 0
    # Cores each service process (and PostgreSQL, when on this machine) kept busy during the phase.
    cores: dict[str, float] = field(default_factory=dict)
    # Transactions the database committed or rolled back during the phase (PostgreSQL; 0 on SQLite).
    transactions: int = 0


def result(latencies: list[float], seconds: float, errors: int = 0) -> Result:
    """Rate and percentiles of latencies (seconds) gathered over `seconds`."""
    ordered = sorted(latencies) or [float("nan")]

    def percentile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    return Result(len(latencies) / seconds, percentile(0.50), percentile(0.99), errors)


async def intake(
    http: aiohttp.ClientSession, urls: list[str], deliveries: Deliveries, concurrency: int, seconds: float
) -> Result:
    """Closed loop: `concurrency` connections post webhooks back to back for `seconds`; 200s per second."""
    latencies: list[float] = []
    errors = 0
    senders = itertools.cycle(itertools.product(PLATFORMS, range(INTAKE_BUYERS)))
    deadline = time.monotonic() + seconds

    async def connection(n: int) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            platform, buyer = next(senders)
            hook = deliveries.make(platform, str(8_000_000 + buyer))
            start = time.monotonic()
            async with http.post(
                f"{urls[n % len(urls)]}/webhooks/{platform}", data=hook.body, headers=hook.headers
            ) as answer:
                await answer.read()
            if answer.status == 200:
                latencies.append(time.monotonic() - start)
            else:
                errors += 1

    begin = time.monotonic()
    await asyncio.gather(*(connection(n) for n in range(concurrency)))
    return result(latencies, time.monotonic() - begin, errors)


async def conversations(
    http: aiohttp.ClientSession,
    urls: list[str],
    deliveries: Deliveries,
    replies: Replies,
    buyers: int,
    seconds: float,
) -> Result:
    """Closed loop: `buyers` conversations, each posting a message and waiting for its reply at the platform's fake,
    for `seconds`; turns per second and event-posted → reply-received latency."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def buyer(n: int) -> None:
        nonlocal errors
        platform, chat = PLATFORMS[n % len(PLATFORMS)], str(7_000_000 + n)
        while time.monotonic() < deadline:
            hook = deliveries.make(platform, chat)
            expected = len(replies.times[(platform, chat)]) + 1
            start = time.monotonic()
            async with http.post(
                f"{urls[n % len(urls)]}/webhooks/{platform}", data=hook.body, headers=hook.headers
            ) as answer:
                await answer.read()
            if answer.status != 200:
                errors += 1
                continue
            try:
                arrived = await asyncio.wait_for(replies.wait(platform, chat, expected), timeout=30)
            except TimeoutError:
                errors += 1
                continue
            latencies.append(arrived - start)

    begin = time.monotonic()
    await asyncio.gather(*(buyer(n) for n in range(buyers)))
    return result(latencies, time.monotonic() - begin, errors)


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start(arguments: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """A Python subprocess whose output goes to `log`."""
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(sys.executable, *arguments, env=env, stdout=output, stderr=output)


async def wait_healthy(http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until `GET /healthz` answers 200; fails with the process's log if it exits or takes over a minute."""
    for _ in range(300):
        if process.returncode is not None:
            break
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not start:\n{log.read_text()[-3000:]}")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its children that ended have used so far, from /proc (Linux): the
    children count for PostgreSQL, whose backends that exit pass their time to the server's main process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The processes of a PostgreSQL server running on this machine (none when it runs elsewhere)."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "postgres":
                pids.append(int(comm.parent.name))
    return pids


@contextlib.contextmanager
def cores_used(processes: list[tuple[str, asyncio.subprocess.Process]]) -> Iterator[dict[str, float]]:
    """How many cores each service process and PostgreSQL (its backends summed) kept busy during the block, on
    average: CPU seconds over wall seconds, filled in when the block ends."""
    before = {role: cpu_seconds(process.pid) for role, process in processes}
    postgres_before = {pid: cpu_seconds(pid) for pid in postgres_pids()}
    began = time.monotonic()
    cores: dict[str, float] = {}
    yield cores
    wall = time.monotonic() - began
    for role, process in processes:
        cores[role] = (cpu_seconds(process.pid) - before[role]) / wall
    if postgres_before:  # backends started during the block count from zero
        after = {pid: cpu_seconds(pid) for pid in postgres_pids()}
        cores["postgres"] = sum(seconds - postgres_before.get(pid, 0.0) for pid, seconds in after.items()) / wall


def service_env(
    database_url: str, workers: int, telegram: FakeTelegram, graph: messenger.FakeGraph, zalo_fake: zalo.FakeZalo
) -> dict[str, str]:
    """The environment of `htx serve`: every channel on, pointed at the fakes."""
    return {
        **os.environ,
        "HTX_DATABASE_URL": database_url,
        "HTX_LOG_LEVEL": "WARNING",
        "HTX_WORKERS": str(workers),
        # The bench's buyers write far faster than people: no per-chat limit, or it would drop their messages.
        "HTX_RATE_LIMIT_CHAT_PER_MINUTE": "0",
        # The service's own capacity: the fakes have no send limit, so neither does the outbox here. The real
        # platforms cap each app (bot/delivery.py RATES: Telegram about 30 messages/s in all).
        "HTX_SEND_RATES": json.dumps(dict.fromkeys(PLATFORMS, UNLIMITED)),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "MESSENGER_APP_SECRET": MESSENGER_SECRET,
        "MESSENGER_VERIFY_TOKEN": "bench-verify",
        "MESSENGER_PAGE_TOKEN": messenger.DEFAULT_TOKEN,
        "MESSENGER_GRAPH_URL": graph.graph_url,
        "ZALO_APP_ID": zalo_fake.app_id,
        "ZALO_OA_SECRET_KEY": zalo_fake.oa_secret_key,
        "ZALO_APP_SECRET": zalo_fake.app_secret,
        "ZALO_ACCESS_TOKEN": zalo_fake.access_token,
        "ZALO_REFRESH_TOKEN": zalo_fake.refresh_token,
        "ZALO_API_BASE_URL": zalo_fake.api_base_url,
        "ZALO_OAUTH_URL": zalo_fake.oauth_url,
    }


async def transactions(url: str) -> int:
    """Transactions the bench's PostgreSQL database has committed and rolled back so far, from its statistics (wait
    `STATISTICS_DELAY` after a phase for them to be complete); 0 on SQLite. A connection's check-out ping
    (`pool_pre_ping`) counts as one."""
    if not url.startswith("postgresql"):
        return 0
    engine = make_engine(url)
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        )
    await engine.dispose()
    return int(count or 0)


@dataclass
class Options:
    """The command line."""

    database_url: str | None
    seconds: float
    concurrency: int
    buyers: int
    web: int
    workers: int
    worker_processes: int
    soak: float | None
    profile: Path | None
    intake_alone: bool


async def empty_inbox(url: str) -> None:
    """Migrate, and delete the inbox and outbox a previous run left (its intake phase leaves a backlog of turns).

    On PostgreSQL the deleted rows are vacuumed away too: a server running without autovacuum (as the development
    machines' does) would otherwise make every run scan all earlier runs' dead rows, and PostgreSQL's CPU per turn
    climbed from 5 to 15 ms over a few runs."""
    engine = make_engine(url)
    await migrate(engine)
    async with engine.begin() as connection:
        await connection.execute(delete(OutboundMessage))
        await connection.execute(delete(InboundEvent))
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM needs it
            await autocommit.execute(text("VACUUM ANALYZE inbound_events, outbound_messages, conversations"))
    await engine.dispose()


async def main(options: Options) -> None:
    """Start everything, run the phases, print the table."""
    folder = Path(tempfile.mkdtemp(prefix="htx-bench-"))
    url = options.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    postgres = url.startswith("postgresql")
    await empty_inbox(url)
    processes: list[tuple[str, asyncio.subprocess.Process]] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        FakeTelegram() as telegram,
        messenger.FakeGraph() as graph,
        zalo.FakeZalo(rate_limit_per_minute=10**9) as zalo_fake,
        aiohttp.ClientSession(connector=connector) as http,
    ):
        env = service_env(url, options.workers, telegram, graph, zalo_fake)
        replies = Replies(telegram, graph, zalo_fake)
        poller = asyncio.create_task(replies.run())
        deliveries = Deliveries(zalo_fake)
        try:
            # Workers processes first: the first migrates and loads the demo catalogue before the others start.
            roles = [(f"workers {n + 1}", "--workers-only") for n in range(options.worker_processes)]
            roles += [(f"web {n + 1}", "--web-only") for n in range(options.web)]
            urls = []
            for role, flag in roles:
                port = free_port()
                log = folder / f"{role.replace(' ', '')}.log"
                process = await start(["-m", "bot", "serve", flag, "--port", str(port)], env, log)
                processes.append((role, process))
                await wait_healthy(http, f"http://127.0.0.1:{port}", process, log)
                if flag == "--web-only":
                    urls.append(f"http://127.0.0.1:{port}")
            # Warm up: every buyer's first turn (customer rows, conversations), connections, code paths.
            await conversations(http, urls, deliveries, replies, options.buyers, 3)
            if options.soak:
                await soak(http, urls, deliveries, replies, options, processes)
                return
            figures = await phases(http, urls, deliveries, replies, options, folder, env, processes)
        finally:
            poller.cancel()
            for _role, process in processes:
                if process.returncode is None:
                    process.terminate()
                    await process.wait()
    report(url, options, postgres, *figures)


async def phases(
    http: aiohttp.ClientSession,
    urls: list[str],
    deliveries: Deliveries,
    replies: Replies,
    options: Options,
    folder: Path,
    env: dict[str, str],
    processes: list[tuple[str, asyncio.subprocess.Process]],
) -> tuple[Result, Result, Result]:
    """Bare baseline, end to end, then intake (last: it leaves a backlog of turns behind)."""
    port = free_port()
    log = folder / "bare.log"
    bare_process = await start(["-m", "bench.bare", "--port", str(port)], env, log)
    try:
        await wait_healthy(http, f"http://127.0.0.1:{port}", bare_process, log)
        bare_urls = [f"http://127.0.0.1:{port}"]
        await intake(http, bare_urls, deliveries, options.concurrency, 1)
        bare = await intake(http, bare_urls, deliveries, options.concurrency, options.seconds)
    finally:
        bare_process.terminate()
        await bare_process.wait()
    profile = profiled(options.profile, "workers-turns", processes[0][1].pid, options.seconds)
    database = env["HTX_DATABASE_URL"]
    transactions_before = await transactions(database)
    with profile, cores_used(processes) as cores:
        turns = await conversations(http, urls, deliveries, replies, options.buyers, options.seconds)
    turns.cores = cores
    await asyncio.sleep(STATISTICS_DELAY)
    turns.transactions = await transactions(database) - transactions_before
    workers_pids = [process.pid for _role, process in processes[: options.worker_processes]]
    if options.intake_alone:  # turns elsewhere: the workers processes get no CPU during the intake phase
        for pid in workers_pids:
            os.kill(pid, signal.SIGSTOP)
    try:
        web_pid = processes[options.worker_processes][1].pid
        with profiled(options.profile, "web-intake", web_pid, options.seconds):
            accepted = await intake(http, urls, deliveries, options.concurrency, options.seconds)
    finally:
        if options.intake_alone:
            for pid in workers_pids:
                os.kill(pid, signal.SIGCONT)
    return bare, turns, accepted


@contextlib.contextmanager
def profiled(folder: Path | None, name: str, pid: int, seconds: float) -> Iterator[None]:
    """With `--profile DIR`: py-spy samples process `pid` during the block into DIR/name.txt (collapsed stacks, as
    flame graph tools read them)."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "-p", str(pid), "-d", str(int(seconds)), "-f", "raw"]
    command += ["-o", str(folder / f"{name}.txt")]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as spying:
        yield
        spying.wait()


async def soak(
    http: aiohttp.ClientSession,
    urls: list[str],
    deliveries: Deliveries,
    replies: Replies,
    options: Options,
    processes: list[tuple[str, asyncio.subprocess.Process]],
) -> None:
    """Conversations for `--soak` seconds; the services' resident memory sampled every second."""
    assert options.soak is not None
    samples: list[tuple[float, list[float]]] = []

    async def sample() -> None:
        begin = time.monotonic()
        while True:
            samples.append((time.monotonic() - begin, [rss_mb(process.pid) for _role, process in processes]))
            await asyncio.sleep(1)

    sampler = asyncio.create_task(sample())
    turns = await conversations(http, urls, deliveries, replies, options.buyers, options.soak)
    sampler.cancel()
    print(f"soak: {options.soak:.0f} s of conversations, {options.buyers} buyers: {line(turns, 'turns/s')}")
    print(f"{'process':<10}" + "".join(f"{label:>12}" for label in ("start MB", "middle MB", "end MB", "growth")))
    picks = [samples[0], samples[len(samples) // 2], samples[-1]]
    for n, (role, _process) in enumerate(processes):
        start_mb, middle_mb, end_mb = (values[n] for _t, values in picks)
        print(f"{role:<10}{start_mb:>12.1f}{middle_mb:>12.1f}{end_mb:>12.1f}{end_mb - start_mb:>+12.1f}")
    print(
        "samples (s: MB per process): "
        + "; ".join(
            f"{t:.0f}: {', '.join(f'{v:.0f}' for v in values)}" for t, values in samples[:: max(1, len(samples) // 10)]
        )
    )


def line(figures: Result, unit: str) -> str:
    """`1,234 unit  p50 … ms  p99 … ms`."""
    errors = f"  ({figures.errors} errors)" if figures.errors else ""
    return f"{figures.rate:,.0f} {unit}  p50 {figures.p50:.1f} ms  p99 {figures.p99:.1f} ms{errors}"


def report(url: str, options: Options, postgres: bool, bare: Result, turns: Result, accepted: Result) -> None:
    """The table, with the targets and whether each is met."""
    ratio = accepted.rate / bare.rate
    database = "PostgreSQL " + url.split("@")[-1] if postgres else "SQLite (temporary file)"
    processes = f"{options.web} web + {options.worker_processes} workers process(es)"
    print(f"{date.today()}, {os.cpu_count()} cores, {database}; {processes}")
    print(
        f"{options.seconds:.0f} s per phase; intake: {options.concurrency} connections, {3 * INTAKE_BUYERS} buyers; "
        f"end to end: {options.buyers} conversations"
        + ("; workers paused during intake" if options.intake_alone else "")
    )
    print(LIMITS_LIFTED)
    print(f"{'':<30}{'rate':>16}{'p50 ms':>10}{'p99 ms':>10}  target (PostgreSQL)")
    rows = [
        ("bare aiohttp (parse, 200)", f"{bare.rate:,.0f} req/s", bare, "", None),
        (
            "webhooks accepted",
            f"{accepted.rate:,.0f} ev/s",
            accepted,
            f"≥ {INTAKE_SHARE:.0%} of bare, p99 < {INTAKE_P99:.0f} ms",
            ratio >= INTAKE_SHARE and accepted.p99 < INTAKE_P99,
        ),
        (
            "end-to-end turns",
            f"{turns.rate:,.0f} turns/s",
            turns,
            f"≥ {TURNS_RATE:.0f}/s, p99 < {TURNS_P99:.0f} ms",
            turns.rate >= TURNS_RATE and turns.p99 < TURNS_P99,
        ),
    ]
    for name, rate, figures, target, ok in rows:
        verdict = "" if ok is None else ("  PASS" if ok else "  FAIL")
        errors = f"  ({figures.errors} errors)" if figures.errors else ""
        print(f"{name:<30}{rate:>16}{figures.p50:>10.1f}{figures.p99:>10.1f}  {target}{verdict}{errors}")
    print(f"{'webhooks / bare':<30}{ratio:>16.2f}")
    print("end to end, per process: cores busy, CPU ms per turn")
    for role, cores in turns.cores.items():
        print(f"  {role:<28}{cores:>16.2f}{1000 * cores / turns.rate:>10.1f}")
    if turns.transactions:
        per_turn = turns.transactions / (turns.rate * options.seconds)
        print(f"end to end, PostgreSQL transactions per turn (pings and idle polls included): {per_turn:.1f}")


def parse_options(argv: list[str] | None = None) -> Options:
    """The command line, as `Options`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/htx_bench")
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase (default 10)")
    parser.add_argument("--concurrency", type=int, default=64, help="intake connections (default 64)")
    parser.add_argument("--buyers", type=int, default=60, help="concurrent conversations (default 60)")
    parser.add_argument("--web", type=int, default=1, help="web processes (default 1)")
    parser.add_argument("--workers", type=int, default=4, help="turn workers per workers process (SQLite: 1)")
    parser.add_argument("--worker-processes", type=int, default=1, help="workers processes (default 1)")
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="only conversations, sampling memory")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy profiles of the services into DIR")
    parser.add_argument(
        "--intake-alone", action="store_true", help="pause the workers process during the intake phase (SIGSTOP)"
    )
    values = parser.parse_args(argv)
    return Options(
        values.database_url,
        values.seconds,
        values.concurrency,
        values.buyers,
        values.web,
        values.workers,
        values.worker_processes,
        values.soak,
        values.profile,
        values.intake_alone,
    )


if __name__ == "__main__":
    asyncio.run(main(parse_options()))
