"""The partner trading cooperatives of the demo; routing orders to them comes with issue 6."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import Partner

DEMO_PARTNERS: list[dict[str, Any]] = [
    {
        "code": "TM-PHANTHIET",
        "name": "HTX Thương mại Dịch vụ Phan Thiết",
        "provinces": ["Lâm Đồng"],
        "shipping_fee": 15000,
        "free_shipping_from": 300000,
    },
    {
        "code": "TM-SAIGON",
        "name": "HTX Thương mại Nông sản Sài Gòn",
        "provinces": ["TP. Hồ Chí Minh", "Đồng Nai"],
        "shipping_fee": 30000,
    },
    {
        "code": "TM-TOANQUOC",
        "name": "HTX Thương mại Nông sản Việt",
        "provinces": [],
        "shipping_fee": 45000,
        "fruit_only": True,
        "by_carrier": True,
    },
]


async def load_demo_partners(session: AsyncSession) -> int:
    """Add the demo partners unless partners already exist. Returns how many were added."""
    if await session.scalar(select(func.count()).select_from(Partner)):
        return 0
    for partner in DEMO_PARTNERS:
        session.add(Partner(**partner))
    await session.flush()
    return len(DEMO_PARTNERS)
