"""The demo catalogue: five producer cooperatives of Bình Thuận (now Lâm Đồng), their products and origin facts.

Contacts, registration and certificate numbers and growing-area codes are made up for the demo. Certificate
validity and harvest days count from the day the demo is loaded, so the demo stays current; one certificate has
expired, so the traceability page and the chat show that state too.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.harvests import record_batch
from catalog.models import Certificate, Cooperative, Product, vietnam_day
from catalog.search import ProductIndex, SearchEntry

PROVINCE = "Lâm Đồng (trước đây Bình Thuận)"

COOPERATIVES = [
    ("HAMDUC", "HTX Thanh long Hàm Đức", "Xã Hàm Đức, huyện Hàm Thuận Bắc cũ"),
    ("THUANTIEN", "HTX Thanh long Thuận Tiến", "Xã Hàm Thuận Bắc, vùng thanh long Thuận Tiến"),
    ("PHUHOI", "HTX Thanh long hữu cơ Phú Hội", "Thanh long canh tác hữu cơ"),
    ("HOALE", "HTX Thanh long Hòa Lễ", "Hộp quà thanh long đạt OCOP 4 sao"),
    ("TIENPHAT", "HTX Rau an toàn Tiến Phát", "Rau an toàn VietGAP"),
]

# code: address (post-2025 communes of Lâm Đồng), phone, registration number of the cooperative.
CONTACTS = {
    "HAMDUC": ("Thôn 3 (xã Hàm Đức cũ), Xã Hàm Thuận, tỉnh Lâm Đồng", "0252 3865 101", "3401000101"),
    "THUANTIEN": ("Thôn Thuận Tiến, Xã Hàm Thuận Bắc, tỉnh Lâm Đồng", "0252 3865 202", "3401000202"),
    "PHUHOI": ("Thôn Phú Hội, Xã Hàm Liêm, tỉnh Lâm Đồng", "0252 3865 303", "3401000303"),
    "HOALE": ("Thôn Hòa Lễ, Xã Hồng Sơn, tỉnh Lâm Đồng", "0252 3865 404", "3401000404"),
    "TIENPHAT": ("Khu phố Tiến Phát, Phường Hàm Thắng, tỉnh Lâm Đồng", "0252 3865 505", "3401000505"),
}
GROWING_AREAS = {
    "TL-RD-HD": "VN-BTDR-0112",
    "TL-RT-HD": "VN-BTDR-0113",
    "TL-RT-TT": "VN-BTDR-0207",
    "TL-HC-PH": "VN-BTDR-0315",
    "TL-HOP-HL": "VN-BTDR-0421",
}
_VIETGAP = "Tổ chức chứng nhận VietGAP được chỉ định"
_VEGETABLES = ("VietGAP", "VietGAP-TT-24-03-60-0112", _VIETGAP, -400, 695)
# sku: (label, number, issuer, valid from, valid until), the days counted from the load day.
CERTIFICATES = {
    "TL-RD-HD": [("VietGAP", "VietGAP-TT-24-05-60-0318", _VIETGAP, -300, 795)],
    "TL-RT-HD": [("VietGAP", "VietGAP-TT-22-10-60-0117", _VIETGAP, -1115, -20)],  # expired: renewal pending
    "TL-RT-TT": [("GlobalGAP", "GGN 4063061871234", "Tổ chức chứng nhận GLOBALG.A.P.", -200, 165)],
    "TL-HC-PH": [("Hữu cơ", "HC-TCVN11041-2-0426", "Tổ chức chứng nhận hữu cơ theo TCVN 11041-2:2017", -150, 580)],
    "TL-HOP-HL": [
        ("VietGAP", "VietGAP-TT-25-01-60-0051", _VIETGAP, -90, 1005),
        ("OCOP", "OCOP-4S-BTH-2024-017", "UBND tỉnh Bình Thuận", -500, 595),
    ],
    "RAU-MUONG-TP": [_VEGETABLES],
    "RAU-CAINGOT-TP": [_VEGETABLES],
    "RAU-CACHUA-TP": [_VEGETABLES],
    "RAU-XALACH-TP": [_VEGETABLES],
}
# sku: (days before the load day, quantity in the sale unit) of recent harvest batches.
HARVESTS = {
    "TL-RD-HD": [(4, 250), (1, 300)],
    "TL-RT-HD": [(2, 400)],
    "TL-RT-TT": [(3, 500)],
    "TL-HC-PH": [(5, 120)],
    "TL-HOP-HL": [(2, 40)],
    "RAU-MUONG-TP": [(0, 150)],
    "RAU-CACHUA-TP": [(1, 80)],
}

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
        code: Cooperative(
            code=code,
            name=name,
            province=PROVINCE,
            description=desc,
            address=CONTACTS[code][0],
            phone=CONTACTS[code][1],
            registration_code=CONTACTS[code][2],
        )
        for code, name, desc in COOPERATIVES
    }
    session.add_all(coops.values())
    products = {}
    for sku, name, coop, category, aliases, unit, weight, price, stock, certs, stars, image in PRODUCTS:
        products[sku] = Product(
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
            growing_area_code=GROWING_AREAS.get(sku),
        )
    session.add_all(products.values())
    await session.flush()
    await _load_origin_facts(session, products)
    return len(PRODUCTS)


async def _load_origin_facts(session: AsyncSession, products: dict[str, Product]) -> None:
    """The demo's certificates and harvest batches, dated from today."""
    today = vietnam_day()
    for sku, certificates in CERTIFICATES.items():
        session.add_all(
            Certificate(
                product_id=products[sku].id,
                scheme=scheme,
                number=number,
                issuer=issuer,
                valid_from=today + timedelta(days=start),
                valid_until=today + timedelta(days=end),
            )
            for scheme, number, issuer, start, end in certificates
        )
    for sku, harvests in HARVESTS.items():
        for days_ago, quantity in harvests:
            await record_batch(session, products[sku], today - timedelta(days=days_ago), Decimal(quantity), "demo")


def demo_index() -> ProductIndex:
    """A search index over the demo catalogue without a database (for `htx nlu --demo`)."""
    names = {code: name for code, name, _ in COOPERATIVES}
    return ProductIndex(
        SearchEntry(sku, name, coop, names[coop], category, tuple(aliases), unit, Decimal(weight))
        for sku, name, coop, category, aliases, unit, weight, *_ in PRODUCTS
    )
