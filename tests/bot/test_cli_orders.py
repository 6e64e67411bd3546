"""`htx orders export` and `htx orders route`, run through `bot.cli.main` on the test database."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main
from catalog.models import vietnam_day
from catalog.queries import get_product
from orders.cart import add_to_cart
from orders.customers import get_or_create_customer
from orders.lifecycle import act
from orders.models import Order, Partner
from orders.placing import Buyer, Chat, place_order

LAM_DONG = Buyer("Nguyễn Thị Lan", "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng")


@pytest.fixture
def htx(engine, tmp_path, monkeypatch, capsys):
    """Run `htx ARGS` in a thread (it runs its own event loop) on the test database; (exit status, stdout)."""
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("HTX_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # `htx` sets up logging for the whole process

    def run(*argv: str) -> int:
        try:
            main(list(argv))
        except SystemExit as exit:
            return int(exit.code or 0)
        return 0

    async def call(*argv: str) -> tuple[int, str]:
        status = await asyncio.to_thread(run, *argv)
        return status, capsys.readouterr().out

    yield call
    root.handlers[:], root.level = handlers, level


async def ordered(sessions, sku: str, quantity: str, buyer_id: str) -> str:
    async with sessions.begin() as session:
        customer = await get_or_create_customer(session, "web", buyer_id)
        await add_to_cart(session, customer, await get_product(session, sku), Decimal(quantity))
        [order] = await place_order(session, customer, LAM_DONG, Chat("web", buyer_id))
        return order.code


async def escalated(sessions) -> str:
    """2 kg dragon fruit (70.000 đ) to Lâm Đồng, rejected by TM-PHANTHIET: below TM-TOANQUOC's minimum."""
    code = await ordered(sessions, "TL-RD-HD", "2", "escalated")
    async with sessions.begin() as session:
        order = await session.scalar(select(Order).where(Order.code == code))
        await act(session, order.partner, code, "rejected")
        assert order.status == "escalated"
    return code


async def test_orders_export_writes_the_days_orders_and_says_how_many(htx, sessions, tmp_path):
    codes = {await ordered(sessions, "RAU-CACHUA-TP", "1", buyer) for buyer in ("a", "b")}
    today = vietnam_day().isoformat()

    status, said = await htx("orders", "export", "--from", today, "--to", today, "orders.xlsx")

    assert status == 0, said
    assert "exported 2 orders" in said
    workbook = load_workbook(tmp_path / "orders.xlsx")
    assert {row[0] for row in workbook["Orders"].iter_rows(min_row=2, values_only=True)} == codes
    assert workbook["Lines"].max_row == 3


@pytest.mark.parametrize(
    ("first", "last", "file", "message"),
    [
        ("2025-02-30", "2025-03-01", "orders.xlsx", "--from 2025-02-30: not a date"),
        ("2025-03-01", "1/3/2025", "orders.xlsx", "--to 1/3/2025: not a date"),
        ("2025-03-02", "2025-03-01", "orders.xlsx", "--to 2025-03-01 is before --from 2025-03-02"),
        ("2025-03-01", "2025-03-01", "orders.csv", "name it FILE.xlsx"),
        ("2025-03-01", "2025-03-01", "missing/orders.xlsx", "No such file or directory"),
    ],
)
async def test_orders_export_refuses_bad_dates_and_files_it_cannot_write(htx, tmp_path, first, last, file, message):
    status, said = await htx("orders", "export", "--from", first, "--to", last, file)
    assert status == 1
    assert message in said
    assert not list(tmp_path.rglob("*.xlsx")) and not list(tmp_path.rglob("*.csv"))


async def test_orders_route_sends_an_escalated_order_to_a_partner_that_can_now_take_it(htx, sessions):
    code = await escalated(sessions)

    status, said = await htx("orders", "route", code)
    assert status == 1 and f"order {code} is still escalated" in said

    async with sessions.begin() as session:
        nationwide = await session.scalar(select(Partner).where(Partner.code == "TM-TOANQUOC"))
        nationwide.min_order = 50000
    status, said = await htx("orders", "route", code.lower())
    assert status == 0, said
    assert f"order {code} routed to TM-TOANQUOC (HTX Thương mại Nông sản Việt)" in said
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.code == code))
        assert (order.status, order.partner.code) == ("routed", "TM-TOANQUOC")
        assert [(e.from_status, e.to_status, e.by) for e in order.events][-1] == ("escalated", "routed", "cli")


async def test_orders_route_refuses_an_unknown_order_and_one_that_is_not_escalated(htx, sessions):
    routed = await ordered(sessions, "RAU-CACHUA-TP", "1", "a")

    status, said = await htx("orders", "route", "DHNOPE00")
    assert status == 1 and "no order with code DHNOPE00" in said
    status, said = await htx("orders", "route", routed)
    assert status == 1 and f"order {routed} is routed: only an escalated order can be routed again" in said
