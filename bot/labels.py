"""QR labels for packaging (`htx qr labels`): an A4 PDF sheet, one label per product or harvest batch, each QR the
address of its traceability page."""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n
from bot.db import make_engine, make_sessionmaker, migrate
from bot.settings import Settings
from bot.trace_page import QUIET_ZONE, day, page_url, qr_code
from catalog.origin import origin_of
from catalog.queries import get_cooperative, list_products

# Labels are printed for Vietnamese packaging, whatever language the service's chats default to.
LABEL_LOCALE = "vi"
# 3 x 7 labels of 70 x 42.3 mm fill an A4 sheet edge to edge, the common self-adhesive sheet (e.g. Avery 3652).
COLUMNS, ROWS = 3, 7
LABEL_WIDTH, LABEL_HEIGHT = A4[0] / COLUMNS, A4[1] / ROWS
PADDING = 3 * mm
# 32 mm with its 4-module quiet zone: modules of about 0.8 mm, which phone cameras read from arm's length.
QR_SIZE = 32 * mm
QR_LEFT = 1 * mm  # the quiet zone is white margin enough
TEXT_LEFT = QR_LEFT + QR_SIZE + 1 * mm
NAME_LINES = 3
# DejaVu Sans has every Vietnamese letter; matplotlib (a dependency) ships it, so every machine has it.
FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"


class LabelError(ValueError):
    """A cooperative or batch that cannot be labelled, with the reason to show."""


@dataclass(frozen=True)
class Label:
    """What one label shows: the code its QR leads to, the product, its cooperative, and a batch's harvest day."""

    code: str
    product: str
    cooperative: str
    harvested_on: date | None = None


async def labels_for(session: AsyncSession, cooperative_code: str, batch_codes: Sequence[str] = ()) -> list[Label]:
    """One label per product the cooperative offers (hidden ones left out), or one per given harvest batch.

    Raises `LabelError` for an unknown cooperative, an unknown batch or another cooperative's batch.
    """
    cooperative = await get_cooperative(session, cooperative_code)
    if cooperative is None:
        raise LabelError(f"no cooperative with code {cooperative_code}")
    if not batch_codes:
        products = await list_products(session, cooperative.code)
        return [Label(product.sku, product.name, cooperative.name) for product in products]
    labels = []
    for code in batch_codes:
        origin = await origin_of(session, code)
        if origin is None or origin.batch is None:
            raise LabelError(f"no harvest batch with code {code}")
        if origin.cooperative.id != cooperative.id:
            raise LabelError(f"batch {origin.batch.code} is of {origin.cooperative.code}, not {cooperative.code}")
        labels.append(Label(origin.batch.code, origin.product.name, cooperative.name, origin.batch.harvested_on))
    return labels


def label_sheet(labels: Sequence[Label], base: str) -> bytes:
    """The labels as an A4 PDF, 21 to a page, each with the QR of `page_url(base, code)` and its text in
    Vietnamese; the QR is drawn as vector squares, sharp at any printer resolution."""
    _register_fonts()
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=FONT)
    pdf.setTitle("HTX Connect QR labels")
    per_page = COLUMNS * ROWS
    for index, label in enumerate(labels):
        if index and index % per_page == 0:
            pdf.showPage()
        row, column = divmod(index % per_page, COLUMNS)
        _draw_label(pdf, label, base, column * LABEL_WIDTH, A4[1] - (row + 1) * LABEL_HEIGHT)
    pdf.save()
    return buffer.getvalue()


def _draw_label(pdf: Canvas, label: Label, base: str, x: float, y: float) -> None:
    _ = i18n.translations(LABEL_LOCALE).gettext
    # A hairline frame to cut along when the sheet is plain paper.
    pdf.setStrokeGray(0.85)
    pdf.setLineWidth(0.3)
    pdf.rect(x, y, LABEL_WIDTH, LABEL_HEIGHT)
    _draw_qr(pdf, page_url(base, label.code), x + QR_LEFT, y + (LABEL_HEIGHT - QR_SIZE) / 2, QR_SIZE)
    left = x + TEXT_LEFT
    width = LABEL_WIDTH - TEXT_LEFT - PADDING
    top = y + LABEL_HEIGHT - PADDING - 9
    pdf.setFillGray(0)
    name = simpleSplit(label.product, BOLD, 9.5, width)
    if len(name) > NAME_LINES:
        name = [*name[: NAME_LINES - 1], name[NAME_LINES - 1].rstrip() + "…"]
    for line in name:
        pdf.setFont(BOLD, 9.5)
        pdf.drawString(left, top, line)
        top -= 11.5
    lines: list[tuple[str, float]] = [(label.cooperative, 7)]
    if label.harvested_on:
        lines.append((_("Harvested %(date)s") % {"date": day(label.harvested_on)}, 7.5))
    lines.append((label.code, 7.5))
    for text, size in lines:
        for line in simpleSplit(text, FONT, size, width)[:2]:
            pdf.setFont(FONT, size)
            pdf.drawString(left, top, line)
            top -= size + 2
    pdf.setFont(FONT, 6.5)
    pdf.setFillGray(0.3)
    pdf.drawString(left, y + PADDING, _("Scan for the origin"))


def _draw_qr(pdf: Canvas, url: str, x: float, y: float, size: float) -> None:
    """Dark modules as one filled path of squares (each row's runs merged, so no seams show between them); the
    white quiet zone is the label's own paper."""
    rows = [list(row) for row in qr_code(url).matrix_iter(border=QUIET_ZONE)]
    module = size / len(rows)
    path = pdf.beginPath()
    for number, row in enumerate(rows):
        top = y + size - (number + 1) * module
        start = None
        for column, dark in enumerate([*row, False]):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                path.rect(x + start * module, top, (column - start) * module, module)
                start = None
    pdf.setFillGray(0)
    pdf.drawPath(path, stroke=0, fill=1)


@cache
def _register_fonts() -> None:
    import matplotlib  # only to find its fonts: importing it costs every `htx` command about half a second

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(fonts / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(fonts / "DejaVuSans-Bold.ttf")))


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `htx qr labels`."""
    qr = commands.add_parser("qr", help="QR codes of the traceability pages (/p/<code>)")
    sub = qr.add_subparsers(dest="qr_command", required=True)
    labels = sub.add_parser(
        "labels",
        help="write an A4 PDF of QR labels for packaging, one per product of a cooperative or per harvest batch",
        description="Write an A4 sheet (3 x 7 labels of 70 x 42 mm) of QR labels: each QR opens the product's or "
        "batch's traceability page at --base (default: HTX_PUBLIC_URL). Exit status 1 without a base URL, for an "
        "unknown cooperative or batch, or a file that cannot be written.",
    )
    labels.add_argument("--coop", required=True, metavar="CODE", help="the cooperative, e.g. HAMDUC")
    labels.add_argument("file", type=Path, help="FILE.pdf")
    labels.add_argument(
        "--batch",
        action="append",
        default=[],
        metavar="CODE",
        help="a label for this harvest batch (repeat for more) instead of one per product",
    )
    labels.add_argument("--base", metavar="URL", help="the public https address of the service (HTX_PUBLIC_URL)")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """`htx qr labels`: write the sheet; the exit status. A file that cannot be written raises `OSError`."""
    base = args.base or settings.public_url
    if not base or not base.startswith(("https://", "http://")):
        print("labels need the public address their QR codes open: set HTX_PUBLIC_URL or pass --base https://...")
        return 1
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine)() as session:
            labels = await labels_for(session, args.coop.strip().upper(), [code.strip().upper() for code in args.batch])
        if not labels:
            print(f"{args.coop.upper()} offers no products to label")
            return 1
        args.file.write_bytes(label_sheet(labels, base))
    except LabelError as error:
        print(error)
        return 1
    finally:
        await engine.dispose()
    print(f"{len(labels)} labels for {base.rstrip('/')}/p/... written to {args.file}")
    return 0
