"""How an order reads in chat, for buyers and for partners, in any supported language.

Used inside turns (the buyer's "kiểm tra đơn", a partner's `/donmoi`) and outside them (bot/order_news.py
telling people what happened), so it takes a locale rather than a conversation.
"""

from __future__ import annotations

from bot import i18n
from catalog.models import VIETNAM
from channels.types import Button, Buttons, Image, Reply, Text
from orders import status as st
from orders.models import Order, OrderEvent
from orders.payment_deadline import PAYMENT_DEADLINE, Deadline, still_to_pay
from orders.payments import Outcome
from orders.placing import CASH_ON_DELIVERY, OVERPAID, PAID, PARTIAL
from orders.vietqr import BANKS

# Button payloads of a partner's order actions: `po:<status>:<code>`, e.g. `po:accepted:DH7K2M9Q`.
PARTNER_PAYLOAD = "po"


def status_name(status: str, locale: str) -> str:
    """An order status in words a buyer understands."""
    _ = i18n.translations(locale).gettext
    names = {
        st.NEW: _("confirmed, looking for a trading cooperative to deliver it"),
        st.ROUTED: _("waiting for a trading cooperative to accept"),
        st.REJECTED: _("not accepted by a trading cooperative, passed on to another"),
        st.EXPIRED: _("not accepted in time, passed on to another trading cooperative"),
        st.ESCALATED: _("no trading cooperative can take it yet; the producer cooperatives are arranging delivery"),
        st.ACCEPTED: _("accepted, being prepared"),
        st.SHIPPING: _("on its way"),
        st.DELIVERED: _("delivered"),
        st.FAILED: _("delivery failed; the trading cooperative will contact you"),
        st.RETURNED: _("not delivered, goods returned"),
        st.CANCELLED: _("cancelled"),
    }
    return names.get(status, status)


def line_rows(order: Order, locale: str) -> list[str]:
    """One "• name: quantity unit = amount" row per line."""
    return [
        f"• {line.name}: {i18n.quantity(line.quantity, locale)} {line.unit} = {i18n.money(line.amount, locale)}"
        for line in order.lines
    ]


def partner_actions(order: Order, locale: str) -> list[Button]:
    """The buttons a partner has on its order in its current status."""
    _ = i18n.translations(locale).gettext
    titles = {
        st.ACCEPTED: _("Accept"),
        st.REJECTED: _("Reject"),
        st.SHIPPING: _("Shipping"),
        st.DELIVERED: _("Delivered"),
        st.FAILED: _("Delivery failed"),
        st.RETURNED: _("Goods returned"),
    }
    if order.status == st.FAILED:
        titles[st.SHIPPING] = _("Ship again")
    return [
        Button(title, f"{PARTNER_PAYLOAD}:{to}:{order.code}")
        for to, title in titles.items()
        if to in st.TRANSITIONS[order.status]
    ]


def partner_order_message(order: Order, locale: str) -> Reply:
    """An order as its partner sees it: lines, money to collect, buyer contact and address, payment, and the
    actions it can take now."""
    _ = i18n.translations(locale).gettext
    money = lambda amount: i18n.money(amount, locale)  # noqa: E731
    cash = order.payment_method == CASH_ON_DELIVERY
    totals = (
        _("Goods: {subtotal} · Shipping: {fee} · To collect: {total}")
        if cash
        else _("Goods: {subtotal} · Shipping: {fee} · Total: {total} (do not collect: paid by transfer)")
    )
    text = [
        _("Order {code} – {status}").format(code=order.code, status=status_name(order.status, locale)),
        *line_rows(order, locale),
        totals.format(subtotal=money(order.subtotal), fee=money(order.shipping_fee), total=money(order.total)),
        _("Receiver: {name}, {phone}").format(name=order.buyer_name, phone=order.buyer_phone),
        _("Address: {address}").format(address=order.buyer_address),
        _("Payment: cash on delivery") if cash else transfer_state(order, locale),
    ]
    if order.status == st.ROUTED and order.accept_by:
        text.append(_("Please accept before {deadline}.").format(deadline=i18n.when(order.accept_by, locale)))
    if order.tracking_number:
        text.append(_("Tracking number: {number}").format(number=order.tracking_number))
    buttons = partner_actions(order, locale)
    return Buttons("\n".join(text), tuple(buttons)) if buttons else Text("\n".join(text))


def transfer_state(order: Order, locale: str) -> str:
    """How much of a transfer order's total has arrived, as its partner reads it."""
    _ = i18n.translations(locale).gettext
    money = lambda amount: i18n.money(amount, locale)  # noqa: E731
    if order.payment_status == PAID:
        return _("Payment: bank transfer, paid")
    if order.payment_status == PARTIAL:
        return _("Payment: bank transfer, {paid} received, {missing} still missing").format(
            paid=money(order.paid_amount), missing=money(still_to_pay(order))
        )
    if order.payment_status == OVERPAID:
        return _("Payment: bank transfer, paid with {excess} too much, to refund to the buyer").format(
            excess=money(order.paid_amount - order.total)
        )
    return _("Payment: bank transfer, not paid yet")


def buyer_payment_note(order: Order, outcome: str, amount: int, locale: str) -> Reply | None:
    """What the buyer is told when a transfer of `amount` arrives for their order (orders/payments.py)."""
    _ = i18n.translations(locale).gettext
    texts = {
        Outcome.PAID: _("We received {amount} for order {code}: it is paid in full. Thank you!"),
        Outcome.PARTIAL: _(
            "We received {amount} for order {code}; {missing} is still missing. Please transfer {missing} with the "
            "memo {code}."
        ),
        Outcome.OVER: _(
            "We received {amount} for order {code}, {excess} more than its total. The order is paid; the trading "
            "cooperative will refund you {excess}."
        ),
        Outcome.LATE: _(
            "We received {amount} for order {code}, which no longer needs paying (already paid or cancelled). The "
            "trading cooperative will refund you {amount}."
        ),
    }
    if outcome not in texts:
        return None
    text = texts[Outcome(outcome)].format(code=order.code, **_payment_amounts(order, amount, locale))
    return Buttons(text, (Button(_("Order {code}").format(code=order.code), f"status:{order.code}"),))


def partner_payment_note(order: Order, outcome: str, amount: int, locale: str) -> Text | None:
    """What the partner's chats are told when a transfer of `amount` arrives for its order."""
    _ = i18n.translations(locale).gettext
    texts = {
        Outcome.PAID: _("Order {code} is paid: {amount} received by transfer."),
        Outcome.PARTIAL: _("Order {code}: the buyer has transferred {paid} so far, {missing} still missing."),
        Outcome.OVER: _("Order {code} is paid, with {excess} too much: please refund {excess} to the buyer ({phone})."),
        Outcome.LATE: _(
            "Order {code} received {amount} more after it was paid or cancelled: please refund {amount} to the "
            "buyer ({phone})."
        ),
    }
    if outcome not in texts:
        return None
    amounts = _payment_amounts(order, amount, locale)
    return Text(texts[Outcome(outcome)].format(code=order.code, phone=order.buyer_phone, **amounts))


def _payment_amounts(order: Order, amount: int, locale: str) -> dict[str, str]:
    """The sums a payment note may name: this transfer, received so far, still missing, paid too much."""
    return {
        "amount": i18n.money(amount, locale),
        "paid": i18n.money(order.paid_amount, locale),
        "missing": i18n.money(still_to_pay(order), locale),
        "excess": i18n.money(max(order.paid_amount - order.total, 0), locale),
    }


def buyer_update(order: Order, event: OrderEvent, locale: str) -> Reply | None:
    """What the buyer is told when their order moves on, or None for steps they need not hear about."""
    _ = i18n.translations(locale).gettext
    partner = order.partner.name if order.partner else ""
    code = order.code
    texts = {
        st.ACCEPTED: _("Good news: {partner} accepted your order {code} and is preparing it."),
        st.SHIPPING: _("Your order {code} is on its way with {partner}."),
        st.DELIVERED: _("Your order {code} has been delivered. Thank you for buying from our cooperatives!"),
        st.FAILED: _("{partner} could not deliver your order {code}: {note}. They will contact you to try again."),
        st.RETURNED: _("Your order {code} could not be delivered and the goods went back. Nothing is charged."),
        st.ESCALATED: _(
            "No trading cooperative can deliver your order {code} right now. The producer cooperatives have been "
            "told and will contact you about delivery; you can also cancel it."
        ),
        st.CANCELLED: _("Your order {code} has been cancelled: {note}. Nothing will be delivered or charged."),
    }
    if event.by == PAYMENT_DEADLINE:
        texts[st.CANCELLED] = _(
            "Your order {code} has been cancelled because your bank transfer did not arrive in time. Nothing will "
            "be delivered."
        )
    if event.to_status not in texts or (event.to_status == st.CANCELLED and event.by == "buyer"):
        return None
    text = texts[event.to_status].format(partner=partner, code=code, note=event.note or "-")
    if event.to_status == st.SHIPPING and order.tracking_number:
        text += "\n" + _("Tracking number: {number}").format(number=order.tracking_number)
    if event.by == PAYMENT_DEADLINE and order.paid_amount:
        text += "\n" + _("The trading cooperative will refund you the {amount} you transferred.").format(
            amount=i18n.money(order.paid_amount, locale)
        )
    return Buttons(text, (Button(_("Order {code}").format(code=code), f"status:{code}"),))


def payment_request(order: Order, locale: str, deadline: Deadline) -> Reply:
    """What to transfer for an order, where to and by when: the VietQR code (served by bot/payments.py) with the
    same details as text for buyers who type the transfer in their bank app. Text only when no partner's account
    waits for it (the order is escalated)."""
    _ = i18n.translations(locale).gettext
    partner = order.partner if order.partner and order.partner.takes_transfers else None
    pay_by = deadline.pay_by(order).astimezone(VIETNAM).strftime("%d/%m %H:%M")
    details = [
        _("Transfer for order {code}: {amount}").format(code=order.code, amount=i18n.money(still_to_pay(order), locale))
    ]
    if partner is not None and partner.bank_bin:
        details += [
            _("Bank: {bank}").format(bank=BANKS.get(partner.bank_bin, partner.bank_bin)),
            _("Account number: {account}").format(account=partner.bank_account),
            _("Account name: {name}").format(name=partner.bank_account_name),
        ]
    details += [
        _("Transfer memo: {code}").format(code=order.code),
        (
            _("Please pay by {time} (Vietnam time), or the order will be cancelled.")
            if order.payment_reminded_at
            else _(
                "Please pay by {time} (Vietnam time). If the money has not arrived by then, we will remind you once, "
                "then cancel the order."
            )
        ).format(time=pay_by),
    ]
    if partner is None:
        return Text("\n".join(details))
    details.append(_("Scan the code with your bank app: amount and memo are filled in."))
    return Image(f"/pay/{order.code}.png", "\n".join(details))


def payment_reminder(order: Order, locale: str, deadline: Deadline) -> list[Reply]:
    """The one reminder of a transfer order past its deadline: what has not arrived, then how to pay it and by when
    before the order is cancelled."""
    _ = i18n.translations(locale).gettext
    money = lambda amount: i18n.money(amount, locale)  # noqa: E731
    missing = (
        _("We have received {paid} of {total} for order {code}; {missing} is still missing.").format(
            paid=money(order.paid_amount), total=money(order.total), code=order.code, missing=money(still_to_pay(order))
        )
        if order.paid_amount
        else _("We have not received your bank transfer for order {code} yet.").format(code=order.code)
    )
    return [Text(missing), payment_request(order, locale, deadline)]
