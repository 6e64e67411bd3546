"""Order statuses and the one table of allowed transitions; every change is an `order_events` row."""

from __future__ import annotations

from orders.models import Order, OrderEvent

PENDING = "pending"  # confirmed by the buyer, waiting for a partner to accept
ACCEPTED = "accepted"
SHIPPING = "shipping"
DELIVERED = "delivered"
CANCELLED = "cancelled"
REJECTED = "rejected"

TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({PENDING}),
    PENDING: frozenset({ACCEPTED, CANCELLED, REJECTED}),
    ACCEPTED: frozenset({SHIPPING, CANCELLED}),
    SHIPPING: frozenset({DELIVERED}),
    DELIVERED: frozenset(),
    CANCELLED: frozenset(),
    REJECTED: frozenset(),
}


class TransitionNotAllowed(ValueError):
    """The order cannot move from its status to the one asked."""


def change_status(order: Order, to: str, by: str, note: str = "") -> None:
    """Move an order to a new status and record the event, or raise `TransitionNotAllowed`."""
    current = order.status
    if to not in TRANSITIONS[current]:
        raise TransitionNotAllowed(f"{current} -> {to}")
    order.events.append(OrderEvent(from_status=current, to_status=to, by=by, note=note))
    order.status = to
