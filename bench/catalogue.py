"""A generated national catalogue for benchmarks: the demo products plus thousands of plausible others."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

from catalog.demo import demo_index
from catalog.search import ProductIndex, SearchEntry

PRODUCE = [
    ("Xoài cát Hòa Lộc", "trái cây"),
    ("Xoài keo", "trái cây"),
    ("Bưởi da xanh", "trái cây"),
    ("Bưởi Năm Roi", "trái cây"),
    ("Sầu riêng Ri6", "trái cây"),
    ("Sầu riêng Monthong", "trái cây"),
    ("Cam sành", "trái cây"),
    ("Cam xoàn", "trái cây"),
    ("Quýt đường", "trái cây"),
    ("Chôm chôm", "trái cây"),
    ("Măng cụt", "trái cây"),
    ("Nhãn xuồng cơm vàng", "trái cây"),
    ("Vú sữa Lò Rèn", "trái cây"),
    ("Mít Thái", "trái cây"),
    ("Dừa xiêm", "trái cây"),
    ("Chuối già", "trái cây"),
    ("Ổi ruột đỏ", "trái cây"),
    ("Dưa hấu", "trái cây"),
    ("Dưa lưới", "trái cây"),
    ("Nho mẫu đơn", "trái cây"),
    ("Bơ sáp", "trái cây"),
    ("Chanh dây", "trái cây"),
    ("Chanh không hạt", "trái cây"),
    ("Mãng cầu xiêm", "trái cây"),
    ("Khoai lang tím", "củ"),
    ("Khoai tây", "củ"),
    ("Cà rốt", "củ"),
    ("Củ cải trắng", "củ"),
    ("Hành tím", "củ"),
    ("Tỏi Lý Sơn", "củ"),
    ("Gừng", "củ"),
    ("Nghệ", "củ"),
    ("Bắp cải", "rau"),
    ("Súp lơ xanh", "rau"),
    ("Rau dền", "rau"),
    ("Rau lang", "rau"),
    ("Mồng tơi", "rau"),
    ("Cải bẹ xanh", "rau"),
    ("Cải thìa", "rau"),
    ("Xà lách thủy canh", "rau"),
    ("Hành lá", "rau"),
    ("Ngò rí", "rau"),
    ("Bí đỏ", "rau"),
    ("Bí xanh", "rau"),
    ("Mướp hương", "rau"),
    ("Khổ qua", "rau"),
    ("Đậu bắp", "rau"),
    ("Dưa leo", "rau"),
    ("Ớt chỉ thiên", "rau"),
    ("Nấm rơm", "nấm"),
    ("Nấm bào ngư", "nấm"),
    ("Gạo ST25", "gạo"),
    ("Gạo nàng hoa", "gạo"),
    ("Cà phê Robusta", "cà phê"),
    ("Hạt điều", "hạt"),
    ("Tiêu đen", "gia vị"),
    ("Mật ong hoa cà phê", "mật ong"),
]
QUALIFIERS = ["", "loại 1", "hữu cơ", "VietGAP", "size lớn", "sạch", "đặc sản", "túi 1 kg"]
PLACES = [
    "Tiền Giang",
    "Bến Tre",
    "Cái Bè",
    "Đà Lạt",
    "Đơn Dương",
    "Lâm Hà",
    "Bảo Lộc",
    "Vĩnh Long",
    "Trà Vinh",
    "Cần Thơ",
    "Phong Điền",
    "Sóc Trăng",
    "Hậu Giang",
    "Đồng Tháp",
    "Cao Lãnh",
    "An Giang",
    "Kiên Giang",
    "Long An",
    "Tây Ninh",
    "Bình Phước",
    "Đồng Nai",
    "Đắk Lắk",
    "Buôn Ma Thuột",
    "Gia Lai",
    "Kon Tum",
    "Khánh Hòa",
    "Ninh Thuận",
    "Phú Yên",
    "Bình Định",
    "Quảng Ngãi",
    "Lý Sơn",
    "Quảng Nam",
    "Huế",
    "Quảng Trị",
    "Nghệ An",
    "Thanh Hóa",
    "Ninh Bình",
    "Hưng Yên",
    "Hải Dương",
    "Bắc Giang",
    "Lục Ngạn",
    "Sơn La",
    "Mộc Châu",
    "Hòa Bình",
    "Lào Cai",
    "Sa Pa",
    "Hà Giang",
    "Cao Bằng",
    "Lạng Sơn",
    "Thái Nguyên",
]


def national_index(size: int = 10_000, seed: int = 7) -> tuple[ProductIndex, list[SearchEntry]]:
    """The demo products plus `size` generated ones; returns the index and the generated entries."""
    rng = random.Random(seed)
    combos = list(itertools.product(PRODUCE, QUALIFIERS, PLACES))
    rng.shuffle(combos)
    index = demo_index()
    generated = []
    for n, ((name, category), qualifier, place) in enumerate(combos[:size]):
        coop = f"HTX Nông nghiệp {place}"
        full = " ".join(part for part in (name, qualifier, place) if part)
        entry = SearchEntry(f"GEN-{n:05d}", full, f"COOP-{place}", coop, category, (), "kg", Decimal(1))
        index.upsert(entry)
        generated.append(entry)
    return index, generated
