"""The `htx` command: serve, migrate, demo, nlu, and the admin sub-commands (coop, partner, payments, catalog,
orders)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from datetime import date
from pathlib import Path

from aiohttp import web

from bot import labels, logs, partner_cli, payments_cli, trace_cli
from bot.app import create_app, load_demo_if_empty
from bot.channel_setup import PLATFORMS, missing_credentials
from bot.db import make_engine, make_sessionmaker, migrate
from bot.nlu.parse import parse
from bot.settings import Settings
from catalog.accounts import create_invite
from catalog.demo import demo_index
from catalog.live_index import LiveIndex
from catalog.queries import get_cooperative
from catalog.spreadsheet import PROGRESS_EVERY, CatalogueFileError, export_products, import_rows, read_table
from channels import messenger, zalo
from channels.telegram import TelegramChannel
from orders import vietqr
from orders.export import export_orders
from orders.lifecycle import NotYourOrder, reassign
from orders.status import ESCALATED, TransitionNotAllowed

MANUAL_STEPS = {"messenger": messenger.manual_setup_steps, "zalo": zalo.manual_setup_steps}
ROLES = {
    "all": "webhooks, web chat, API and workers",
    "web": "HTTP only: turns and deliveries run in a workers process",
    "workers": "inbox, outbox and order workers; HTTP only /healthz and /metrics",
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of `htx` and `python -m bot`."""
    parser = argparse.ArgumentParser(prog="htx", description="HTX Connect: chat commerce for cooperatives.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply migrations, load the demo if empty, and serve HTTP")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    role = serve.add_mutually_exclusive_group()
    role.add_argument(
        "--web-only",
        dest="role",
        action="store_const",
        const="web",
        help="answer HTTP (webhooks, web chat, API, pages) and run no workers (HTX_ROLE=web)",
    )
    role.add_argument(
        "--workers-only",
        dest="role",
        action="store_const",
        const="workers",
        help="run the inbox, outbox and order workers; serve only /healthz and /metrics (HTX_ROLE=workers)",
    )
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("demo", help="load the demo catalogue (refuses if a catalogue exists)")
    coop = commands.add_parser("coop", help="cooperative accounts")
    coop_commands = coop.add_subparsers(dest="coop_command", required=True)
    invite = coop_commands.add_parser("invite", help="print a one-time code that links a chat account")
    invite.add_argument("cooperative", help="cooperative code, e.g. HAMDUC")
    invite.add_argument("--role", choices=["owner", "staff"], default="owner")
    partner_cli.add_commands(commands)
    trace_cli.add_commands(commands)
    payments_cli.add_commands(commands)
    qr = commands.add_parser(
        "vietqr",
        help="print a VietQR bank-transfer payload (and write its PNG), to check a receiving account with a bank app",
    )
    qr.add_argument("--bank", required=True, metavar="BIN", help="the bank's 6-digit BIN, e.g. 970436 (Vietcombank)")
    qr.add_argument("--account", required=True, help="the receiving account number")
    qr.add_argument("--amount", type=int, help="đồng; without it the code is static (the payer types the amount)")
    qr.add_argument("--memo", help="the transfer memo, e.g. an order code (ASCII, at most 25 characters)")
    qr.add_argument("--png", type=Path, metavar="FILE", help="also write the QR image to FILE.png")
    labels.add_commands(commands)
    webhooks = commands.add_parser("webhooks", help="register this service's webhook URLs with the platforms")
    webhooks.add_argument("action", choices=["set"])
    nlu = commands.add_parser("nlu", help="print how a message is understood, as JSON")
    nlu.add_argument("text")
    nlu.add_argument("--demo", action="store_true", help="match against the demo catalogue, no database")
    catalog = commands.add_parser("catalog", help="import or export the catalogue as an Excel (.xlsx) or CSV file")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    imports = catalog_commands.add_parser(
        "import",
        help="create or update products by SKU from an .xlsx or .csv file",
        description="Create or update products by SKU from an .xlsx or .csv file (format: docs/catalogue-format.md). "
        "Every row is checked first; a file with a bad row changes nothing unless --skip-bad-rows. "
        "Exit status 1 when bad rows stopped the import.",
    )
    imports.add_argument("file", type=Path, help="FILE.xlsx or FILE.csv")
    imports.add_argument("--coop", metavar="CODE", help="fill a blank cooperative column; refuse other cooperatives")
    imports.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    imports.add_argument("--skip-bad-rows", action="store_true", help="import the good rows, report the bad ones")
    exports = catalog_commands.add_parser(
        "export", help="write the products to an .xlsx or .csv file that imports back unchanged"
    )
    exports.add_argument("file", type=Path, help="FILE.xlsx or FILE.csv")
    exports.add_argument("--coop", metavar="CODE", help="only this cooperative's products")
    _add_order_commands(commands)
    args = parser.parse_args(argv)

    settings = Settings()
    logs.setup(settings.log_level, settings.log_format)
    if args.command == "serve":
        if args.role:
            settings = settings.model_copy(update={"role": args.role})
        _serve(settings, args.host or settings.host, args.port or settings.port)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
        print("database is at the newest migration")
    elif args.command == "demo":
        sys.exit(asyncio.run(_demo(settings)))
    elif args.command == "coop":
        sys.exit(asyncio.run(_invite(settings, args.cooperative.upper(), args.role)))
    elif args.command == "vietqr":
        sys.exit(_vietqr(args))
    elif args.command == "qr":
        try:
            sys.exit(asyncio.run(labels.run(settings, args)))
        except OSError as error:
            sys.exit(_file_error(error))
    elif args.command == "partner":
        sys.exit(asyncio.run(partner_cli.run(settings, args)))
    elif args.command == "trace":
        sys.exit(asyncio.run(trace_cli.run(settings, args)))
    elif args.command == "payments":
        sys.exit(asyncio.run(payments_cli.run(settings, args)))
    elif args.command == "webhooks":
        sys.exit(asyncio.run(_set_webhooks(settings)))
    elif args.command == "nlu":
        print(json.dumps(asyncio.run(_nlu(settings, args.text, args.demo)), ensure_ascii=False))
    elif args.command == "catalog":
        sys.exit(asyncio.run(_catalog(settings, args)))
    elif args.command == "orders" and args.orders_command == "export":
        sys.exit(asyncio.run(_export_orders(settings, args.first, args.last, args.file)))
    elif args.command == "orders":
        sys.exit(asyncio.run(_route_order(settings, args.code.strip().upper())))


def _add_order_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    orders = commands.add_parser("orders", help="orders: the accounting export, routing an escalated order again")
    sub = orders.add_subparsers(dest="orders_command", required=True)
    export = sub.add_parser(
        "export",
        help="write the orders of a span of days, and their lines, to an .xlsx file",
        description="Write the orders created from --from to --to (Vietnam days, both included) to an .xlsx file: "
        'sheet "Orders", one row per order, and sheet "Lines", one row per order line.',
    )
    export.add_argument("--from", dest="first", required=True, metavar="YYYY-MM-DD", help="first day, included")
    export.add_argument("--to", dest="last", required=True, metavar="YYYY-MM-DD", help="last day, included")
    export.add_argument("file", type=Path, help="FILE.xlsx")
    route = sub.add_parser(
        "route",
        help="give an escalated order to a partner again (after partners were added or their rules changed)",
        description="Route an escalated order to the best partner that can now take it. Exit status 1 when it "
        "is still escalated, unknown, or not escalated.",
    )
    route.add_argument("code", help="order code, e.g. DH7K2M9Q")


def _serve(settings: Settings, host: str, port: int) -> None:
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    if settings.role == "workers":
        print(f"HTX Connect workers: health and metrics on http://{shown}:{port}/healthz and /metrics")
    else:
        print(f"HTX Connect: open http://{shown}:{port}/ to chat with the bot (web chat: on)")
    print(f"Role: {settings.role} ({ROLES[settings.role]})")
    print(f"Database: {settings.database_url.split('@')[-1]}")
    for platform, missing in missing_credentials(settings).items():
        print(f"{platform}: " + ("on" if not missing else f"off (set {', '.join(missing)})"))
    print("Admin API: " + ("on" if settings.admin_token else "off (set HTX_ADMIN_TOKEN)"))
    print("SePay webhook: " + ("on" if settings.sepay_api_key else "off (set SEPAY_API_KEY)"))
    print("Casso webhook: " + ("on" if settings.casso_webhook_key else "off (set CASSO_WEBHOOK_KEY)"))
    # SIGTERM and SIGINT stop gracefully: requests in flight and the workers' current steps get shutdown_seconds.
    web.run_app(
        serving_app(settings),
        host=host,
        port=port,
        print=None,
        shutdown_timeout=settings.shutdown_seconds,
        access_log_format=logs.ACCESS_LOG_FORMAT,
    )


def serving_app(settings: Settings) -> web.Application:
    """The app as `htx serve` runs it: once started, what startup built is frozen out of the garbage collector."""
    app = create_app(settings)
    app.on_startup.append(_freeze_what_startup_built)  # after the database, the demo and the workers have started
    return app


async def _freeze_what_startup_built(_app: web.Application) -> None:
    """Hide the objects built at start (modules, the app, SQLAlchemy's mappers and caches) from the garbage
    collector: its full collections then walk only what requests and turns create. Walking them all paused the
    event loop long enough to make the webhooks' p99 (wrk, 64 connections: 125 ms → 30 ms at the same rate).
    https://docs.python.org/3/library/gc.html#gc.freeze
    """
    gc.collect()
    gc.freeze()


async def _invite(settings: Settings, code: str, role: str) -> int:
    engine = make_engine(settings.database_url)
    await migrate(engine)
    async with make_sessionmaker(engine).begin() as session:
        cooperative = await get_cooperative(session, code)
        invite = await create_invite(session, cooperative, role, "cli") if cooperative else None
    await engine.dispose()
    if invite is None:
        print(f"no cooperative with code {code}")
        return 1
    print(f"{invite}\nOne-time code for {role} of {code}, valid 24 hours. In the chat, send: /lienket {invite}")
    return 0


async def _set_webhooks(settings: Settings) -> int:
    """Telegram has an API for it; Messenger and Zalo are set in their developer consoles: print the steps."""
    if not settings.public_url:
        print("set HTX_PUBLIC_URL to the public https address of this service first")
        return 1
    base = settings.public_url.rstrip("/")
    missing = missing_credentials(settings)
    for platform in PLATFORMS:
        if missing[platform]:
            print(f"{platform}: off (set {', '.join(missing[platform])})")
        elif platform == "telegram":
            assert settings.telegram_bot_token and settings.telegram_webhook_secret
            telegram = TelegramChannel(
                settings.telegram_bot_token, settings.telegram_webhook_secret, settings.telegram_api_base_url
            )
            try:
                await telegram.set_webhook(f"{base}/webhooks/telegram")
            finally:
                await telegram.close()
            print(f"telegram: webhook set to {base}/webhooks/telegram (with the secret token)")
        else:
            print(f"{platform}:\n{MANUAL_STEPS[platform](base)}")
    return 0


async def _migrate(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    await migrate(engine)
    await engine.dispose()


async def _demo(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    await migrate(engine)
    loaded = await load_demo_if_empty(make_sessionmaker(engine))
    await engine.dispose()
    print("demo catalogue loaded" if loaded else "the database already has a catalogue; nothing loaded")
    return 0 if loaded else 1


async def _nlu(settings: Settings, text: str, demo: bool) -> dict[str, object]:
    if demo:
        return parse(text, demo_index()).as_contract()
    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine)() as session:
        index = await LiveIndex().current(session)
    await engine.dispose()
    return parse(text, index).as_contract()


async def _catalog(settings: Settings, args: argparse.Namespace) -> int:
    """`htx catalog import|export`: the report on stdout, progress on stderr; 1 when the file or its rows failed."""
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        if args.catalog_command == "export":
            async with make_sessionmaker(engine)() as session:
                count = await export_products(session, args.file, args.coop)
            print(f"exported {count} products to {args.file}")
            return 0
        # Read the whole file before the transaction starts: on SQLite it holds the write lock.
        rows = []
        for row in read_table(args.file):
            rows.append(row)
            if len(rows) % PROGRESS_EVERY == 0:
                _progress(f"read {len(rows):,} rows")
        async with make_sessionmaker(engine)() as session:
            report = await import_rows(
                session,
                rows,
                args.coop,
                apply=not args.dry_run,
                skip_bad=args.skip_bad_rows,
                actor=f"import {args.file.name}",
                progress=_progress,
            )
            if report.written:
                await session.commit()
        print(f"{args.file}: {report.rows} rows")
        print(report)
        return 1 if report.blocked else 0
    except CatalogueFileError as error:
        print(error)
        return 1
    except OSError as error:
        return _file_error(error)
    finally:
        await engine.dispose()


def _vietqr(args: argparse.Namespace) -> int:
    """`htx vietqr`: the payload on stdout, the image in --png; 1 for a bank, account or amount VietQR refuses."""
    try:
        code = vietqr.payload(args.bank, args.account, args.amount, memo=args.memo)
    except vietqr.InvalidVietQR as error:
        print(f"{error}; known banks: " + ", ".join(f"{b} {n}" for b, n in sorted(vietqr.BANKS.items())))
        return 1
    print(f"{vietqr.BANKS[args.bank]} {args.account}: {code}")
    if args.png:
        try:
            args.png.write_bytes(vietqr.png(code))
        except OSError as error:
            return _file_error(error)
        print(f"QR image written to {args.png}")
    return 0


def _file_error(error: OSError) -> int:
    """Say which file could not be read or written and return exit status 1; other OS errors go on up."""
    if not error.filename:
        raise error  # not the file's fault (the database, say)
    print(f"{error.filename}: {error.strerror}")
    return 1


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _export_orders(settings: Settings, first: str, last: str, file: Path) -> int:
    """`htx orders export`: 1 on a bad date or span, or a file that cannot be written."""
    days: list[date] = []
    for option, value in (("--from", first), ("--to", last)):
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            print(f"{option} {value}: not a date; write it as YYYY-MM-DD, e.g. 2025-07-01")
            return 1
    if days[1] < days[0]:
        print(f"--to {last} is before --from {first}")
        return 1
    if file.suffix.lower() != ".xlsx":
        print(f"{file}: the export writes an Excel file; name it FILE.xlsx")
        return 1
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine)() as session:
            count = await export_orders(session, file, days[0], days[1])
    except OSError as error:
        return _file_error(error)
    finally:
        await engine.dispose()
    print(f"exported {count} orders from {days[0]} to {days[1]} (Vietnam time) to {file}")
    return 0


async def _route_order(settings: Settings, code: str) -> int:
    """`htx orders route CODE`: 0 when the order went to a partner, 1 otherwise."""
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine)() as session:
            try:
                order = await reassign(session, code, by="cli")
            except NotYourOrder:
                print(f"no order with code {code}")
                return 1
            except TransitionNotAllowed as error:
                status, to = error.order.status, error.to
                await session.rollback()
                if to != ESCALATED:  # else: escalated again, there is still no partner for it
                    print(f"order {code} is {status}: only an escalated order can be routed again")
                    return 1
            else:
                partner = (order.partner.code, order.partner.name) if order.partner else None
                await session.commit()
                if partner is not None and order.status != ESCALATED:
                    print(f"order {code} routed to {partner[0]} ({partner[1]}); the partner will be told")
                    return 0
    finally:
        await engine.dispose()
    print(f"order {code} is still escalated: no partner can deliver it (see: htx partner list)")
    return 1
