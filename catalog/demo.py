"""The demo catalogue: five producer cooperatives of Bình Thuận (now Lâm Đồng) and their products."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Cooperative, Product
from catalog.search import ProductIndex, SearchEntry

PROVINCE = "Lâm Đồng (trước đây Bình Thuận)"

COOPERATIVES = [
    ("HAMDUC", "HTX Thanh long Hàm Đức", "Xã Hàm Đức, huyện Hàm Thuận Bắc cũ"),
    ("THUANTIEN", "HTX Thanh long Thuận Tiến", "Xã Hàm Thuận Bắc, vùng thanh long Thuận Tiến"),
    ("PHUHOI", "HTX Thanh long hữu cơ Phú Hội", "Thanh long canh tác hữu cơ"),
    ("HOALE", "HTX Thanh long Hòa Lễ", "Hộp quà thanh long đạt OCOP 4 sao"),
    ("TIENPHAT", "HTX Rau an toàn Tiến Phát", "Rau an toàn VietGAP"),
]

# sku, name, coop, category, aliases, unit, unit weight kg, price đ, stock, certifications, OCOP stars, image
PRODUCTS = [
    (
        "TL-RD-HD",
        "Thanh long ruột đỏ Hàm Đức",
        "HAMDUC",
        "thanh long",
        ["thanh long Bình Thuận"],
        "kg",
        "1",
        35000,
        800,
        ["VietGAP"],
        None,
        "/static/img/thanh-long-ruot-do.svg",
    ),
    (
        "TL-RT-HD",
        "Thanh long ruột trắng Hàm Đức",
        "HAMDUC",
        "thanh long",
        ["thanh long Bình Thuận"],
        "kg",
        "1",
        18000,
        1200,
        ["VietGAP"],
        None,
        "/static/img/thanh-long-ruot-trang.svg",
    ),
    (
        "TL-RT-TT",
        "Thanh long ruột trắng Thuận Tiến",
        "THUANTIEN",
        "thanh long",
        ["thanh long Bình Thuận"],
        "kg",
        "1",
        17000,
        1500,
        ["GlobalGAP"],
        None,
        "/static/img/thanh-long-ruot-trang.svg",
    ),
    (
        "TL-HC-PH",
        "Thanh long ruột đỏ hữu cơ Phú Hội",
        "PHUHOI",
        "thanh long",
        ["thanh long organic", "thanh long Bình Thuận"],
        "kg",
        "1",
        55000,
        300,
        ["Hữu cơ"],
        None,
        "/static/img/thanh-long-ruot-do.svg",
    ),
    (
        "TL-HOP-HL",
        "Hộp quà thanh long Hòa Lễ 5 kg",
        "HOALE",
        "thanh long",
        ["quà biếu thanh long", "thanh long Bình Thuận"],
        "hộp",
        "5",
        250000,
        120,
        ["VietGAP"],
        4,
        "/static/img/hop-qua-thanh-long.svg",
    ),
    ("RAU-MUONG-TP", "Rau muống", "TIENPHAT", "rau", [], "bó", "0.5", 12000, 400, ["VietGAP"], None, None),
    ("RAU-CAINGOT-TP", "Cải ngọt", "TIENPHAT", "rau", [], "kg", "1", 25000, 200, ["VietGAP"], None, None),
    ("RAU-CACHUA-TP", "Cà chua", "TIENPHAT", "rau", [], "kg", "1", 30000, 250, ["VietGAP"], None, None),
    ("RAU-XALACH-TP", "Xà lách", "TIENPHAT", "rau", [], "kg", "1", 40000, 100, ["VietGAP"], None, None),
]


class AlreadyLoaded(RuntimeError):
    """The database already holds a catalogue; loading the demo again would duplicate it."""


async def load_demo_catalogue(session: AsyncSession) -> int:
    """Add the demo cooperatives and products; refuse if any cooperative exists. Returns products added."""
    if await session.scalar(select(func.count()).select_from(Cooperative)):
        raise AlreadyLoaded("the catalogue is not empty")
    coops = {
        code: Cooperative(code=code, name=name, province=PROVINCE, description=desc)
        for code, name, desc in COOPERATIVES
    }
    session.add_all(coops.values())
    for sku, name, coop, category, aliases, unit, weight, price, stock, certs, stars, image in PRODUCTS:
        session.add(
            Product(
                sku=sku,
                name=name,
                cooperative=coops[coop],
                category=category,
                aliases=aliases,
                unit=unit,
                unit_weight_kg=Decimal(weight),
                price=price,
                stock=Decimal(stock),
                certifications=certs,
                ocop_stars=stars,
                image_url=image,
                origin=f"{coops[coop].name}, {PROVINCE}",
            )
        )
    await session.flush()
    return len(PRODUCTS)


def demo_index() -> ProductIndex:
    """A search index over the demo catalogue without a database (for `htx nlu --demo`)."""
    names = {code: name for code, name, _ in COOPERATIVES}
    return ProductIndex(
        SearchEntry(sku, name, coop, names[coop], category, tuple(aliases), unit, Decimal(weight))
        for sku, name, coop, category, aliases, unit, weight, *_ in PRODUCTS
    )
