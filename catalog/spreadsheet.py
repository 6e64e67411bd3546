"""Bulk catalogue import and export: an Excel (.xlsx) or CSV sheet with one product per row, matched by SKU.

`read_table` reads a sheet into dicts keyed by column (Vietnamese or English headers, any case, with or without
diacritics); `import_rows` checks every row, then creates or updates products in the caller's transaction, or
writes nothing when a row is bad (unless told to skip bad rows); `export_products` writes the same columns, so an
export imports back unchanged. The format is described in docs/catalogue-format.md.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Cooperative, Product, ProductChange
from catalog.search import fold

# The columns, in the order an export writes them (English names; imports accept the Vietnamese ones too).
COLUMNS = (
    "sku",
    "name",
    "cooperative",
    "category",
    "unit",
    "unit_weight_kg",
    "price",
    "stock",
    "certifications",
    "ocop_stars",
    "image_url",
    "aliases",
    "origin",
)
# A file must have these; `cooperative` too unless the import is for one cooperative. An optional column left
# out of the file leaves that field of existing products as it is (a new product gets it blank).
REQUIRED = ("sku", "name", "unit", "price", "stock")

# Header names each column is known by, folded (lower case, no diacritics, words split by spaces, anything in
# brackets dropped: "Giá (đồng)" is "gia").
HEADERS = {
    "sku": ("sku", "ma sku", "ma", "ma sp", "ma san pham", "ma hang", "product code"),
    "name": ("name", "product", "product name", "ten", "ten sp", "ten san pham", "ten hang", "san pham"),
    "cooperative": ("cooperative", "coop", "cooperative code", "htx", "ma htx", "hop tac xa"),
    "category": ("category", "loai", "loai hang", "danh muc", "nhom", "nhom hang"),
    "unit": ("unit", "sale unit", "don vi", "don vi tinh", "dvt", "don vi ban"),
    "unit_weight_kg": ("unit weight kg", "unit weight", "weight kg", "weight", "khoi luong", "trong luong"),
    "price": ("price", "gia", "gia ban", "don gia"),
    "stock": ("stock", "ton kho", "ton", "so luong ton", "con"),
    "certifications": ("certifications", "certification", "chung nhan"),
    "ocop_stars": ("ocop stars", "ocop", "sao ocop", "ocop sao"),
    "image_url": ("image url", "image", "anh", "hinh", "hinh anh", "link anh", "url anh"),
    "aliases": ("aliases", "alias", "ten khac", "ten goi khac"),
    "origin": ("origin", "xuat xu", "nguon goc"),
}
_COLUMN_BY_HEADER = {header: column for column, headers in HEADERS.items() for header in headers}

UNITS = ("kg", "g", "hộp", "bó", "thùng", "trái", "quả", "chục", "bịch", "túi", "gói", "giỏ", "cái")
_UNIT_BY_FOLD = {fold(unit): unit for unit in UNITS} | {
    "ky": "kg",
    "ki": "kg",
    "kilo": "kg",
    "kilogram": "kg",
    "gr": "g",
    "gram": "g",
}

ROW = "_row"  # the key under which `read_table` passes each row's number in the sheet
PROGRESS_EVERY = 1000
MAX_PRICE = 2**31 - 1  # an INTEGER column on PostgreSQL
MAX_QUANTITY = Decimal("999999999.999")  # NUMERIC(12, 3)
THOUSANDTH = Decimal("0.001")
_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_IMAGE_URL = re.compile(r"(https?://|/)\S*")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_SPACE = re.compile(r"\s+")
_PRICE_K = re.compile(r"(\d+(?:[.,]\d+)?)(?:k|nghin|ngan)")
_GROUPED = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*")
_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
_OCOP = re.compile(r"([1-5])(?:\.0+)?(?:sao|\*|★)?")
_SEARCH_HEADER_ROWS = 10  # a title or a note may sit above the header


class CatalogueFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, no header, a required column missing)."""


@dataclass(frozen=True)
class Rejection:
    """A row left out of the import, and why."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did, or (dry run, or blocked by bad rows) would do. Counts are SKUs, in file order."""

    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    skip_bad: bool = False
    written: bool = False

    @property
    def blocked(self) -> bool:
        """Bad rows stopped the import (or would have, in a dry run)."""
        return bool(self.rejected) and not self.skip_bad

    def lines(self) -> list[str]:
        """The report as printed by `htx catalog import`."""
        lines = [f"ignored columns: {', '.join(self.ignored_columns)}"] if self.ignored_columns else []
        lines += [
            f"created: {len(self.created)}",
            f"updated: {len(self.updated)}",
            f"unchanged: {len(self.unchanged)}",
            f"rejected: {len(self.rejected)}",
        ]
        lines += [f"  {rejection}" for rejection in self.rejected]
        good = self.rows - len(self.rejected)
        if self.blocked:
            would = "would import nothing" if self.dry_run else "nothing imported"
            lines.append(
                f"{would}: fix the rejected rows, or import the other {good} with --skip-bad-rows"
                + (" (dry run)" if self.dry_run else "")
            )
        elif self.dry_run:
            lines.append(f"dry run: {good} good rows, nothing written")
        else:
            done = f"imported {good} rows in one transaction" if self.created or self.updated else "nothing to change"
            lines.append(done + (f", {len(self.rejected)} rejected rows left out" if self.rejected else ""))
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


# Reading


@cache
def column_for(header: str) -> str | None:
    """The column a header names ("Tồn kho", "ton kho", "STOCK", "unit_weight_kg" ...), or None."""
    folded = _BRACKETS.sub(" ", fold(header))
    return _COLUMN_BY_HEADER.get(_NOT_WORD.sub(" ", folded).strip())


def read_table(path: str | Path) -> Iterator[dict[str, object]]:
    """The data rows of an .xlsx or .csv file, as {column: cell value, ROW: row number}, blank rows left out.

    The header is the first of the first ten rows that has a SKU column (of the first sheet that has one).
    Known headers become column names; unknown ones stay as written (`import_rows` reports them as ignored).
    Raises `CatalogueFileError` at once when the file cannot be read or has no header.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_records(path)
    if suffix in (".csv", ".txt"):
        return _records(path.name, _csv_cells(path))
    raise CatalogueFileError(f"{path.name}: not an .xlsx or .csv file (save it from Excel as .xlsx or CSV UTF-8)")


def _xlsx_records(path: Path) -> Iterator[dict[str, object]]:
    try:
        # read_only streams the sheet instead of building it in memory; data_only reads formulas' last values.
        workbook = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise CatalogueFileError(f"{path}: no such file") from None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, InvalidFileException) as error:
        raise CatalogueFileError(f"{path.name}: not an Excel workbook ({error})") from None
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers store wrong dimensions; read every row there is
            cells: Iterator[Sequence[object]] = sheet.iter_rows(values_only=True)
            try:
                found = _find_header(path.name, cells)
            except CatalogueFileError:
                continue
            return _closing(workbook, _records(path.name, cells, found))
    except BaseException:
        workbook.close()
        raise
    workbook.close()
    raise CatalogueFileError(f"{path.name}: no sheet has a header row with a SKU column in its first rows")


def _closing(workbook: Any, records: Iterator[dict[str, object]]) -> Iterator[dict[str, object]]:
    try:
        yield from records
    finally:
        workbook.close()


def _csv_cells(path: Path) -> Iterator[Sequence[object]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CatalogueFileError(f"{path}: no such file") from None
    except OSError as error:
        raise CatalogueFileError(f"{path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")  # with or without the byte-order mark Excel writes
    except UnicodeDecodeError:
        raise CatalogueFileError(f"{path.name}: not UTF-8 text; in Excel, save as 'CSV UTF-8'") from None
    first_line, _, rest = text.partition("\n")
    if first_line.strip().lower().startswith("sep=") and len(first_line.strip()) == 5:
        delimiter, text = first_line.strip()[4], rest  # Excel's "sep=;" hint line
    else:
        # Header names hold no commas or semicolons: the most frequent one in the first rows separates cells.
        first_rows = text[: 64 * 1024].split("\n")[:_SEARCH_HEADER_ROWS]
        delimiter = max((",", ";", "\t"), key=lambda candidate: sum(row.count(candidate) for row in first_rows))
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _find_header(name: str, cells: Iterator[Sequence[object]]) -> tuple[list[str | None], int]:
    """Read up to the header row (leaving `cells` after it): its cells, and its row number."""
    for number in range(1, _SEARCH_HEADER_ROWS + 1):
        row = next(cells, None)
        if row is None:
            break
        headers = [_cell_text(cell) or None for cell in row]
        if any(h and column_for(h) == "sku" for h in headers):
            return headers, number
    raise CatalogueFileError(f"{name}: no header row with a SKU column (sku, mã sp ...) in the first rows")


def _records(
    name: str, cells: Iterator[Sequence[object]], found: tuple[list[str | None], int] | None = None
) -> Iterator[dict[str, object]]:
    header, header_row = found or _find_header(name, cells)
    keys: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    for position, text in enumerate(header):
        if text is None:
            continue
        column = column_for(text) or text
        if column in seen:
            raise CatalogueFileError(f"{name}: columns {seen[column]!r} and {text!r} both mean {column}")
        seen[column] = text
        keys.append((position, column))
    return _data_rows(cells, keys, header_row)


def _data_rows(
    cells: Iterator[Sequence[object]], keys: list[tuple[int, str]], header_row: int
) -> Iterator[dict[str, object]]:
    # The sheet's own row numbers (for a CSV file, its records': a quoted line break does not count).
    for number, row in enumerate(cells, start=header_row + 1):
        record: dict[str, object] = {ROW: number}
        blank = True
        for position, key in keys:
            value = row[position] if position < len(row) else None
            if blank and not _blank(value):
                blank = False
            record[key] = value
        if not blank:
            yield record


# Checking one row


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps every number as a float: SKU 1001, not 1001.0
    return unicodedata.normalize("NFC", str(value)).strip()


def parse_price(value: object) -> int | None:
    """Integer đồng above 0 from 25000, 25000.0, "25000", "25.000", "25,000", "25.000 đ", "25k", "1,5k"; else None."""
    number: Decimal
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = _decimal(value) or Decimal(-1)
    else:
        text = _SPACE.sub("", fold(_cell_text(value)))
        text = re.sub(r"(vnd|dong|d)$", "", text)
        if thousands := _PRICE_K.fullmatch(text):
            number = Decimal(thousands[1].replace(",", ".")) * 1000
        elif _GROUPED.fullmatch(text):
            number = Decimal(re.sub(r"[.,]", "", text))
        elif text.isdigit():
            number = Decimal(text)
        else:
            return None
    if number != number.to_integral_value() or not 0 < number <= MAX_PRICE:
        return None
    return int(number)


def parse_quantity(value: object) -> Decimal | None:
    """A number ≥ 0 with at most three decimals ("1200", "0,5", "0.5", "1.200,5", 0.5); else None.

    One separator is the decimal one, point or comma; with both, the last one is. Do not group thousands.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = _decimal(value)
    else:
        text = _SPACE.sub("", _cell_text(value))
        if "," in text and "." in text:
            grouping = "." if text.rfind(",") > text.rfind(".") else ","
            text = text.replace(grouping, "").replace(",", ".")
        elif text.count(",") == 1:
            text = text.replace(",", ".")
        number = Decimal(text) if _DECIMAL.fullmatch(text) else None
    if number is None or number < 0 or number > MAX_QUANTITY or number != number.quantize(THOUSANDTH):
        return None
    return number


def _decimal(value: int | float | Decimal) -> Decimal | None:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_ocop(value: object) -> int | None:
    """OCOP stars 1 to 5 ("4", 4, "4 sao", "4★"); None when not."""
    match = _OCOP.fullmatch(_SPACE.sub("", fold(_cell_text(value))))
    return int(match[1]) if match else None


def _split(value: object, separators: str) -> list[str]:
    items = re.split(f"[{separators}]", _cell_text(value))
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))


@dataclass
class _Row:
    number: int
    sku: str
    values: dict[str, Any]
    problems: list[str]
    cooperative: Cooperative | None = None


def _check(
    record: Mapping[str, object],
    columns: Mapping[str, str],
    cooperatives: Mapping[str, Cooperative],
    only: Cooperative | None,
    number: int,
) -> _Row:
    """One row's values, parsed, and what is wrong with them (`columns`: file key → column)."""
    raw = {column: record.get(key) for key, column in columns.items()}
    values: dict[str, Any] = {}
    problems: list[str] = []

    sku = _cell_text(raw["sku"])
    if not sku:
        problems.append("missing SKU")
    elif not _SKU.fullmatch(sku):
        problems.append(f"bad SKU {sku!r} (letters, digits, '-', '_' and '.', at most 64)")

    name = _SPACE.sub(" ", _cell_text(raw["name"]))
    if not name:
        problems.append("missing name")
    elif len(name) > 200:
        problems.append("name longer than 200 characters")
    values["name"] = name

    cooperative = only
    code = _cell_text(raw.get("cooperative")).upper()
    if only is not None and code and code != only.code:
        problems.append(f"cooperative {code}, but this import is for {only.code}")
        cooperative = None  # whoever owns the SKU, this row is refused already
    elif only is None and not code:
        problems.append("missing cooperative")
    elif only is None:
        cooperative = cooperatives.get(code)
        if cooperative is None:
            problems.append(f"unknown cooperative {code}")

    unit_text = _cell_text(raw["unit"])
    unit = _UNIT_BY_FOLD.get(_SPACE.sub("", fold(unit_text)))
    if unit is None:
        problems.append(f"unknown unit {unit_text!r} (one of {', '.join(UNITS)})" if unit_text else "missing unit")
    values["unit"] = unit

    price = parse_price(raw["price"])
    if price is None:
        shown = _cell_text(raw["price"])
        problems.append(
            f"bad price {shown!r} (a whole number of đồng above 0: 25000, 25.000 or 25k)" if shown else "missing price"
        )
    values["price"] = price

    stock = parse_quantity(raw["stock"])
    if stock is None:
        shown = _cell_text(raw["stock"])
        problems.append(f"bad stock {shown!r} (a number from 0, at most 3 decimals)" if shown else "missing stock")
    values["stock"] = stock

    if "category" in raw:
        values["category"] = _SPACE.sub(" ", _cell_text(raw["category"]))
        if len(values["category"]) > 100:
            problems.append("category longer than 100 characters")
    if "unit_weight_kg" in raw:
        shown = _cell_text(raw["unit_weight_kg"])
        weight = parse_quantity(raw["unit_weight_kg"]) if shown else None
        if shown and not weight:
            problems.append(f"bad unit weight {shown!r} (kg above 0, e.g. 0,5, or blank)")
        values["unit_weight_kg"] = weight
    if "certifications" in raw:
        values["certifications"] = _split(raw["certifications"], ",;")
    if "ocop_stars" in raw:
        shown = _cell_text(raw["ocop_stars"])
        values["ocop_stars"] = parse_ocop(shown) if shown else None
        if shown and values["ocop_stars"] is None:
            problems.append(f"bad OCOP stars {shown!r} (1 to 5, or blank)")
    if "image_url" in raw:
        image = _cell_text(raw["image_url"]) or None
        if image and (len(image) > 500 or not _IMAGE_URL.fullmatch(image)):
            problems.append(f"bad image URL {image[:60]!r} (http://, https:// or /static/...)")
        values["image_url"] = image
    if "aliases" in raw:
        values["aliases"] = _split(raw["aliases"], ";\n")
    if "origin" in raw:
        values["origin"] = _cell_text(raw["origin"])
    return _Row(number, sku, values, problems, cooperative)


# Importing


async def import_rows(
    session: AsyncSession,
    rows: Iterable[Mapping[str, object]],
    coop: str | None = None,
    apply: bool = True,
    skip_bad: bool = False,
    *,
    actor: str = "import",
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Create or update products from rows of {column: value} (`read_table`'s, or any dicts with known headers).

    Every row is checked first. With a bad row nothing is written, unless `skip_bad` (the good rows are);
    `apply=False` only checks and reports. `coop` (a cooperative code) fills a blank cooperative and refuses
    rows and SKUs of any other. Everything is written in the caller's transaction (flushed, not committed); new
    and changed products get a new `updated_at`, so the live search indexes pick them up, and each changed field
    is kept in the product's history under `actor`. Raises `CatalogueFileError` for a missing column or an
    unknown `coop`.
    """
    report = ImportReport(dry_run=not apply, skip_bad=skip_bad)
    cooperatives = {c.code: c for c in await session.scalars(select(Cooperative))}
    only = None
    if coop is not None:
        only = cooperatives.get(coop.strip().upper())
        if only is None:
            raise CatalogueFileError(f"no cooperative with code {coop.strip().upper()}")

    checked: list[_Row] = []
    rows_by_sku: defaultdict[str, list[int]] = defaultdict(list)
    columns_by_keys: dict[tuple[str, ...], dict[str, str]] = {}
    for position, record in enumerate(rows, start=2):
        keys = tuple(key for key in record if key != ROW)
        columns = columns_by_keys.get(keys)
        if columns is None:
            columns = columns_by_keys[keys] = _columns(keys, only is not None, report)
        if all(_blank(record.get(key)) for key in keys):
            continue
        number = record.get(ROW, position)
        row = _check(record, columns, cooperatives, only, number if isinstance(number, int) else position)
        checked.append(row)
        if row.sku:
            rows_by_sku[row.sku].append(row.number)
        if progress and len(checked) % PROGRESS_EVERY == 0:
            progress(f"checked {len(checked):,} rows")
    report.rows = len(checked)

    existing = await _existing(session, [sku for sku, numbers in rows_by_sku.items() if len(numbers) == 1], apply)
    plan: list[tuple[_Row, Product | None, dict[str, tuple[Any, Any]]]] = []
    for row in checked:
        others = [n for n in rows_by_sku.get(row.sku, ()) if n != row.number]
        if others:
            row.problems.append(f"duplicate SKU {row.sku} (also on row {', '.join(map(str, others))})")
        product = existing.get(row.sku)
        if product is not None and row.cooperative is not None and product.cooperative_id != row.cooperative.id:
            row.problems.append(f"SKU {row.sku} belongs to cooperative {product.cooperative.code}")
        if row.problems:
            report.rejected.append(Rejection(row.number, "; ".join(row.problems)))
            continue
        changes = _changes(product, row.values) if product is not None else {}
        (report.created if product is None else report.updated if changes else report.unchanged).append(row.sku)
        plan.append((row, product, changes))

    if not apply or report.blocked:
        return report
    if progress and len(plan) >= PROGRESS_EVERY:
        progress(f"writing {len(report.created):,} new and {len(report.updated):,} changed products")
    # New products and history rows go in as one multi-row INSERT each (an ORM flush would send one per row,
    # as it fetches each new primary key); updates go through the ORM, which bumps `updated_at`.
    new = [_new_product(row) for row, product, _ in plan if product is None]
    history = []
    for _, product, changes in plan:
        if product is None:
            continue
        for name, (old, value) in changes.items():
            setattr(product, name, value)
            history.append({"product_id": product.id, "field": name, "old": _shown(old), "new": _shown(value)})
    await session.flush()
    if new:  # render_nulls: a blank OCOP or image would otherwise split the rows into many INSERTs
        await session.execute(insert(Product).execution_options(render_nulls=True), new)
    if history:
        await session.execute(insert(ProductChange), [entry | {"actor": actor[:160]} for entry in history])
    report.written = True
    return report


def _columns(keys: tuple[str, ...], one_cooperative: bool, report: ImportReport) -> dict[str, str]:
    columns: dict[str, str] = {}
    for key in keys:
        column = column_for(key)
        if column is None:
            if key not in report.ignored_columns:
                report.ignored_columns.append(key)
        elif column in columns.values():
            first = next(k for k, c in columns.items() if c == column)
            raise CatalogueFileError(f"columns {first!r} and {key!r} both mean {column}")
        else:
            columns[key] = column
    missing = [c for c in (*REQUIRED, *(() if one_cooperative else ("cooperative",))) if c not in columns.values()]
    if missing:
        hint = " (or import for one cooperative with --coop CODE)" if missing == ["cooperative"] else ""
        raise CatalogueFileError(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}{hint}")
    return columns


async def _existing(session: AsyncSession, skus: list[str], lock: bool) -> dict[str, Product]:
    """The products with these SKUs, locked against concurrent changes when they are to be updated."""
    found: dict[str, Product] = {}
    for start in range(0, len(skus), 500):
        query = select(Product).where(Product.sku.in_(skus[start : start + 500]))
        if lock:
            query = query.with_for_update(of=Product)
        found.update((p.sku, p) for p in (await session.scalars(query)).unique())
    return found


def _changes(product: Product, values: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    changes = {}
    for name, new in values.items():
        old = getattr(product, name)
        if name == "image_url":
            old = old or None
        if old != new:
            changes[name] = (old, new)
    return changes


def _new_product(row: _Row) -> dict[str, Any]:
    """A new product's columns; optional columns the file left out are blank."""
    assert row.cooperative is not None
    values = row.values
    return {
        "sku": row.sku,
        "cooperative_id": row.cooperative.id,
        "name": values["name"],
        "category": values.get("category", ""),
        "aliases": values.get("aliases", []),
        "unit": values["unit"],
        "unit_weight_kg": values.get("unit_weight_kg"),
        "price": values["price"],
        "stock": values["stock"],
        "certifications": values.get("certifications", []),
        "ocop_stars": values.get("ocop_stars"),
        "image_url": values.get("image_url"),
        "origin": values.get("origin", ""),
        "hidden": False,
    }


def _shown(value: object) -> str:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
    elif isinstance(value, list):
        text = ", ".join(value)
    else:
        text = "" if value is None else str(value)
    return text[:200]


# Exporting


def product_row(product: Product) -> list[object]:
    """One product as the cells of an export row, in `COLUMNS` order (numbers as numbers, lists as text)."""
    return [
        product.sku,
        product.name,
        product.cooperative.code,
        product.category,
        product.unit,
        _number(product.unit_weight_kg),
        product.price,
        _number(product.stock),
        ", ".join(product.certifications),
        product.ocop_stars,
        product.image_url or None,
        "; ".join(product.aliases),
        product.origin,
    ]


def _number(value: Decimal | None) -> int | Decimal | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else value.normalize()


async def export_products(session: AsyncSession, path: str | Path, coop: str | None = None) -> int:
    """Write every product (hidden ones too), or one cooperative's, to an .xlsx or .csv file. Returns how many."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise CatalogueFileError(f"{path.name}: export writes .xlsx or .csv")
    query = select(Product).order_by(Product.id)
    if coop is not None:
        code = coop.strip().upper()
        if await session.scalar(select(Cooperative.id).where(Cooperative.code == code)) is None:
            raise CatalogueFileError(f"no cooperative with code {code}")
        query = query.join(Product.cooperative).where(Cooperative.code == code)
    rows = [product_row(product) for product in (await session.scalars(query)).unique()]
    if suffix == ".csv":
        write_csv(path, rows)
    else:
        write_xlsx(path, rows)
    return len(rows)


def write_csv(path: Path, rows: Iterable[Sequence[object]], header: Sequence[str] = COLUMNS) -> None:
    """CSV as Excel reads it: UTF-8 with a byte-order mark, commas, decimal points, CRLF line ends."""
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else format(v, "f") if isinstance(v, Decimal) else v for v in row])


WIDTHS = {"sku": 18, "name": 36, "cooperative": 14, "category": 14, "certifications": 18, "image_url": 32}
WIDTHS |= {"aliases": 32, "origin": 48}


def write_xlsx(path: Path, rows: Iterable[Sequence[object]], header: Sequence[str] = COLUMNS) -> None:
    """One sheet "products": a bold, frozen header, prices shown with thousands grouped, text kept as text."""
    with path.open("wb") as file:  # fails early, before the workbook is half written
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("products")
        sheet.freeze_panes = "A2"
        for index, name in enumerate(header):
            sheet.column_dimensions[get_column_letter(index + 1)].width = WIDTHS.get(name, 10)
        bold = Font(bold=True)
        cells = []
        for name in header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        price_at = header.index("price") if "price" in header else -1
        for row in rows:
            out: list[object] = []
            for index, value in enumerate(row):
                if index == price_at or (isinstance(value, str) and value.startswith("=")):
                    cell = WriteOnlyCell(sheet, value=value)
                    if index == price_at:
                        cell.number_format = "#,##0"
                    else:
                        cell.data_type = "s"  # a name that starts with "=" is text, not a formula
                    out.append(cell)
                else:
                    out.append(value)
            sheet.append(out)
        workbook.save(file)
