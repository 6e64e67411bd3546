"""The accounting export read back with openpyxl: Vietnam days, values and their types, both sheets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from catalog.models import VIETNAM
from catalog.queries import get_product
from orders.cart import add_to_cart
from orders.customers import get_or_create_customer
from orders.export import export_orders
from orders.lifecycle import act
from orders.models import Order, OrderEvent
from orders.placing import Buyer, Chat, place_order

DAY = date(2025, 3, 10)


def vietnam(day: date, hour: int, minute: int = 0) -> datetime:
    """A Vietnam wall-clock moment as the UTC timestamp the database keeps."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VIETNAM).astimezone(UTC)


async def placed(session, buyer_id: str, created: datetime, *items: tuple[str, str], name: str = "Nguyễn Thị Lan"):
    """An order to Lâm Đồng (TM-PHANTHIET) of `items` (sku, quantity), created at `created`."""
    customer = await get_or_create_customer(session, "web", buyer_id)
    for sku, quantity in items:
        await add_to_cart(session, customer, await get_product(session, sku), Decimal(quantity))
    buyer = Buyer(name, "0912345678", "12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng", "Phường Phan Thiết")
    [order] = await place_order(session, customer, buyer, Chat("web", buyer_id))
    order.created_at = created
    await session.flush()
    return order


async def delivered(session, order: Order, moment: datetime) -> None:
    for to in ("accepted", "shipping", "delivered"):
        await act(session, order.partner, order.code, to)
    await session.execute(
        update(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.to_status == "delivered").values(at=moment)
    )


def rows(path, sheet: str) -> list[tuple]:
    return list(load_workbook(path)[sheet].iter_rows(values_only=True))


async def test_the_export_takes_whole_vietnam_days_both_ends_included(session, tmp_path):
    before = await placed(session, "a", vietnam(DAY - timedelta(days=1), 23, 59), ("RAU-CACHUA-TP", "1"))
    first = await placed(session, "b", vietnam(DAY, 0, 0), ("RAU-CACHUA-TP", "1"))  # 9 March 17:00 UTC
    last = await placed(session, "c", vietnam(DAY + timedelta(days=1), 23, 59), ("RAU-CACHUA-TP", "1"))
    after = await placed(session, "d", vietnam(DAY + timedelta(days=2), 0, 0), ("RAU-CACHUA-TP", "1"))

    path = tmp_path / "orders.xlsx"
    assert await export_orders(session, path, DAY, DAY + timedelta(days=1)) == 2

    assert [row[0] for row in rows(path, "Orders")[1:]] == [first.code, last.code]
    assert [row[0] for row in rows(path, "Lines")[1:]] == [first.code, last.code]
    assert await export_orders(session, path, DAY + timedelta(days=2), DAY + timedelta(days=2)) == 1
    assert [row[0] for row in rows(path, "Orders")[1:]] == [after.code]
    assert await export_orders(session, path, DAY - timedelta(days=1), DAY - timedelta(days=1)) == 1
    assert [row[0] for row in rows(path, "Orders")[1:]] == [before.code]


async def test_orders_and_lines_are_written_as_numbers_and_vietnam_times(session, tmp_path):
    order = await placed(session, "lan", vietnam(DAY, 8, 30), ("RAU-CACHUA-TP", "1.5"), ("TL-HOP-HL", "2"))
    await delivered(session, order, vietnam(DAY, 16, 45))
    path = tmp_path / "orders.xlsx"

    assert await export_orders(session, path, DAY, DAY) == 1

    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Orders", "Lines"]
    orders, lines = workbook["Orders"], workbook["Lines"]
    header, row = [[cell.value for cell in r] for r in orders.iter_rows()]
    assert header == [
        "Order code",
        "Checkout code",
        "Created at (Vietnam time)",
        "Status",
        "Partner code",
        "Partner",
        "Buyer",
        "Phone",
        "Address",
        "Province",
        "Payment method",
        "Payment status",
        "Subtotal",
        "Shipping fee",
        "Total",
        "Delivered at (Vietnam time)",
    ]
    assert row == [
        order.code,
        order.code,
        datetime(2025, 3, 10, 8, 30),
        "delivered",
        "TM-PHANTHIET",
        "HTX Thương mại Dịch vụ Phan Thiết",
        "Nguyễn Thị Lan",
        "0912345678",
        "12 Nguyễn Tất Thành, Phan Thiết",
        "Lâm Đồng",
        "cod",
        "unpaid",
        545000,
        0,
        545000,
        datetime(2025, 3, 10, 16, 45),
    ]
    assert all(type(value) is int for value in row[12:15])
    box = "Hộp quà thanh long Hòa Lễ 5 kg"
    assert [list(r) for r in lines.iter_rows(values_only=True)] == [
        ["Order code", "SKU", "Product", "Cooperative code", "Cooperative", "Quantity", "Unit", "Unit price", "Amount"],
        [order.code, "RAU-CACHUA-TP", "Cà chua", "TIENPHAT", "HTX Rau an toàn Tiến Phát", 1.5, "kg", 30000, 45000],
        [order.code, "TL-HOP-HL", box, "HOALE", "HTX Thanh long Hòa Lễ", 2, "hộp", 250000, 500000],
    ]
    for sheet in (orders, lines):
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.bold for cell in sheet[1])
        assert sheet.column_dimensions["C"].width >= 12
    assert orders.column_dimensions["I"].width > lines.column_dimensions["A"].width  # addresses are long
    assert orders["M2"].number_format == "#,##0" and orders["C2"].number_format == "yyyy-mm-dd hh:mm"


async def test_an_order_not_delivered_has_no_delivery_time_and_a_formula_like_name_stays_text(session, tmp_path):
    order = await placed(session, "eve", vietnam(DAY, 9), ("RAU-CACHUA-TP", "1"), name='=HYPERLINK("http://x","y")')
    path = tmp_path / "orders.xlsx"
    await export_orders(session, path, DAY, DAY)
    sheet = load_workbook(path)["Orders"]
    assert sheet["A2"].value == order.code and sheet["P2"].value is None
    assert (sheet["G2"].value, sheet["G2"].data_type) == ('=HYPERLINK("http://x","y")', "s")


async def test_a_span_without_orders_writes_the_headers_only(session, tmp_path):
    path = tmp_path / "empty.xlsx"
    assert await export_orders(session, path, DAY, DAY) == 0
    assert len(rows(path, "Orders")) == 1 and len(rows(path, "Lines")) == 1


async def test_an_unwritable_file_raises_before_anything_is_written(session, tmp_path):
    with pytest.raises(OSError):
        await export_orders(session, tmp_path / "missing" / "orders.xlsx", DAY, DAY)
    assert not (tmp_path / "missing").exists()
