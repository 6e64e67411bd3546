"""How an order reads in chat, for buyers and for partners, in any supported language.

Used inside turns (the buyer's "kiểm tra đơn", a partner's `/donmoi`) and outside them (bot/order_news.py
telling people what happened), so it takes a locale rather than a conversation.
"""

from __future__ import annotations

from bot import i18n
from channels.types import Button, Buttons, Image, Reply, Text
from orders import status as st
from orders.models import Order, OrderEvent
from orders.placing import CASH_ON_DELIVERY, PAID
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
        _("Payment: cash on delivery")
        if cash
        else _("Payment: bank transfer, paid")
        if order.payment_status == PAID
        else _("Payment: bank transfer, not paid yet"),
    ]
    if order.status == st.ROUTED and order.accept_by:
        text.append(_("Please accept before {deadline}.").format(deadline=i18n.when(order.accept_by, locale)))
    if order.tracking_number:
        text.append(_("Tracking number: {number}").format(number=order.tracking_number))
    buttons = partner_actions(order, locale)
    return Buttons("\n".join(text), tuple(buttons)) if buttons else Text("\n".join(text))


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
    if event.to_status not in texts or (event.to_status == st.CANCELLED and event.by == "buyer"):
        return None
    text = texts[event.to_status].format(partner=partner, code=code, note=event.note or "-")
    if event.to_status == st.SHIPPING and order.tracking_number:
        text += "\n" + _("Tracking number: {number}").format(number=order.tracking_number)
    return Buttons(text, (Button(_("Order {code}").format(code=code), f"status:{code}"),))


def payment_request(order: Order, locale: str) -> Reply:
    """The VietQR code of an order to pay by transfer (served by bot/payments.py), with the same details as
    text for buyers who type the transfer in their bank app."""
    _ = i18n.translations(locale).gettext
    partner = order.partner
    assert partner is not None and partner.bank_bin and partner.bank_account
    details = [
        _("Transfer for order {code}: {amount}").format(code=order.code, amount=i18n.money(order.total, locale)),
        _("Bank: {bank}").format(bank=BANKS.get(partner.bank_bin, partner.bank_bin)),
        _("Account number: {account}").format(account=partner.bank_account),
        _("Account name: {name}").format(name=partner.bank_account_name),
        _("Transfer memo: {code}").format(code=order.code),
        _("Scan the code with your bank app: amount and memo are filled in."),
    ]
    return Image(f"/pay/{order.code}.png", "\n".join(details))
