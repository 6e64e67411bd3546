"""Order statuses and the one table of allowed transitions; every change is an `order_events` row.

    new ──> routed ──> accepted ──> shipping ──> delivered
     │        │  ▲                   ▲    │
     │        │  └── rejected ◄──┐   │    ▼
     │        │  └── expired  ◄──┤   └── failed ──> returned
     │        ▼                  │
     └──> escalated ◄────────────┘      cancelled: by the buyer from new, routed or escalated;
                                          by the payment deadline also from accepted (a transfer that never came)

A rejected or expired order is routed again in the same transaction (to the next eligible partner) or
escalated to the producer cooperatives, so neither status is ever where an order rests.
"""

from __future__ import annotations

from orders.models import Order, OrderEvent

NEW = "new"  # confirmed by the buyer, stock reserved, not yet given to a partner
ROUTED = "routed"  # given to a partner, waiting for it to accept
ACCEPTED = "accepted"
SHIPPING = "shipping"
DELIVERED = "delivered"
FAILED = "failed"  # the delivery failed; the partner decides: ship again or return the goods
RETURNED = "returned"
CANCELLED = "cancelled"
REJECTED = "rejected"
EXPIRED = "expired"  # the partner did not accept within its timeout
ESCALATED = "escalated"  # no partner left to take it: the producer cooperatives' managers decide

TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({NEW}),
    NEW: frozenset({ROUTED, ESCALATED, CANCELLED}),
    ROUTED: frozenset({ACCEPTED, REJECTED, EXPIRED, CANCELLED}),
    REJECTED: frozenset({ROUTED, ESCALATED}),
    EXPIRED: frozenset({ROUTED, ESCALATED}),
    ESCALATED: frozenset({ROUTED, CANCELLED}),
    ACCEPTED: frozenset({SHIPPING, CANCELLED}),
    SHIPPING: frozenset({DELIVERED, FAILED}),
    FAILED: frozenset({SHIPPING, RETURNED}),
    DELIVERED: frozenset(),
    RETURNED: frozenset(),
    CANCELLED: frozenset(),
}
# Statuses in which the goods are still at the producer cooperative: their stock stays reserved.
HOLDING = frozenset({NEW, ROUTED, REJECTED, EXPIRED, ESCALATED, ACCEPTED})
# Statuses a partner has to act on (`/donmoi`, the partner API's default list).
AWAITING_PARTNER = frozenset({ROUTED, ACCEPTED, SHIPPING, FAILED})
# Statuses from which a buyer may still cancel: no partner has accepted yet.
BUYER_CANCELLABLE = frozenset({NEW, ROUTED, ESCALATED})
# Statuses that are final.
CLOSED = frozenset(status for status, following in TRANSITIONS.items() if status and not following)


class TransitionNotAllowed(ValueError):
    """The order cannot move from its status to the one asked."""

    def __init__(self, order: Order, to: str) -> None:
        super().__init__(f"order {order.code} is {order.status}, it cannot become {to}")
        self.order = order
        self.to = to


def change_status(order: Order, to: str, by: str, note: str = "") -> None:
    """Move an order to a new status and record the event, or raise `TransitionNotAllowed`."""
    current = order.status
    if to not in TRANSITIONS[current]:
        raise TransitionNotAllowed(order, to)
    order.events.append(OrderEvent(from_status=current, to_status=to, by=by, note=note, partner_id=order.partner_id))
    order.status = to
