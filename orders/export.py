"""The accounting export: the orders created on a span of Vietnam days, and their lines, as an Excel workbook."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import VIETNAM, Cooperative, Product
from orders.models import Order, OrderEvent, OrderLine, Partner
from orders.reports import vietnam_span
from orders.status import DELIVERED

MONEY = "#,##0"
MOMENT = "yyyy-mm-dd hh:mm"
# (header, width in characters, number format) of each column, in sheet order.
ORDER_COLUMNS = [
    ("Order code", 12, None),
    ("Checkout code", 14, None),
    ("Created at (Vietnam time)", 18, MOMENT),
    ("Status", 11, None),
    ("Partner code", 15, None),
    ("Partner", 34, None),
    ("Buyer", 24, None),
    ("Phone", 13, None),
    ("Address", 44, None),
    ("Province", 16, None),
    ("Payment method", 10, None),
    ("Payment status", 10, None),
    ("Subtotal", 12, MONEY),
    ("Shipping fee", 12, MONEY),
    ("Total", 12, MONEY),
    ("Delivered at (Vietnam time)", 18, MOMENT),
]
LINE_COLUMNS = [
    ("Order code", 12, None),
    ("SKU", 18, None),
    ("Product", 36, None),
    ("Cooperative code", 12, None),
    ("Cooperative", 32, None),
    ("Quantity", 10, None),
    ("Unit", 8, None),
    ("Unit price", 12, MONEY),
    ("Amount", 12, MONEY),
]


async def export_orders(session: AsyncSession, path: str | Path, first: date, last: date) -> int:
    """Write the orders created from Vietnam day `first` to `last` (inclusive) to an .xlsx file: sheet "Orders",
    one row per order, and sheet "Lines", one row per order line. Money and quantities are numbers, times are
    Vietnam time. Returns how many orders were written; raises `OSError` when the file cannot be written."""
    start, end = vietnam_span(first, last)
    in_span = (Order.created_at >= start, Order.created_at < end)
    delivered = (
        select(OrderEvent.order_id, func.max(OrderEvent.at).label("at"))
        .where(OrderEvent.to_status == DELIVERED)
        .group_by(OrderEvent.order_id)
        .subquery()
    )
    orders = (
        await session.execute(
            select(
                Order.code,
                Order.checkout_code,
                Order.created_at,
                Order.status,
                Partner.code,
                Partner.name,
                Order.buyer_name,
                Order.buyer_phone,
                Order.buyer_address,
                Order.province,
                Order.payment_method,
                Order.payment_status,
                Order.subtotal,
                Order.shipping_fee,
                Order.total,
                delivered.c.at,
            )
            .outerjoin(Partner, Partner.id == Order.partner_id)
            .outerjoin(delivered, delivered.c.order_id == Order.id)
            .where(*in_span)
            .order_by(Order.created_at, Order.id)
        )
    ).all()
    lines = (
        await session.execute(
            select(
                Order.code,
                OrderLine.sku,
                OrderLine.name,
                Cooperative.code,
                Cooperative.name,
                OrderLine.quantity,
                OrderLine.unit,
                OrderLine.unit_price,
                OrderLine.amount,
            )
            .join(Order, Order.id == OrderLine.order_id)
            .outerjoin(Product, Product.id == OrderLine.product_id)
            .outerjoin(Cooperative, Cooperative.id == Product.cooperative_id)
            .where(*in_span)
            .order_by(Order.created_at, Order.id, OrderLine.id)
        )
    ).all()
    with Path(path).open("wb") as file:  # fails early, before any sheet is built
        workbook = Workbook(write_only=True)
        _write_sheet(workbook.create_sheet("Orders"), ORDER_COLUMNS, orders)
        _write_sheet(workbook.create_sheet("Lines"), LINE_COLUMNS, lines)
        workbook.save(file)
    return len(orders)


def _write_sheet(sheet: Any, columns: Sequence[tuple[str, int, str | None]], rows: Iterable[Sequence[object]]) -> None:
    """A bold header row that stays in view, set widths, and the rows with their number formats."""
    sheet.freeze_panes = "A2"
    for index, (title, width, _format) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(width, len(title) + 2)
    bold = Font(bold=True)
    header = []
    for title, _width, _format in columns:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for value, (_, _width, number_format) in zip(row, columns, strict=True):
            cell = WriteOnlyCell(sheet, value=_excel(value))
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # a buyer who types "=..." as their name gets text, not a formula
            if number_format and value is not None:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)


def _excel(value: object) -> object:
    """Excel has no time zones: a moment is written as Vietnam wall-clock time."""
    if isinstance(value, datetime):
        return value.astimezone(VIETNAM).replace(tzinfo=None)
    return value
