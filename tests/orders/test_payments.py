"""Bank transfers: order codes found in mangled memos, and what each transfer does to its order, exactly once."""

from __future__ import annotations

import asyncio
import string
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from catalog.queries import get_product
from orders.cart import add_to_cart
from orders.customers import get_or_create_customer
from orders.models import BankTransaction, Order
from orders.payments import (
    CannotAssign,
    Outcome,
    Transfer,
    assign,
    mark_done,
    open_reviews,
    order_codes,
    record_transfer,
)
from orders.placing import BANK_TRANSFER, CODE_ALPHABET, Buyer, Chat, cancel_order, place_order
from tests.conftest import POSTGRES_URL

LAM_DONG = Buyer("Nguyễn Thị Lan", "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng")
ACCOUNT = "0101234567890"  # TM-PHANTHIET's receiving account in the demo


async def transfer_order(session, buyer: str = "buyer-1") -> Order:
    """A buyer's order of 2 kg of tomatoes to Lâm Đồng (TM-PHANTHIET), to pay by transfer."""
    customer = await get_or_create_customer(session, "telegram", buyer)
    await add_to_cart(session, customer, await get_product(session, "RAU-CACHUA-TP"), Decimal(2))
    [order] = await place_order(session, customer, LAM_DONG, Chat("telegram", buyer), payment_method=BANK_TRANSFER)
    return order


def transfer(memo: str, amount: int, txn_id: str = "92704", account: str = ACCOUNT) -> Transfer:
    return Transfer("sepay", txn_id, amount, memo, account_number=account, reference="MBVCB.3278907687")


@pytest.mark.parametrize(
    "memo",
    [
        "DH7K2M9Q",
        "dh7k2m9q",
        "dh 7k2m9q",
        "DH-7K2M9Q",
        "DH.7K2M9Q",
        "D H 7 K 2 M 9 Q",
        "MBVCB.3278907687.DH7K2M9Q.CT tu 0123456789 NGUYEN VAN A toi 0101234567890",
        "CT DEN:512345678901 DH7K2M9Q",
        "ND:CT DEN:123 MBVCB.2707051024.dh 7k2m9q",
        "thanhtoanDH7K2M9Qcamon",
        "Thanh toán đơn DH7K2M9Q",
        "DDH7K2M9Q",
        "IBFT DHL DH7K2M9Q",
    ],
)
def test_the_order_code_is_found_in_a_memo_the_bank_mangled(memo):
    assert "DH7K2M9Q" in order_codes(memo)


def test_a_memo_without_a_code_names_no_order():
    assert order_codes("chuyen tien mua hang") == []
    assert order_codes("DH7K2M") == []


codes = st.text(alphabet=CODE_ALPHABET, min_size=6, max_size=6).map(lambda tail: "DH" + tail)
noise = st.text(alphabet=string.ascii_letters + string.digits + " .:-_/", max_size=30)
separators = st.sampled_from(["", " ", "-", ".", "  "])


@given(code=codes, before=noise, after=noise, separator=separators, lower=st.booleans())
def test_any_code_survives_prefixes_suffixes_case_and_separators(code, before, after, separator, lower):
    mangled = separator.join(code.lower() if lower else code)
    assert code in order_codes(before + mangled + after)


async def test_the_exact_total_pays_the_order(session):
    order = await transfer_order(session)
    recorded = await record_transfer(session, transfer(f"MBVCB.3278907687.{order.code}.CT tu", order.total))
    assert (recorded.txn.outcome, recorded.order, recorded.duplicate) == (Outcome.PAID, order, False)
    assert (order.payment_status, order.paid_amount) == ("paid", order.total)
    assert not recorded.txn.needs_review


async def test_part_of_the_total_then_the_rest_pays_the_order(session):
    order = await transfer_order(session)
    first = await record_transfer(session, transfer(order.code.lower(), 50_000, txn_id="1"))
    assert (first.txn.outcome, order.payment_status, order.paid_amount) == (Outcome.PARTIAL, "partial", 50_000)
    assert first.missing == order.total - 50_000
    rest = await record_transfer(session, transfer(order.code, order.total - 50_000, txn_id="2"))
    assert (rest.txn.outcome, order.payment_status, order.paid_amount) == (Outcome.PAID, "paid", order.total)
    assert rest.missing == 0


async def test_more_than_the_total_pays_the_order_and_flags_the_excess_for_refund(session):
    order = await transfer_order(session)
    recorded = await record_transfer(session, transfer(order.code, order.total + 20_000))
    assert (recorded.txn.outcome, order.payment_status) == (Outcome.OVER, "overpaid")
    assert recorded.refund == 20_000 and recorded.txn.needs_review
    assert await open_reviews(session) == [recorded.txn]


async def test_a_transfer_for_a_paid_order_is_late_and_flagged_for_refund(session):
    order = await transfer_order(session)
    await record_transfer(session, transfer(order.code, order.total, txn_id="1"))
    again = await record_transfer(session, transfer(order.code, order.total, txn_id="2"))
    assert (again.txn.outcome, again.refund, again.txn.needs_review) == (Outcome.LATE, order.total, True)
    assert (order.payment_status, order.paid_amount) == ("paid", order.total)


async def test_a_transfer_for_a_cancelled_order_is_late_and_changes_nothing(session):
    order = await transfer_order(session)
    customer = await get_or_create_customer(session, "telegram", "buyer-1")
    await cancel_order(session, customer, order.code)
    recorded = await record_transfer(session, transfer(order.code, order.total))
    assert (recorded.txn.outcome, recorded.order, recorded.txn.needs_review) == (Outcome.LATE, order, True)
    assert (order.payment_status, order.paid_amount) == ("unpaid", 0)


async def test_a_memo_naming_no_order_is_kept_for_review(session):
    order = await transfer_order(session)
    recorded = await record_transfer(session, transfer("chuyen tien DH000000", order.total))
    assert (recorded.txn.outcome, recorded.order, recorded.txn.needs_review) == (Outcome.UNMATCHED, None, True)
    assert order.paid_amount == 0


async def test_money_to_another_account_is_not_applied_to_the_order(session):
    order = await transfer_order(session)
    recorded = await record_transfer(session, transfer(order.code, order.total, account="9999999999"))
    assert (recorded.txn.outcome, recorded.txn.needs_review) == (Outcome.UNMATCHED, True)
    assert (order.payment_status, order.paid_amount) == ("unpaid", 0)


async def test_money_going_out_is_stored_and_ignored(session):
    order = await transfer_order(session)
    recorded = await record_transfer(session, transfer(order.code, -order.total))
    assert (recorded.txn.outcome, recorded.order, recorded.txn.needs_review) == (Outcome.IGNORED, None, False)
    assert order.paid_amount == 0


async def test_a_redelivered_transaction_is_counted_once(session):
    order = await transfer_order(session)
    first = await record_transfer(session, transfer(order.code, 50_000))
    again = await record_transfer(session, transfer(order.code, 50_000))
    assert again.duplicate and again.txn.id == first.txn.id
    assert order.paid_amount == 50_000
    assert await session.scalar(select(func.count()).select_from(BankTransaction)) == 1


async def test_the_same_id_from_another_provider_is_another_transaction(session):
    order = await transfer_order(session)
    await record_transfer(session, transfer(order.code, 50_000))
    other = await record_transfer(session, Transfer("casso", "92704", 50_000, order.code))
    assert not other.duplicate and order.paid_amount == 100_000


async def test_an_unmatched_transfer_assigned_by_hand_pays_the_order_and_closes_its_review(session):
    order = await transfer_order(session)
    recorded = await record_transfer(session, transfer("chuyen tien hang rau", order.total))
    assigned = await assign(session, recorded.txn, order.code.lower())
    assert (assigned.txn.outcome, assigned.order, order.payment_status) == (Outcome.PAID, order, "paid")
    assert not assigned.txn.needs_review and assigned.txn.review_note == f"assigned to {order.code}"
    assert await open_reviews(session) == []


async def test_only_an_open_unmatched_transfer_can_be_assigned_and_only_to_a_transfer_order(session):
    order = await transfer_order(session)
    paid = await record_transfer(session, transfer(order.code, order.total, txn_id="1"))
    with pytest.raises(CannotAssign):
        await assign(session, paid.txn, order.code)
    unmatched = await record_transfer(session, transfer("no code", 10_000, txn_id="2"))
    with pytest.raises(CannotAssign):
        await assign(session, unmatched.txn, "DH000000")


async def test_marking_a_review_done_closes_it_with_its_note(session):
    order = await transfer_order(session)
    recorded = await record_transfer(session, transfer(order.code, order.total + 20_000))
    await mark_done(session, recorded.txn, "refunded 20.000 đ")
    assert await open_reviews(session) == []
    assert recorded.txn.review_note == "refunded 20.000 đ" and recorded.txn.reviewed_at is not None


@pytest.mark.skipif(not POSTGRES_URL, reason="real concurrency needs PostgreSQL (HTX_TEST_DATABASE_URL)")
async def test_concurrent_redeliveries_on_postgresql_store_each_transaction_once_and_count_it_once(sessions):
    orders = 8
    async with sessions.begin() as session:
        placed = [await transfer_order(session, f"buyer-{n}") for n in range(orders)]

    async def deliver(n: int) -> bool:
        async with sessions.begin() as session:
            recorded = await record_transfer(session, transfer(placed[n].code, placed[n].total, txn_id=f"t{n}"))
            return recorded.duplicate

    # Each transaction delivered three times at once, and every order's deliveries at once with the others'.
    duplicates = await asyncio.gather(*(deliver(n) for n in range(orders) for _ in range(3)))

    assert sorted(duplicates) == [False] * orders + [True] * 2 * orders
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BankTransaction)) == orders
        for order in placed:
            stored = await session.get(Order, order.id)
            assert (stored.paid_amount, stored.payment_status) == (order.total, "paid")
