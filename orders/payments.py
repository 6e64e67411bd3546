"""Bank transfers reported by bank webhooks (SePay, Casso): stored once, matched to an order by the memo, and
added to what the order has received; what cannot be settled automatically waits for a person.

`record_transfer` works in the caller's transaction, so whatever the caller writes beside it (the messages
telling buyer and partner) happens exactly once, with the transaction row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import utcnow
from orders.models import BankTransaction, Order
from orders.payment_deadline import still_to_pay
from orders.placing import BANK_TRANSFER, OVERPAID, PAID, PARTIAL
from orders.status import CANCELLED, RETURNED

# Order codes as `new_order_code` makes them, searched in a memo reduced to upper-case letters and digits.
CODE = re.compile(r"(?=(DH[0-9A-Z]{6}))")
NOT_CODE = re.compile(r"[^0-9A-Z]")
# Orders that will never be delivered: money arriving for them goes back.
UNDELIVERABLE = frozenset({CANCELLED, RETURNED})


class Outcome(StrEnum):
    """What a bank transaction did (`BankTransaction.outcome`)."""

    PAID = "paid"  # the order is now paid in full
    PARTIAL = "partial"  # the order has received part of its total
    OVER = "over"  # the order received more than its total: the excess is refunded
    UNMATCHED = "unmatched"  # no order fits the memo or the receiving account
    LATE = "late"  # the order was already paid, or cancelled: the whole amount is refunded
    IGNORED = "ignored"  # money out of the account


# Outcomes that leave something for a person: match by hand, or refund.
TO_REVIEW = frozenset({Outcome.UNMATCHED, Outcome.OVER, Outcome.LATE})


@dataclass(frozen=True)
class Transfer:
    """One bank transaction as a webhook reports it. `amount` is in đồng, negative for money going out."""

    provider: str
    txn_id: str
    amount: int
    memo: str
    account_number: str = ""
    reference: str = ""
    transacted_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """The stored transaction and what it did; `duplicate` when it had been stored before (nothing changed)."""

    txn: BankTransaction
    duplicate: bool = False

    @property
    def order(self) -> Order | None:
        """The order the money went to (or arrived too late for); None when unmatched or ignored."""
        return self.txn.order

    @property
    def missing(self) -> int:
        """Đồng the order still needs after a partial payment."""
        order = self.order
        return still_to_pay(order) if order and self.txn.outcome == Outcome.PARTIAL else 0

    @property
    def refund(self) -> int:
        """Đồng to give back to the buyer: the excess of an overpayment, or all of a late transfer."""
        order = self.order
        if order is not None and self.txn.outcome == Outcome.OVER:
            return order.paid_amount - order.total
        return self.txn.amount if self.txn.outcome == Outcome.LATE else 0


class CannotAssign(ValueError):
    """`assign` refused: the transaction is not an open unmatched one, or the order is not a transfer order."""


def order_codes(memo: str) -> list[str]:
    """Every order code a memo may hold, first found first, however the bank mangled it.

    Banks add prefixes ("MBVCB.3278907687.", "CT DEN:"), change case, and split or glue words
    ("dh 7k2m9q", "DH-7K2M9Q", "thanhtoanDH7K2M9Q"): keep only ASCII letters and digits, upper-cased, and take
    every "DH" followed by six of them (overlapping, so a glued prefix hides nothing).
    """
    letters = NOT_CODE.sub("", memo.upper())
    return list(dict.fromkeys(match.group(1) for match in CODE.finditer(letters)))


async def record_transfer(session: AsyncSession, transfer: Transfer) -> Recorded:
    """Store a reported bank transaction once per (provider, txn_id) and apply it to the order its memo names.

    A redelivery, even concurrent with the first delivery, finds the unique row taken and changes nothing.
    Money out is stored as ignored. The order's row is locked while its `paid_amount` grows; a receiving
    account that is not the order partner's leaves the transfer unmatched, for a person to look at.
    """
    txn = BankTransaction(
        provider=transfer.provider,
        txn_id=transfer.txn_id,
        amount=transfer.amount,
        memo=transfer.memo,
        account_number=transfer.account_number[:32],
        reference=transfer.reference[:64],
        transacted_at=transfer.transacted_at,
        outcome=Outcome.UNMATCHED,
        raw=transfer.raw,
    )
    try:
        # The unique (provider, txn_id) decides which delivery records it; the loser's savepoint rolls back.
        async with session.begin_nested():
            session.add(txn)
    except IntegrityError:
        stored = await session.scalar(
            select(BankTransaction).where(
                BankTransaction.provider == transfer.provider, BankTransaction.txn_id == transfer.txn_id
            )
        )
        assert stored is not None
        return Recorded(stored, duplicate=True)
    if transfer.amount <= 0:
        txn.outcome = Outcome.IGNORED
    else:
        order = await _matching_order(session, transfer)
        if order is None:
            txn.needs_review = True
        else:
            _apply(txn, order)
    await session.flush()
    return Recorded(txn)


async def open_reviews(session: AsyncSession) -> Sequence[BankTransaction]:
    """Transactions waiting for a person (unmatched, overpaid, late), oldest first."""
    query = select(BankTransaction).where(BankTransaction.needs_review.is_(True)).order_by(BankTransaction.id)
    return (await session.scalars(query)).all()


async def recent_transactions(session: AsyncSession, limit: int = 100) -> Sequence[BankTransaction]:
    """The latest transactions whatever their outcome, newest first."""
    query = select(BankTransaction).order_by(BankTransaction.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def transaction(session: AsyncSession, txn_id: int) -> BankTransaction | None:
    """A stored transaction by our id (the one `htx payments list` shows), locked for the change to come."""
    return await session.scalar(
        select(BankTransaction)
        .where(BankTransaction.id == txn_id)
        .with_for_update(of=BankTransaction)
        .execution_options(populate_existing=True)
    )


async def assign(session: AsyncSession, txn: BankTransaction, order_code: str) -> Recorded:
    """Apply an unmatched transfer to an order a person chose (the buyer typed a wrong memo, paid from another
    bank account). The transaction stays open only when it calls for a refund (over, late)."""
    if txn.outcome != Outcome.UNMATCHED or not txn.needs_review:
        raise CannotAssign(f"transaction {txn.id} is {txn.outcome}, not an open unmatched transfer")
    order = await _locked_order(session, [order_code.strip().upper()])
    if order is None or order.payment_method != BANK_TRANSFER:
        raise CannotAssign(f"{order_code} is not an order paid by transfer")
    _apply(txn, order)
    if not txn.needs_review:
        txn.reviewed_at, txn.review_note = utcnow(), f"assigned to {order.code}"
    await session.flush()
    return Recorded(txn)


async def mark_done(session: AsyncSession, txn: BankTransaction, note: str) -> None:
    """Close a review (refunded, matched by hand elsewhere, nothing to do) with a note saying what was done."""
    txn.needs_review, txn.reviewed_at, txn.review_note = False, utcnow(), note
    await session.flush()


async def _matching_order(session: AsyncSession, transfer: Transfer) -> Order | None:
    """The transfer order named by the memo, locked, when the money went to its partner's account."""
    order = await _locked_order(session, order_codes(transfer.memo))
    if order is None or order.payment_method != BANK_TRANSFER:
        return None
    if transfer.account_number:
        account = order.partner.bank_account if order.partner else None
        if account is None or _account(account) != _account(transfer.account_number):
            return None
    return order


async def _locked_order(session: AsyncSession, codes: list[str]) -> Order | None:
    """The first of these codes that is an order, its row locked until the transaction ends."""
    if not codes:
        return None
    found = await session.scalars(
        select(Order).where(Order.code.in_(codes)).with_for_update(of=Order).execution_options(populate_existing=True)
    )
    by_code = {order.code: order for order in found}
    return next((by_code[code] for code in codes if code in by_code), None)


def _apply(txn: BankTransaction, order: Order) -> None:
    """Add the money to the order, or flag it for a refund when the order no longer takes money."""
    txn.order_id, txn.order = order.id, order
    if order.payment_status in (PAID, OVERPAID) or order.status in UNDELIVERABLE:
        txn.outcome = Outcome.LATE
    else:
        order.paid_amount += txn.amount
        if order.paid_amount < order.total:
            order.payment_status, txn.outcome = PARTIAL, Outcome.PARTIAL
        elif order.paid_amount == order.total:
            order.payment_status, txn.outcome = PAID, Outcome.PAID
        else:
            order.payment_status, txn.outcome = OVERPAID, Outcome.OVER
    txn.needs_review = txn.outcome in TO_REVIEW


def _account(number: str) -> str:
    """An account number without the spaces, dots or dashes some banks print in it."""
    return NOT_CODE.sub("", number.upper())
