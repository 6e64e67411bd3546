"""Catalogue import benchmark: a generated 5,000-row .xlsx read, checked and imported into a temporary SQLite file.

Run: `.venv/bin/python -m bench.catalog_import [--rows N] [--rounds R]`. Prints rows per second for each stage next
to the baseline measured in the same rounds, openpyxl alone streaming the same file (read-only mode, values only),
and how many times the baseline's time each stage takes. Figures are the best of R rounds in CPU time (this
process and its SQLite thread), steadier than wall time on a shared machine; wall time is shown beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import shutil
import tempfile
import time
from pathlib import Path

from openpyxl import load_workbook

from bench.catalogue import PLACES, PRODUCE
from bot.app import load_demo_if_empty
from bot.db import make_engine, make_sessionmaker, migrate
from catalog.spreadsheet import COLUMNS, export_products, import_rows, read_table, write_xlsx

COOPERATIVES = ["HAMDUC", "THUANTIEN", "PHUHOI", "HOALE", "TIENPHAT"]
UNITS = ["kg", "kg", "kg", "hộp", "bó", "túi", "trái"]
BAD_EVERY = 100  # one row in a hundred has a bad price: the report lists them, --skip-bad-rows imports the rest
BASELINE = "baseline: openpyxl read alone"


def generate(path: Path, rows: int, seed: int = 5) -> None:
    """A catalogue file of `rows` products spread over the demo cooperatives, one in a hundred bad."""
    pick = random.Random(seed)
    cells: list[list[object]] = []
    for i in range(rows):
        produce, category = pick.choice(PRODUCE)
        unit = pick.choice(UNITS)
        price: object = pick.randrange(10, 400) * 1000
        if i % BAD_EVERY == BAD_EVERY - 1:
            price = "liên hệ"
        cells.append(
            [
                f"BENCH-{i:06d}",
                f"{produce} {pick.choice(PLACES)} {i}",
                COOPERATIVES[i % len(COOPERATIVES)],
                category,
                unit,
                1 if unit == "kg" else pick.choice([0.5, 1, 2, 5]),
                price,
                pick.randrange(0, 5000) / 2,
                pick.choice(["VietGAP", "GlobalGAP", "VietGAP, Hữu cơ", ""]),
                pick.choice([None, None, None, 3, 4]),
                None,
                f"{produce.lower()}; {category}",
                f"{pick.choice(PLACES)}, Việt Nam",
            ]
        )
    write_xlsx(path, cells)


def openpyxl_alone(path: Path) -> int:
    """The baseline: stream every row's values with openpyxl, nothing else."""
    workbook = load_workbook(path, read_only=True, data_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return count


def raise_prices(source: Path, target: Path) -> None:
    """The exported catalogue with every price up 1,000 đ: every product updated, every change logged."""
    workbook = load_workbook(source)
    for (cell,) in workbook.active.iter_rows(
        min_row=2, min_col=COLUMNS.index("price") + 1, max_col=COLUMNS.index("price") + 1
    ):
        cell.value = int(cell.value) + 1000
    workbook.save(target)


async def one_round(folder: Path, template: Path, path: Path, seconds: dict[str, list[tuple[float, float]]]) -> None:
    """Each stage once, on a fresh copy of the demo database, adding its time to `seconds`."""

    def clock(stage: str, started: tuple[float, float]) -> None:
        cpu, wall = time.process_time() - started[0], time.perf_counter() - started[1]
        seconds.setdefault(stage, []).append((cpu, wall))

    def now() -> tuple[float, float]:
        return time.process_time(), time.perf_counter()

    started = now()
    assert openpyxl_alone(path) > 1
    clock(BASELINE, started)
    started = now()
    assert sum(1 for _ in read_table(path)) > 1
    clock("read_table (read + map columns)", started)

    database = folder / "bench.db"
    shutil.copy(template, database)
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        started = now()
        report = await import_rows(session, read_table(path), apply=False)
        clock("read + check (dry run)", started)
        assert len(report.created) + len(report.rejected) == report.rows
    async with sessions() as session:
        started = now()
        report = await import_rows(session, read_table(path), skip_bad=True)
        await session.commit()
        clock("whole import (all new)", started)
        assert report.written and len(report.created) + len(report.rejected) == report.rows
    async with sessions() as session:
        started = now()
        report = await import_rows(session, read_table(path), skip_bad=True)
        await session.commit()
        clock("same file again (all unchanged)", started)
        assert not report.created and not report.updated
    changed = folder / "changed.xlsx"
    if not changed.exists():
        async with sessions() as session:
            await export_products(session, folder / "exported.xlsx")
        raise_prices(folder / "exported.xlsx", changed)
    async with sessions() as session:
        started = now()
        report = await import_rows(session, read_table(changed))
        await session.commit()
        clock("every price changed (updates)", started)
        assert report.updated and not report.rejected
    await engine.dispose()


async def measure(folder: Path, path: Path, rounds: int) -> dict[str, tuple[float, float]]:
    """The best (CPU, wall) seconds of each stage over `rounds` rounds, the baseline in every round."""
    template = folder / "template.db"
    engine = make_engine(f"sqlite+aiosqlite:///{template}")
    await migrate(engine)
    await load_demo_if_empty(make_sessionmaker(engine))
    await engine.dispose()
    seconds: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rounds):
        await one_round(folder, template, path, seconds)
    return {stage: (min(t[0] for t in times), min(t[1] for t in times)) for stage, times in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs of each stage")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # Alembic's migration lines
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        path = folder / "catalogue.xlsx"
        generate(path, args.rows)
        size = path.stat().st_size
        stages = asyncio.run(measure(folder, path, args.rounds))
    bad = args.rows // BAD_EVERY
    print(f"{args.rows:,} rows ({bad} with a bad price), {size / 1024:.0f} KiB .xlsx written by openpyxl, SQLite file")
    print(f"best of {args.rounds} rounds; rows/s and × baseline (the stage's time over openpyxl's) use CPU time")
    print(f"{'stage':<34}{'CPU s':>8}{'wall s':>8}{'rows/s':>9}{'× baseline':>12}")
    baseline = stages[BASELINE][0]
    for stage, (cpu, wall) in stages.items():
        print(f"{stage:<34}{cpu:>8.3f}{wall:>8.3f}{args.rows / cpu:>9,.0f}{cpu / baseline:>12.2f}")


if __name__ == "__main__":
    main()
