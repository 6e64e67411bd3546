"""The real `htx` command in a subprocess (`python -m bot`), on a SQLite file of its own."""

from __future__ import annotations

import gc
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.cli import serving_app
from tests.conftest import settings_for_tests

NLU_KEYS = {"intent", "items", "phone", "address", "name", "order_code"}


def environment(db: Path) -> dict[str, str]:
    """The caller's environment without any HTX_ setting, pointed at one SQLite file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    env["HTX_DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def htx(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `htx ARGS` in `tmp_path` (so no developer `.env` is read) on `tmp_path/cli.db`."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environment(tmp_path / "cli.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_json_object(stdout: str) -> dict[str, object]:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    understood = json.loads(lines[0])
    assert isinstance(understood, dict)
    return understood


def test_nlu_demo_prints_one_json_object_in_the_contract_shape(tmp_path):
    result = htx(tmp_path, "nlu", "--demo", "mua 3 ki thanh long ruot do ham duc")
    assert result.returncode == 0, result.stderr
    understood = one_json_object(result.stdout)
    assert set(understood) == NLU_KEYS
    assert understood["intent"] == "order"
    [item] = understood["items"]
    assert set(item) == {"sku", "candidates", "quantity", "unit", "said"}
    assert {k: v for k, v in item.items() if k != "said"} == {
        "sku": "TL-RD-HD",
        "candidates": ["TL-RD-HD"],
        "quantity": 3,
        "unit": "kg",
    }
    assert isinstance(item["said"], str) and "thanh long" in item["said"]
    assert not (tmp_path / "cli.db").exists(), "--demo must not touch the database"


def test_nlu_demo_a_tie_has_no_sku_and_candidates_best_first(tmp_path):
    result = htx(tmp_path, "nlu", "--demo", "mua 2 kg thanh long ruot do")
    assert result.returncode == 0, result.stderr
    [item] = one_json_object(result.stdout)["items"]
    assert item["sku"] is None
    assert {"TL-RD-HD", "TL-HC-PH"} <= set(item["candidates"])
    assert len(item["candidates"]) == len(set(item["candidates"]))
    assert (item["quantity"], item["unit"]) == (2, "kg")


def test_migrate_then_demo_loads_once_and_refuses_to_duplicate(tmp_path):
    migrated = htx(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    first = htx(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    second = htx(tmp_path, "demo")
    assert second.returncode != 0
    with sqlite3.connect(tmp_path / "cli.db") as db:
        assert db.execute("SELECT count(*) FROM products").fetchone() == (9,)
        assert db.execute("SELECT count(*) FROM cooperatives").fetchone() == (5,)
    understood = htx(tmp_path, "nlu", "mua 3 ki thanh long ruot do ham duc")
    assert understood.returncode == 0, understood.stderr
    assert one_json_object(understood.stdout)["items"][0]["sku"] == "TL-RD-HD"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, response.read().decode()


def test_serve_answers_health_and_the_chat_page_and_says_which_channels_are_off(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stdout, stderr = tmp_path / "serve.out", tmp_path / "serve.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment(tmp_path / "cli.db"),
            stdout=out,
            stderr=err,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            assert server.poll() is None, f"htx serve exited early:\n{stderr.read_text()}"
            try:
                health = get(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        assert health is not None, f"no answer on {base}/healthz in 30 s:\n{stderr.read_text()}"
        assert health[0] == 200 and json.loads(health[1]) == {"status": "ok", "database": "ok"}
        status, page = get(f"{base}/")
        assert status == 200 and "HTX Connect" in page
        status, products = get(f"{base}/api/v1/products")
        assert status == 200 and len(json.loads(products)) == 9
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    said = stdout.read_text()
    assert f"http://127.0.0.1:{port}/" in said
    for channel in ("telegram", "messenger", "zalo"):
        assert f"{channel}: off" in said, said


def test_coop_invite_prints_a_one_time_code_and_refuses_an_unknown_cooperative(tmp_path):
    htx(tmp_path, "demo")
    made = htx(tmp_path, "coop", "invite", "hamduc", "--role", "staff")
    assert made.returncode == 0, made.stderr
    code = made.stdout.split()[0]
    assert len(code) == 8 and f"/lienket {code}" in made.stdout
    unknown = htx(tmp_path, "coop", "invite", "NOPE")
    assert unknown.returncode == 1 and "no cooperative" in unknown.stdout


async def test_serve_freezes_what_startup_built_out_of_the_garbage_collectors_sight(aiohttp_client):
    app = serving_app(settings_for_tests())
    app.cleanup_ctx.clear()  # the test database and no workers: only the startup hooks of `htx serve` itself
    gc.unfreeze()
    try:
        await aiohttp_client(app)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on collecting everything
