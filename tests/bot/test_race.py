"""Buyers racing for the last units: stock is reserved atomically and never oversold."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select, update

from catalog.models import Product
from orders.models import Order
from tests.conftest import joined

BUYERS = 50
LEFT = 10


async def test_fifty_concurrent_confirmations_sell_exactly_the_last_ten_units(chat, client, sessions):
    async with sessions.begin() as session:
        await session.execute(update(Product).where(Product.sku == "TL-HC-PH").values(stock=LEFT))
    for n in range(BUYERS):
        await chat(
            f"buyer-{n}",
            text=f"mua 1 kg thanh long hữu cơ phú hội, tên Khách {chr(65 + n % 26)}, sđt 09123456{n:02d}, "
            "giao 12 Nguyễn Tất Thành, Phan Thiết",
        )
        await chat(f"buyer-{n}", payload="pay:cod")

    answers = await asyncio.gather(*(chat(f"buyer-{n}", payload="confirm") for n in range(BUYERS)))

    texts = [joined(replies) for replies in answers]
    sold = [t for t in texts if re.search(r"DH[0-9A-Z]{6} đã được đặt", t)]
    refused = [t for t in texts if "hiện đã hết hàng" in t]
    assert len(sold) == LEFT
    assert len(refused) == BUYERS - LEFT
    async with sessions() as session:
        assert await session.scalar(select(Product.stock).where(Product.sku == "TL-HC-PH")) == 0
        assert await session.scalar(select(func.count()).select_from(Order)) == LEFT
