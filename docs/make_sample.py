"""Write docs/catalogue-sample.xlsx and docs/catalogue-sample.csv: the demo catalogue plus five new products.

Run from the repository root after changing `catalog/demo.py`: `.venv/bin/python docs/make_sample.py`.
Importing either file into the demo database creates the five new products and leaves the nine demo ones
unchanged (tests/catalog/test_import_export.py relies on it).

The .xlsx file is what `htx catalog export` writes (English headers, numbers as numbers). The .csv file is the
same catalogue the way a Vietnamese spreadsheet saves it: UTF-8 with a byte-order mark, `;` between cells,
Vietnamese headers, decimal commas and prices with grouped thousands ("35.000").
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from catalog.demo import COOPERATIVES, PRODUCTS, PROVINCE
from catalog.spreadsheet import write_xlsx

DOCS = Path(__file__).resolve().parent
COOP_NAMES = {code: name for code, name, _ in COOPERATIVES}

# sku, name, coop, category, aliases, unit, unit weight kg, price đ, stock, certifications, OCOP stars, image
NEW_PRODUCTS = [
    (
        "TL-RD-TT",
        "Thanh long ruột đỏ Thuận Tiến",
        "THUANTIEN",
        "thanh long",
        ["thanh long Bình Thuận"],
        "kg",
        "1",
        32000,
        600,
        ["GlobalGAP"],
        None,
        "/static/img/thanh-long-ruot-do.svg",
    ),
    (
        "TL-SAY-PH",
        "Thanh long sấy dẻo hữu cơ Phú Hội",
        "PHUHOI",
        "thanh long",
        ["thanh long sấy", "mứt thanh long"],
        "gói",
        "0.2",
        45000,
        150,
        ["Hữu cơ"],
        3,
        None,
    ),
    (
        "TL-HOP3-HL",
        "Hộp quà thanh long Hòa Lễ 3 kg",
        "HOALE",
        "thanh long",
        ["quà biếu thanh long", "thanh long Bình Thuận"],
        "hộp",
        "3",
        160000,
        80,
        ["VietGAP"],
        4,
        "/static/img/hop-qua-thanh-long.svg",
    ),
    (
        "RAU-MONGTOI-TP",
        "Mồng tơi",
        "TIENPHAT",
        "rau",
        ["rau mồng tơi"],
        "bó",
        "0.5",
        10000,
        300,
        ["VietGAP"],
        None,
        None,
    ),
    ("RAU-DUALEO-TP", "Dưa leo", "TIENPHAT", "rau", ["dưa chuột"], "kg", "1", 22000, "180.5", ["VietGAP"], None, None),
]

VIETNAMESE_HEADER = [
    "Mã SP",
    "Tên",
    "HTX",
    "Loại",
    "Đơn vị",
    "Khối lượng (kg)",
    "Giá (đồng)",
    "Tồn kho",
    "Chứng nhận",
    "OCOP",
    "Ảnh",
    "Tên khác",
    "Xuất xứ",
]


def rows() -> list[list[object]]:
    """Every sample product as export cells (`catalog.spreadsheet.COLUMNS` order)."""
    out: list[list[object]] = []
    for sku, name, coop, category, aliases, unit, weight, price, stock, certs, stars, image in PRODUCTS + NEW_PRODUCTS:
        weight_kg, on_hand = Decimal(str(weight)), Decimal(str(stock))
        out.append(
            [
                sku,
                name,
                coop,
                category,
                unit,
                int(weight_kg) if weight_kg == int(weight_kg) else weight_kg,
                price,
                int(on_hand) if on_hand == int(on_hand) else on_hand,
                ", ".join(certs),
                stars,
                image,
                "; ".join(aliases),
                f"{COOP_NAMES[coop]}, {PROVINCE}",
            ]
        )
    return out


def vietnamese(value: object, column: int) -> str:
    """A cell as a Vietnamese spreadsheet shows it: 35.000 đồng, 0,5 kg."""
    if value is None:
        return ""
    if column == 6:
        return f"{value:,}".replace(",", ".")
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    return str(value)


def main() -> None:
    write_xlsx(DOCS / "catalogue-sample.xlsx", rows())
    with (DOCS / "catalogue-sample.csv").open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(VIETNAMESE_HEADER)
        writer.writerows([vietnamese(value, column) for column, value in enumerate(row)] for row in rows())
    print(f"wrote {len(rows())} products to docs/catalogue-sample.xlsx and docs/catalogue-sample.csv")


if __name__ == "__main__":
    main()
