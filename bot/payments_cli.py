"""`htx payments ...`: the bank transfers waiting for a person (unmatched, paid too much, too late), matching one
to an order by hand, and closing a review once the refund or the check is done."""

from __future__ import annotations

import argparse

from sqlalchemy.ext.asyncio import AsyncSession

from bot.bank_webhooks import announce_payment
from bot.db import make_engine, make_sessionmaker, migrate
from bot.settings import Settings
from catalog.models import VIETNAM
from orders.models import BankTransaction
from orders.payments import CannotAssign, assign, mark_done, open_reviews, recent_transactions, transaction


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `htx payments` and its sub-commands."""
    payments = commands.add_parser("payments", help="bank transfers to look at: unmatched, paid too much, too late")
    sub = payments.add_subparsers(dest="payments_command", required=True)
    listing = sub.add_parser("list", help="print the transfers waiting for a person (docs/payments.md)")
    listing.add_argument("--all", action="store_true", help="the latest 100 transfers, whatever their outcome")
    to_order = sub.add_parser(
        "assign",
        help="apply an unmatched transfer to an order (a wrong memo); the buyer and the partner are told",
        description="Apply an unmatched transfer to an order paid by transfer. Exit status 1 when the transfer is "
        "not an open unmatched one or the order is unknown or not paid by transfer.",
    )
    to_order.add_argument("txn", type=int, metavar="TXN_ID", help="the transfer's number in `htx payments list`")
    to_order.add_argument("order", metavar="ORDER_CODE", help="e.g. DH7K2M9Q")
    done = sub.add_parser("done", help="close a review (refund made, nothing to do), with a note")
    done.add_argument("txn", type=int, metavar="TXN_ID")
    done.add_argument("--note", default="done", help="what was done, e.g. 'refunded 20.000 đ on 12/07'")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `htx payments` sub-command; the exit status."""
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine).begin() as session:
            if args.payments_command == "list":
                return await _list(session, args.all)
            txn = await transaction(session, args.txn)
            if txn is None:
                print(f"no transfer number {args.txn} (see: htx payments list --all)")
                return 1
            if args.payments_command == "done":
                await mark_done(session, txn, args.note)
                print(f"transfer {txn.id} closed: {args.note}")
                return 0
            try:
                recorded = await assign(session, txn, args.order)
            except CannotAssign as error:
                print(error)
                return 1
            await announce_payment(session, recorded)
            print(f"transfer {txn.id} applied to {args.order.strip().upper()}: {describe(txn)}")
            return 0
    finally:
        await engine.dispose()


async def _list(session: AsyncSession, everything: bool) -> int:
    txns = await recent_transactions(session) if everything else await open_reviews(session)
    if not txns:
        print("no transfers" if everything else "nothing to review")
    for txn in txns:
        print(describe(txn))
    return 0


def describe(txn: BankTransaction) -> str:
    """One transfer on one line: number, outcome, amount, order, time, provider and id, memo, review note."""
    when = (txn.transacted_at or txn.received_at).astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
    order = txn.order.code if txn.order else "no order"
    state = "to review" if txn.needs_review else "done" if txn.reviewed_at else ""
    note = f" — {txn.review_note}" if txn.review_note else ""
    return (
        f"#{txn.id} {txn.outcome} {txn.amount:,}đ {order} {when} {txn.provider}:{txn.txn_id} "
        f"memo {txn.memo!r}{' ' + state if state else ''}{note}"
    )
