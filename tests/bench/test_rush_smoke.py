"""bench/rush.py on a small rush, so the benchmark cannot silently rot: 20 buyers for 10 kg on SQLite."""

from __future__ import annotations

from pathlib import Path

from bench.rush import parse_options, rush


async def test_a_small_rush_sells_out_without_oversell_and_answers_everyone(tmp_path: Path) -> None:
    options = parse_options(["--buyers", "20", "--stock", "10"])
    figures = await rush(f"sqlite+aiosqlite:///{tmp_path}/rush.db", 1, options, tmp_path)
    assert [(name, ok) for name, ok, _detail in figures.checks] == [
        ("no oversell", True),
        ("every message answered", True),
        ("no duplicate reply", True),
        ("sold-out buyers told politely", True),
    ], figures.checks
    assert 0 < figures.orders < 20  # demand (about 40 kg) is four times the stock
