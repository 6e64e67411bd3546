"""The partner trading cooperatives of the demo, with their coverage, categories, fees and capacities."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import Partner
from orders.vietqr import BANKS

# Fresh vegetables travel only within the region; fruit also goes anywhere by carrier (the first issue's rules).
DEMO_PARTNERS: list[dict[str, Any]] = [
    {
        "code": "TM-PHANTHIET",
        "name": "HTX Thương mại Dịch vụ Phan Thiết",
        "provinces": ["Lâm Đồng"],
        "shipping_fee": 15000,
        "free_shipping_from": 300000,
        "daily_capacity": 200,
        "accept_timeout_minutes": 60,
        # Demo receiving accounts (not real): buyers may pay these partners by VietQR transfer.
        "bank_bin": "970446",
        "bank_account": "0101234567890",
        "bank_account_name": "HTX TM DV PHAN THIET",
    },
    {
        "code": "TM-SAIGON",
        "name": "HTX Thương mại Nông sản Sài Gòn",
        "provinces": ["Hồ Chí Minh", "Đồng Nai"],
        "shipping_fee": 30000,
        "min_order": 50000,
        "daily_capacity": 300,
        "accept_timeout_minutes": 60,
    },
    {
        "code": "TM-TOANQUOC",
        "name": "HTX Thương mại Nông sản Việt",
        "provinces": [],
        "categories": ["thanh long"],
        "shipping_fee": 45000,
        "min_order": 100000,
        "daily_capacity": 500,
        "accept_timeout_minutes": 120,
        "by_carrier": True,
        "bank_bin": "970436",
        "bank_account": "1023456789",
        "bank_account_name": "HTX TM NONG SAN VIET",
    },
]


async def load_demo_partners(session: AsyncSession) -> int:
    """Add the demo partners unless partners already exist. Returns how many were added."""
    if await session.scalar(select(func.count()).select_from(Partner)):
        return 0
    created, _ = await save_partners(session, [PartnerRules(**partner) for partner in DEMO_PARTNERS])
    return created


class PartnerRules(BaseModel):
    """One partner as written in a partners file (`htx partner load FILE.json`, docs/partners.md)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=2, max_length=200)
    provinces: list[str] = []
    wards: list[str] = []
    categories: list[str] = []
    min_order: int = Field(0, ge=0)
    daily_capacity: int | None = Field(None, ge=1)
    shipping_fee: int = Field(ge=0)
    free_shipping_from: int | None = Field(None, ge=0)
    accept_timeout_minutes: int = Field(120, ge=1, le=7 * 24 * 60)
    by_carrier: bool = False
    active: bool = True
    # The receiving account for VietQR transfers: all three, or none (the partner then takes cash only).
    bank_bin: str | None = None
    bank_account: str | None = Field(None, pattern=r"^[0-9A-Za-z]{1,19}$")
    bank_account_name: str | None = Field(None, min_length=2, max_length=100)

    @model_validator(mode="after")
    def _whole_bank_account(self) -> PartnerRules:
        given = [self.bank_bin, self.bank_account, self.bank_account_name]
        if any(given) and not all(given):
            raise ValueError("give bank_bin, bank_account and bank_account_name together, or none of them")
        if self.bank_bin is not None and self.bank_bin not in BANKS:
            raise ValueError(f"unknown bank BIN {self.bank_bin} (orders/vietqr.py lists the known ones)")
        return self


async def save_partners(session: AsyncSession, partners: list[PartnerRules]) -> tuple[int, int]:
    """Create or update partners by code (webhooks, tokens, chats and today's load are kept). Returns
    (created, updated)."""
    created = updated = 0
    for rules in partners:
        values = rules.model_dump()
        values["code"] = rules.code.upper()
        partner = await session.scalar(select(Partner).where(Partner.code == values["code"]))
        if partner is None:
            session.add(Partner(**values))
            created += 1
        else:
            for key, value in values.items():
                setattr(partner, key, value)
            updated += 1
    await session.flush()
    return created, updated
