"""The one object every conversation step receives: the message, the database, the buyer, and `say()`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.nlu.parse import Parsed
from bot.settings import Settings
from catalog.search import ProductIndex
from channels.types import Button, Buttons, Incoming, Reply, Text
from orders.models import Customer

# A step returns the conversation's next state, None to end the flow, or NOT_MINE to let the
# message fall through to the entry intents (a buyer at "checkout.name" who types "mua 2 ký cà chua").
NOT_MINE = "__not_mine__"
Step = Callable[["Context"], Awaitable[str | None]]


@dataclass
class Context:
    """Everything one turn needs; steps read from it and answer through `say`."""

    incoming: Incoming
    session: AsyncSession
    customer: Customer
    index: ProductIndex
    parsed: Parsed | None
    state: str | None
    data: dict[str, Any]
    locale: str
    # The service's settings: where it is reachable (links in text), how long a transfer may take.
    settings: Settings
    replies: list[Reply] = field(default_factory=list)
    # Messages for other chats (a cooperative's accounts), written to the outbox with this turn's replies.
    notifications: list[tuple[str, str, Reply]] = field(default_factory=list)

    def _(self, message: str) -> str:
        """Translate a message into the conversation's language."""
        return i18n.translations(self.locale).gettext(message)

    def say(self, text: str, buttons: Sequence[Button] = ()) -> None:
        """Queue a reply, with buttons when given."""
        self.replies.append(Buttons(text, tuple(buttons)) if buttons else Text(text))

    def reply(self, reply: Reply) -> None:
        """Queue a reply built elsewhere (cards, images)."""
        self.replies.append(reply)

    def notify(self, channel: str, chat_id: str, text: str) -> None:
        """Queue a message to another chat, sent as a notification (not a reply) by the outbox."""
        self.notifications.append((channel, chat_id, Text(text)))

    def money(self, amount: int) -> str:
        """Money in the conversation's locale."""
        return i18n.money(amount, self.locale)

    def qty(self, value: Decimal) -> str:
        """A quantity in the conversation's locale."""
        return i18n.quantity(value, self.locale)

    def when(self, moment: datetime) -> str:
        """A timestamp in Vietnam's time zone, in the conversation's locale."""
        return i18n.when(moment, self.locale)

    @property
    def payload(self) -> str | None:
        """The button payload of this message, if a button was tapped."""
        return self.incoming.payload

    @property
    def buyer(self) -> dict[str, str]:
        """Checkout details gathered so far in this conversation."""
        buyer: dict[str, str] = self.data.setdefault("buyer", {})
        return buyer
