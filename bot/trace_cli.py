"""`htx trace load FILE.json`: load origin facts (contacts, growing-area codes, certificates, harvest batches)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.db import make_engine, make_sessionmaker, migrate
from bot.settings import Settings
from catalog.origin_import import OriginFileError, load_origin, parse_document


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `htx trace` and its sub-commands."""
    trace = commands.add_parser("trace", help="traceability: load origin facts from a JSON file")
    sub = trace.add_subparsers(dest="trace_command", required=True)
    load = sub.add_parser(
        "load",
        help="load cooperatives' contacts, growing-area codes, certificates and harvest batches (docs/traceability.md)",
        description="Load origin facts from a JSON file (format: docs/traceability.md). The whole file is checked "
        "first; a file with any problem changes nothing (exit status 1). Loading a file twice adds nothing twice.",
    )
    load.add_argument("file", type=Path, help="FILE.json")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `htx trace` sub-command; the exit status."""
    try:
        document = parse_document(args.file.read_bytes())
    except OSError as error:
        print(f"{args.file}: {error.strerror}")
        return 1
    except OriginFileError as error:
        print(f"{args.file}: not loaded, {len(error.problems)} problem(s):\n{error}")
        return 1
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine).begin() as session:
            report = await load_origin(session, document, f"cli:{args.file.name}")
    except OriginFileError as error:
        print(f"{args.file}: not loaded, {len(error.problems)} problem(s):\n{error}")
        return 1
    finally:
        await engine.dispose()
    print(
        f"{args.file}: {report.cooperatives} cooperatives and {report.products} products updated, "
        f"{report.certificates} certificates set, {report.batches_added} harvest batches added "
        f"({report.batches_kept} already there)"
    )
    return 0
