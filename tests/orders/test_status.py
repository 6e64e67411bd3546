"""The transition table is the life cycle: every (from, to) pair is allowed exactly when the table says so."""

from __future__ import annotations

import pytest

from orders.models import Order
from orders.status import (
    CANCELLED,
    CLOSED,
    DELIVERED,
    ESCALATED,
    EXPIRED,
    HOLDING,
    NEW,
    REJECTED,
    RETURNED,
    ROUTED,
    TRANSITIONS,
    TransitionNotAllowed,
    change_status,
)

STATUSES = sorted(status for status in TRANSITIONS if status is not None)
PAIRS = [
    pytest.param(before, after, id=f"{before or 'nothing'}->{after}")
    for before in [None, *STATUSES]
    for after in STATUSES
]


def order_in(status: str | None) -> Order:
    return Order(code="DH7K2M9Q", status=status, partner_id=7)


@pytest.mark.parametrize(("before", "after"), PAIRS)
def test_a_change_is_allowed_exactly_when_the_table_lists_it(before: str | None, after: str) -> None:
    order = order_in(before)
    if after in TRANSITIONS[before]:
        change_status(order, after, by="partner:TM-SAIGON", note="why")
        assert order.status == after
        [event] = order.events
        assert (event.from_status, event.to_status, event.by, event.note, event.partner_id) == (
            before,
            after,
            "partner:TM-SAIGON",
            "why",
            7,
        )
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            change_status(order, after, by="partner:TM-SAIGON", note="why")
        assert (refused.value.order, refused.value.to) == (order, after)
        assert order.status == before
        assert order.events == []


def test_an_unknown_status_is_refused() -> None:
    order = order_in(ROUTED)
    with pytest.raises(TransitionNotAllowed):
        change_status(order, "lost", by="system")
    assert order.events == []


def test_every_status_is_reachable_from_a_new_order_and_only_closed_ones_end() -> None:
    reached, frontier = {NEW}, [NEW]
    while frontier:
        for following in TRANSITIONS[frontier.pop()]:
            if following not in reached:
                reached.add(following)
                frontier.append(following)
    assert reached == set(STATUSES)
    assert {DELIVERED, RETURNED, CANCELLED} == CLOSED
    assert TRANSITIONS[None] == {NEW}


def test_rejected_and_expired_are_never_where_an_order_rests() -> None:
    # route_again moves the order on in the same transaction: routed to the next partner, or escalated.
    assert TRANSITIONS[REJECTED] == TRANSITIONS[EXPIRED] == {ROUTED, ESCALATED}


def test_stock_is_held_until_the_goods_leave_or_the_order_is_cancelled() -> None:
    assert CANCELLED not in HOLDING and DELIVERED not in HOLDING
    assert {NEW, ROUTED, ESCALATED, REJECTED, EXPIRED} <= HOLDING
