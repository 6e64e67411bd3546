"""Bulk catalogue import and export (issue 5): the sample files, every rejection, all-or-nothing, round trips."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from catalog.demo import PRODUCTS
from catalog.live_index import LiveIndex
from catalog.models import Product, ProductChange, utcnow
from catalog.queries import get_product
from catalog.spreadsheet import (
    COLUMNS,
    UNITS,
    CatalogueFileError,
    ImportReport,
    Rejection,
    export_products,
    import_rows,
    parse_ocop,
    parse_price,
    parse_quantity,
    read_table,
    write_xlsx,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
SAMPLE_XLSX = DOCS / "catalogue-sample.xlsx"
SAMPLE_CSV = DOCS / "catalogue-sample.csv"
NEW_IN_SAMPLE = ["TL-RD-TT", "TL-SAY-PH", "TL-HOP3-HL", "RAU-MONGTOI-TP", "RAU-DUALEO-TP"]
DEMO_SKUS = [p[0] for p in PRODUCTS]
HEADER = ",".join(COLUMNS)


def csv_file(tmp_path: Path, *lines: str, header: str = HEADER, name: str = "rows.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def line(sku: str, name: str = "Bưởi da xanh", coop: str = "TIENPHAT", **cells: str) -> str:
    """One CSV line in COLUMNS order; a good new product unless `cells` say otherwise."""
    values = {"category": "trái cây", "unit": "kg", "unit_weight_kg": "1", "price": "45000", "stock": "100"}
    values |= {"certifications": "VietGAP", "ocop_stars": "", "image_url": "", "aliases": "", "origin": "Bến Tre"}
    values |= {"sku": sku, "name": name, "cooperative": coop, **cells}
    return ",".join(values[column] for column in COLUMNS)


async def count_products(session) -> int:
    return await session.scalar(select(func.count()).select_from(Product))


async def snapshot(session) -> dict[str, tuple]:
    """Every product as plain values, to compare before and after."""
    session.expire_all()
    products = (await session.scalars(select(Product))).unique()
    return {
        p.sku: (p.name, p.price, p.stock, p.unit, p.unit_weight_kg, p.updated_at, p.cooperative_id) for p in products
    }


# The sample files


async def test_the_sample_creates_the_five_new_products_and_leaves_the_nine_demo_ones_unchanged(session):
    report = await import_rows(session, read_table(SAMPLE_XLSX))
    assert (report.created, report.updated, report.rejected) == (NEW_IN_SAMPLE, [], [])
    assert report.unchanged == DEMO_SKUS
    assert report.rows == 14 and report.written and not report.blocked
    assert await count_products(session) == 14
    dried = await get_product(session, "TL-SAY-PH")
    assert dried is not None and dried.cooperative.code == "PHUHOI"
    assert (dried.unit, dried.unit_weight_kg, dried.price, dried.stock) == ("gói", Decimal("0.2"), 45000, 150)
    assert (dried.certifications, dried.ocop_stars, dried.image_url) == (["Hữu cơ"], 3, None)
    assert dried.aliases == ["thanh long sấy", "mứt thanh long"]
    assert dried.origin == "HTX Thanh long hữu cơ Phú Hội, Lâm Đồng (trước đây Bình Thuận)"
    assert not dried.hidden and dried.updated_at > utcnow() - timedelta(minutes=1)  # the live index will see it
    again = await import_rows(session, read_table(SAMPLE_XLSX))
    assert (len(again.created), len(again.updated), len(again.unchanged)) == (0, 0, 14)


async def test_the_sample_csv_with_bom_semicolons_and_vietnamese_headers_reads_the_same(session):
    raw = SAMPLE_CSV.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.split(b"\r\n")[0].count(b";") == 12
    assert raw.decode("utf-8-sig").startswith("Mã SP;Tên;HTX;Loại;Đơn vị;Khối lượng (kg);Giá (đồng);Tồn kho")
    assert list(read_table(SAMPLE_CSV))[-1] | {"_row": 0} == {
        "_row": 0,
        "sku": "RAU-DUALEO-TP",
        "name": "Dưa leo",
        "cooperative": "TIENPHAT",
        "category": "rau",
        "unit": "kg",
        "unit_weight_kg": "1",
        "price": "22.000",
        "stock": "180,5",
        "certifications": "VietGAP",
        "ocop_stars": "",
        "image_url": "",
        "aliases": "dưa chuột",
        "origin": "HTX Rau an toàn Tiến Phát, Lâm Đồng (trước đây Bình Thuận)",
    }
    report = await import_rows(session, read_table(SAMPLE_CSV))
    assert (report.created, report.updated, report.unchanged) == (NEW_IN_SAMPLE, [], DEMO_SKUS)
    cucumber = await get_product(session, "RAU-DUALEO-TP")
    assert cucumber is not None and (cucumber.price, cucumber.stock) == (22000, Decimal("180.5"))
    # The .xlsx sample holds the same catalogue: nothing left to change.
    xlsx = await import_rows(session, read_table(SAMPLE_XLSX))
    assert len(xlsx.unchanged) == 14


async def test_a_csv_without_bom_and_headers_without_diacritics_or_in_any_case(tmp_path, session):
    header = "MA SP,ten san pham,htx,DON VI,gia ban,ton kho,xuat xu,Ghi chú"
    path = csv_file(tmp_path, 'BUOI-1,Bưởi da xanh,tienphat,ky,45k,"1,5",Bến Tre,giao thứ 7', header=header)
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = await import_rows(session, read_table(path))
    assert (report.created, report.rejected, report.ignored_columns) == (["BUOI-1"], [], ["Ghi chú"])
    assert "ignored columns: Ghi chú" in report.lines()
    pomelo = await get_product(session, "BUOI-1")
    assert pomelo is not None and pomelo.cooperative.code == "TIENPHAT"
    assert (pomelo.unit, pomelo.price, pomelo.stock, pomelo.origin) == ("kg", 45000, Decimal("1.5"), "Bến Tre")
    assert (pomelo.category, pomelo.certifications, pomelo.unit_weight_kg, pomelo.ocop_stars) == ("", [], None, None)


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("sep=;\nsku;name;htx;unit;price;stock\nBUOI-1;Bưởi, loại 1;TIENPHAT;kg;45.000;1,5\n", ";"),
        ("Bảng giá HTX Tiến Phát\nsku;name;htx;unit;price;stock\nBUOI-1;Bưởi, loại 1;TIENPHAT;kg;45.000;1,5\n", ";"),
        ("sku\tname\thtx\tunit\tprice\tstock\r\nBUOI-1\tBưởi, loại 1\tTIENPHAT\tkg\t45000\t1.5\r\n", "tab"),
    ],
)
async def test_semicolons_tabs_and_excels_sep_line(tmp_path, session, text, delimiter):
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    [record] = read_table(path)
    assert record["_row"] == (3 if text.startswith("Bảng") else 2)
    assert (record["name"], record["stock"]) == ("Bưởi, loại 1", "1,5" if delimiter == ";" else "1.5")
    report = await import_rows(session, [record])
    assert report.created == ["BUOI-1"] and not report.rejected


async def test_a_title_above_the_header_and_blank_rows_keep_the_sheets_row_numbers(tmp_path, session):
    path = tmp_path / "titled.xlsx"
    rows = [
        ["Danh mục sản phẩm HTX Tiến Phát", None],
        [None],
        list(COLUMNS),
        line("BUOI-1").split(","),
        [None] * len(COLUMNS),
        line("BUOI-2", price="free").split(","),
    ]
    write_xlsx(path, rows[1:], header=rows[0])  # the title takes the header's place, the real header is row 3
    report = await import_rows(session, read_table(path), apply=False)
    assert report.rejected == [Rejection(6, "bad price 'free' (a whole number of đồng above 0: 25000, 25.000 or 25k)")]
    assert report.created == ["BUOI-1"] and report.rows == 2


# Updates


async def test_changed_rows_update_their_products_bump_updated_at_and_keep_history(tmp_path, session):
    before = await get_product(session, "TL-RD-HD")
    assert before is not None
    stamp = before.updated_at
    exported = tmp_path / "all.xlsx"
    await export_products(session, exported)
    workbook = load_workbook(exported)
    sheet = workbook.active
    sheet["G2"] = "36k"  # price of TL-RD-HD
    sheet["H2"] = "750,5"  # stock
    sheet["I2"] = "VietGAP; GlobalGAP"  # certifications
    sheet["D3"] = "Thanh long"  # category of TL-RT-HD: case matters
    workbook.save(exported)
    report = await import_rows(session, read_table(exported), actor="import all.xlsx")
    assert (report.updated, report.created, len(report.unchanged)) == (["TL-RD-HD", "TL-RT-HD"], [], 7)
    after = await get_product(session, "TL-RD-HD")
    assert after is not None and after.updated_at > stamp
    assert (after.price, after.stock, after.certifications) == (36000, Decimal("750.5"), ["VietGAP", "GlobalGAP"])
    history = (await session.scalars(select(ProductChange).where(ProductChange.product_id == after.id))).all()
    assert {(c.actor, c.field, c.old, c.new) for c in history} == {
        ("import all.xlsx", "price", "35000", "36000"),
        ("import all.xlsx", "stock", "800", "750.5"),
        ("import all.xlsx", "certifications", "VietGAP", "VietGAP, GlobalGAP"),
    }


async def test_a_running_services_search_index_picks_up_the_import(tmp_path, session):
    index = LiveIndex()
    assert "TL-SAY-PH" not in (await index.current(session)).entries
    renamed = csv_file(
        tmp_path, "RAU-MUONG-TP,Rau muống nước,TIENPHAT,bó,12000,400", header="sku,name,htx,unit,price,stock"
    )
    await import_rows(session, read_table(SAMPLE_XLSX))
    await import_rows(session, read_table(renamed))
    entries = (await index.current(session)).entries
    assert entries["TL-SAY-PH"].unit == "gói" and entries["RAU-MUONG-TP"].name == "Rau muống nước"


async def test_a_file_without_optional_columns_leaves_those_fields_alone(tmp_path, session):
    path = csv_file(
        tmp_path,
        "TL-RD-HD,Thanh long ruột đỏ Hàm Đức,HAMDUC,kg,40.000,800",
        header="sku,name,cooperative,unit,price,stock",
    )
    report = await import_rows(session, read_table(path))
    assert report.updated == ["TL-RD-HD"]
    product = await get_product(session, "TL-RD-HD")
    assert product is not None and product.price == 40000
    assert (product.certifications, product.image_url) == (["VietGAP"], "/static/img/thanh-long-ruot-do.svg")


# Rejections


BAD_ROWS = [
    line("NEW-1"),  # row 2: good
    line("NEW-2", name=""),  # 3
    line("bad sku!"),  # 4
    line(""),  # 5
    line("NEW-5", price="25.5"),  # 6
    line("NEW-6", price="0"),  # 7
    line("NEW-7", stock="-3"),  # 8
    line("NEW-8", unit="lít"),  # 9
    line("NEW-9", coop="NOPE"),  # 10
    line("DUP-1"),  # 11
    line("DUP-1", name="Bưởi Năm Roi"),  # 12
    line("NEW-12", ocop_stars="6"),  # 13
    line("TL-RD-HD", name="Thanh long ruột đỏ", coop="TIENPHAT"),  # 14: a SKU of Hàm Đức
    line("NEW-14", name="", price="abc", stock=""),  # 15: several at once
    ",,,,,,,,,,,,",  # 16: blank, skipped
    line("TL-RT-HD", name="Thanh long ruột trắng Hàm Đức", coop="HAMDUC", price="19000"),  # 17: a good update
    line("NEW-17", unit_weight_kg="nửa ký", image_url="www.example.com/a.jpg"),  # 18
    line("NEW-18", coop=""),  # 19
]
PRICE_HINT = "(a whole number of đồng above 0: 25000, 25.000 or 25k)"
EXPECTED_REJECTIONS = [
    Rejection(3, "missing name"),
    Rejection(4, "bad SKU 'bad sku!' (letters, digits, '-', '_' and '.', at most 64)"),
    Rejection(5, "missing SKU"),
    Rejection(6, f"bad price '25.5' {PRICE_HINT}"),
    Rejection(7, f"bad price '0' {PRICE_HINT}"),
    Rejection(8, "bad stock '-3' (a number from 0, at most 3 decimals)"),
    Rejection(9, "unknown unit 'lít' (one of kg, g, hộp, bó, thùng, trái, quả, chục, bịch, túi, gói, giỏ, cái)"),
    Rejection(10, "unknown cooperative NOPE"),
    Rejection(11, "duplicate SKU DUP-1 (also on row 12)"),
    Rejection(12, "duplicate SKU DUP-1 (also on row 11)"),
    Rejection(13, "bad OCOP stars '6' (1 to 5, or blank)"),
    Rejection(14, "SKU TL-RD-HD belongs to cooperative HAMDUC"),
    Rejection(15, f"missing name; bad price 'abc' {PRICE_HINT}; missing stock"),
    Rejection(
        18,
        "bad unit weight 'nửa ký' (kg above 0, e.g. 0,5, or blank); "
        "bad image URL 'www.example.com/a.jpg' (http://, https:// or /static/...)",
    ),
    Rejection(19, "missing cooperative"),
]


async def test_every_bad_row_is_reported_with_its_row_number_and_reason_and_nothing_changes(tmp_path, session):
    before = await snapshot(session)
    report = await import_rows(session, read_table(csv_file(tmp_path, *BAD_ROWS)))
    assert report.rejected == EXPECTED_REJECTIONS
    assert (report.created, report.updated, report.unchanged, report.rows) == (["NEW-1"], ["TL-RT-HD"], [], 17)
    assert report.blocked and not report.written
    assert report.lines()[-1] == "nothing imported: fix the rejected rows, or import the other 2 with --skip-bad-rows"
    assert "  row 10: unknown cooperative NOPE" in report.lines()
    assert not session.new and not session.dirty
    assert await snapshot(session) == before
    assert await session.scalar(select(func.count()).select_from(ProductChange)) == 0


async def test_skip_bad_rows_lands_the_good_rows(tmp_path, session):
    report = await import_rows(session, read_table(csv_file(tmp_path, *BAD_ROWS)), skip_bad=True)
    assert report.rejected == EXPECTED_REJECTIONS
    assert report.written and not report.blocked
    assert report.lines()[-1] == "imported 2 rows in one transaction, 15 rejected rows left out"
    assert await count_products(session) == 10
    updated = await get_product(session, "TL-RT-HD")
    assert updated is not None and updated.price == 19000
    assert await get_product(session, "DUP-1") is None


async def test_dry_run_reports_like_the_real_import_and_writes_nothing(tmp_path, session):
    before = await snapshot(session)
    good = csv_file(tmp_path, line("NEW-1"), line("TL-RT-HD", name="Thanh long", coop="HAMDUC", price="19000"))
    report = await import_rows(session, read_table(good), apply=False)
    assert (report.created, report.updated, report.rejected) == (["NEW-1"], ["TL-RT-HD"], [])
    assert report.dry_run and not report.written and not report.blocked
    assert report.lines()[-1] == "dry run: 2 good rows, nothing written"
    assert not session.new and not session.dirty
    assert await snapshot(session) == before
    bad = await import_rows(session, read_table(csv_file(tmp_path, *BAD_ROWS)), apply=False, skip_bad=True)
    assert bad.rejected == EXPECTED_REJECTIONS and not bad.blocked and not bad.written
    assert await snapshot(session) == before


async def test_one_cooperative_import_fills_a_blank_cooperative_and_refuses_any_other(tmp_path, session):
    path = csv_file(
        tmp_path,
        line("RAU-DEN-TP", name="Rau dền", coop=""),
        line("RAU-LANG-TP", name="Rau lang", coop="tienphat"),
        line("BUOI-HD", coop="HAMDUC"),
        line("TL-RD-HD", name="Thanh long ruột đỏ", coop=""),
    )
    report = await import_rows(session, read_table(path), coop="tienphat", skip_bad=True)
    assert report.created == ["RAU-DEN-TP", "RAU-LANG-TP"]
    assert report.rejected == [
        Rejection(4, "cooperative HAMDUC, but this import is for TIENPHAT"),
        Rejection(5, "SKU TL-RD-HD belongs to cooperative HAMDUC"),
    ]
    greens = await get_product(session, "RAU-DEN-TP")
    assert greens is not None and greens.cooperative.code == "TIENPHAT"
    with pytest.raises(CatalogueFileError, match="no cooperative with code NOPE"):
        await import_rows(session, read_table(path), coop="nope")


async def test_a_file_that_cannot_be_imported_at_all_says_why(tmp_path, session):
    with pytest.raises(CatalogueFileError, match="missing columns: price, stock"):
        await import_rows(session, read_table(csv_file(tmp_path, "X,Y,HAMDUC,kg", header="sku,name,htx,unit")))
    no_coop = csv_file(tmp_path, "X,Y,kg,1,1", header="sku,name,unit,price,stock")
    with pytest.raises(CatalogueFileError, match=r"missing column: cooperative \(or import for one cooperative"):
        await import_rows(session, read_table(no_coop))
    with pytest.raises(CatalogueFileError, match="columns 'price' and 'Giá' both mean price"):
        read_table(csv_file(tmp_path, header=HEADER + ",Giá"))
    with pytest.raises(CatalogueFileError, match="no header row with a SKU column"):
        read_table(csv_file(tmp_path, "a,b", header="tên,giá"))
    ansi = tmp_path / "ansi.csv"  # Excel's plain "CSV" on a Vietnamese Windows: code page 1258
    ansi.write_bytes("sku,tên\nA,Bơ\n".encode("cp1258"))
    with pytest.raises(CatalogueFileError, match="not UTF-8"):
        read_table(ansi)
    (tmp_path / "fake.xlsx").write_text("not a zip")
    with pytest.raises(CatalogueFileError, match="not an Excel workbook"):
        read_table(tmp_path / "fake.xlsx")
    with pytest.raises(CatalogueFileError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(CatalogueFileError, match=r"not an \.xlsx or \.csv file"):
        read_table(tmp_path / "old.xls")


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("25000", 25000),
        (25000, 25000),
        (25000.0, 25000),
        ("25.000", 25000),
        ("25,000", 25000),
        ("25 000 đ", 25000),
        ("25k", 25000),
        ("1,5k", 1500),
        ("30 nghìn", 30000),
        ("1.000.000", 1000000),
        ("25.5", None),
        ("0", None),
        ("-25000", None),
        (25000.5, None),
        ("25.00", None),
        ("hai lăm", None),
        (True, None),
    ],
)
def test_prices(text, price):
    assert parse_price(text) == price


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("1200", Decimal(1200)),
        ("0,5", Decimal("0.5")),
        ("0.5", Decimal("0.5")),
        (0.5, Decimal("0.5")),
        ("1.200,5", Decimal("1200.5")),
        ("0", Decimal(0)),
        ("-1", None),
        ("1,2345", None),
        ("12kg", None),
        ("", None),
    ],
)
def test_quantities(text, quantity):
    assert parse_quantity(text) == quantity


def test_ocop_stars():
    assert [parse_ocop(v) for v in ("4", 4, 4.0, "4 sao", "5★", "0", "6", "bốn")] == [4, 4, 4, 4, 5, None, None, None]


# Export


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
async def test_export_then_import_is_all_unchanged(tmp_path, session, suffix):
    await import_rows(session, read_table(SAMPLE_XLSX))
    hidden, red = await get_product(session, "RAU-XALACH-TP"), await get_product(session, "TL-RD-HD")
    assert hidden is not None and red is not None
    hidden.hidden = True  # hidden products are exported too
    red.stock = Decimal("12.345")
    await session.flush()
    path = tmp_path / f"catalogue{suffix}"
    assert await export_products(session, path) == 14
    before = await snapshot(session)
    report = await import_rows(session, read_table(path))
    assert (len(report.unchanged), report.created, report.updated, report.rejected) == (14, [], [], [])
    assert await snapshot(session) == before
    header = next(iter(load_workbook(path).active.values)) if suffix == ".xlsx" else None
    if header is not None:
        assert header == COLUMNS
    else:
        assert path.read_bytes().startswith(b"\xef\xbb\xbf" + HEADER.encode())


async def test_export_of_one_cooperative_and_the_cells_it_writes(tmp_path, session):
    path = tmp_path / "hoale.xlsx"
    assert await export_products(session, path, coop="hoale") == 1
    rows = list(load_workbook(path).active.values)
    assert rows == [
        COLUMNS,
        (
            "TL-HOP-HL",
            "Hộp quà thanh long Hòa Lễ 5 kg",
            "HOALE",
            "thanh long",
            "hộp",
            5,
            250000,
            120,
            "VietGAP",
            4,
            "/static/img/hop-qua-thanh-long.svg",
            "quà biếu thanh long; thanh long Bình Thuận",
            "HTX Thanh long Hòa Lễ, Lâm Đồng (trước đây Bình Thuận)",
        ),
    ]
    with pytest.raises(CatalogueFileError, match="no cooperative with code NOPE"):
        await export_products(session, path, coop="nope")


async def test_a_name_that_looks_like_a_formula_stays_text(tmp_path, session):
    await import_rows(session, read_table(csv_file(tmp_path, line("EQ-1", name="=1+1 khuyến mãi"))))
    path = tmp_path / "eq.xlsx"
    await export_products(session, path, coop="TIENPHAT")
    assert [r[1] for r in load_workbook(path).active.values][-1] == "=1+1 khuyến mãi"
    assert len((await import_rows(session, read_table(path))).unchanged) == 5


# A large file


async def test_five_thousand_rows_with_some_bad_ones(tmp_path, session):
    coops = ["HAMDUC", "THUANTIEN", "PHUHOI", "HOALE", "TIENPHAT"]
    rows: list[list[object]] = []
    expected: list[Rejection] = []
    for i in range(5000):
        row: list[object] = [f"GEN-{i:05d}", f"Sản phẩm thử {i}", coops[i % 5], "rau", "kg", 1, 10000 + i, i % 300]
        row += ["VietGAP", None, None, "", ""]
        if i % 500 == 7:
            row[6] = "mười nghìn"
            expected.append(Rejection(i + 2, f"bad price 'mười nghìn' {PRICE_HINT}"))
        elif i % 1000 == 999:
            row[4] = "lít"
            expected.append(Rejection(i + 2, f"unknown unit 'lít' (one of {', '.join(UNITS)})"))
        rows.append(row)
    rows[4321][0] = "TL-RD-HD"  # an existing product, changed
    rows[4321][1:3] = ["Thanh long ruột đỏ Hàm Đức", "HAMDUC"]
    path = tmp_path / "big.xlsx"
    write_xlsx(path, rows)
    said: list[str] = []
    blocked = await import_rows(session, read_table(path), progress=said.append)
    assert blocked.rejected == expected and len(expected) == 15
    assert blocked.blocked and await count_products(session) == 9
    assert said == [f"checked {n},000 rows" for n in range(1, 6)]
    report = await import_rows(session, read_table(path), skip_bad=True, progress=said.append)
    assert report.rejected == expected
    assert (len(report.created), report.updated, report.unchanged) == (4984, ["TL-RD-HD"], [])
    assert said[-1] == "writing 4,984 new and 1 changed products"
    assert await count_products(session) == 9 + 4984
    assert isinstance(report, ImportReport) and report.rows == 5000


# The command line


def htx(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    env["HTX_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_htx_catalog_import_and_export(tmp_path):
    assert htx(tmp_path, "demo").returncode == 0
    imported = htx(tmp_path, "catalog", "import", str(SAMPLE_XLSX))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines() == [
        f"{SAMPLE_XLSX}: 14 rows",
        "created: 5",
        "updated: 0",
        "unchanged: 9",
        "rejected: 0",
        "imported 14 rows in one transaction",
    ]
    exported = htx(tmp_path, "catalog", "export", "tienphat.csv", "--coop", "TIENPHAT")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == "exported 6 products to tienphat.csv\n"
    assert len((tmp_path / "tienphat.csv").read_text(encoding="utf-8-sig").splitlines()) == 7
    again = htx(tmp_path, "catalog", "import", "tienphat.csv", "--coop", "tienphat", "--dry-run")
    assert again.returncode == 0 and "unchanged: 6" in again.stdout and "dry run" in again.stdout
    csv_file(tmp_path, line("NEW-1"), line("NEW-2", price="abc"), name="bad.csv")
    refused = htx(tmp_path, "catalog", "import", "bad.csv")
    assert refused.returncode == 1
    assert f"  row 3: bad price 'abc' {PRICE_HINT}" in refused.stdout.splitlines()
    with sqlite3.connect(tmp_path / "cli.db") as db:
        assert db.execute("SELECT count(*) FROM products").fetchone() == (14,)
    landed = htx(tmp_path, "catalog", "import", "bad.csv", "--skip-bad-rows")
    assert landed.returncode == 0 and "created: 1" in landed.stdout
