"""Delivery addresses → the province (and ward) after the July 2025 reform: old and new names, with and
without diacritics, abbreviations, street numbers in front. `bench/address.py` runs the same list."""

from __future__ import annotations

import json
import random
import sys
import unicodedata
from importlib import resources
from typing import Literal

import pytest

from bot.nlu.address import Place, locate

# (address as a buyer types it, new province, new ward or None when the text does not tell one).
# Merges (Nghị quyết 202/2025/QH15): Bình Thuận + Đắk Nông → Lâm Đồng; Bình Dương + Bà Rịa–Vũng Tàu →
# Hồ Chí Minh; Bình Phước → Đồng Nai; Ninh Thuận → Khánh Hòa; Sóc Trăng + Hậu Giang → Cần Thơ;
# Quảng Nam → Đà Nẵng; Phú Yên → Đắk Lắk; Bình Định → Gia Lai; Kiên Giang → An Giang; Tiền Giang →
# Đồng Tháp; Bến Tre + Trà Vinh → Vĩnh Long; Bạc Liêu → Cà Mau; Long An → Tây Ninh.
# Wards: data derived from vietnamadminunits 1.0.4 (bot/nlu/data/admin_units.json), checked where known (shared
# reference vietnam.md §4: Phú Trinh → Phường Phan Thiết 22945, Hàm Tiến → Phường Mũi Né, Đặc khu Phú Quý). The
# wards of the cases under "more" were checked against that package's own converter before it was dropped.
CASES: list[tuple[str, str, str | None]] = [
    # Bình Thuận / Đắk Nông / Lâm Đồng → Lâm Đồng
    ("12 Nguyễn Tất Thành, Phan Thiết", "Lâm Đồng", None),
    ("12 Nguyễn Tất Thành, P. Phú Trinh, TP Phan Thiết, Bình Thuận", "Lâm Đồng", "Phường Phan Thiết"),
    ("Thôn 3, xã Hàm Thắng, huyện Hàm Thuận Bắc, tỉnh Bình Thuận", "Lâm Đồng", "Phường Hàm Thắng"),
    ("xa ham thang, h. ham thuan bac, binh thuan", "Lâm Đồng", "Phường Hàm Thắng"),
    ("Hàm Thuận Bắc, Bình Thuận", "Lâm Đồng", None),
    ("Hàm Tiến, Phan Thiết", "Lâm Đồng", "Phường Mũi Né"),
    ("Phường Phan Thiết, Tỉnh Lâm Đồng", "Lâm Đồng", "Phường Phan Thiết"),
    ("phuong mui ne, lam dong", "Lâm Đồng", "Phường Mũi Né"),
    ("Xã Hàm Thuận Bắc, Lâm Đồng", "Lâm Đồng", "Xã Hàm Thuận Bắc"),
    ("tx La Gi, Bình Thuận", "Lâm Đồng", None),
    ("Đặc khu Phú Quý, Lâm Đồng", "Lâm Đồng", "Đặc khu Phú Quý"),
    ("Đà Lạt", "Lâm Đồng", None),
    ("P.1, TP Bảo Lộc, Lâm Đồng", "Lâm Đồng", "Phường 1 Bảo Lộc"),
    ("Số 10, Thị trấn Liên Nghĩa, Đức Trọng, Lâm Đồng", "Lâm Đồng", "Xã Đức Trọng"),
    ("Gia Nghĩa, Đắk Nông", "Lâm Đồng", None),
    ("Đắk Nông", "Lâm Đồng", None),
    ("12 Nguyễn Huệ, Phan Thiết", "Lâm Đồng", None),  # a street named Huệ is not Huế
    ("Đường Hà Nội, Phan Thiết", "Lâm Đồng", None),  # nor a street named Hà Nội
    ("giao 3 Thống Nhất, Phan Thiết. Sđt 0912 345 678", "Lâm Đồng", None),  # Thống Nhất is also in Đồng Nai
    ("12 nguyen tat thanh phan thiet", "Lâm Đồng", None),
    ("Mũi Né", "Lâm Đồng", "Phường Mũi Né"),
    # TP.HCM, Bình Dương, Bà Rịa–Vũng Tàu → Hồ Chí Minh
    ("Q1", "Hồ Chí Minh", None),
    ("123 Lê Lợi, P. Bến Nghé, Q.1, TP.HCM", "Hồ Chí Minh", "Phường Sài Gòn"),
    ("Sài Gòn", "Hồ Chí Minh", None),
    ("Thủ Đức", "Hồ Chí Minh", None),
    ("Thủ Đức nha", "Hồ Chí Minh", None),
    ("45 Võ Văn Ngân, Linh Chiểu, TP Thủ Đức, TP HCM", "Hồ Chí Minh", "Phường Thủ Đức"),
    ("p.thao dien, tp thu duc, tphcm", "Hồ Chí Minh", "Phường An Khánh"),
    ("quan binh thanh tphcm", "Hồ Chí Minh", None),
    ("Phường Bình Thuận, Quận 7", "Hồ Chí Minh", "Phường Tân Thuận"),  # a ward named Bình Thuận
    ("Bình Dương", "Hồ Chí Minh", None),
    ("Thủ Dầu Một, Bình Dương", "Hồ Chí Minh", None),
    ("Dĩ An", "Hồ Chí Minh", None),
    ("Vũng Tàu", "Hồ Chí Minh", None),
    ("Phú Mỹ, BR-VT", "Hồ Chí Minh", None),
    ("huyện Củ Chi", "Hồ Chí Minh", None),
    ("Phường 7, TP Vũng Tàu, Bà Rịa - Vũng Tàu", "Hồ Chí Minh", "Phường Tam Thắng"),
    ("Côn Đảo, Bà Rịa - Vũng Tàu", "Hồ Chí Minh", "Đặc khu Côn Đảo"),
    # Đồng Nai, Bình Phước → Đồng Nai
    ("Biên Hòa", "Đồng Nai", None),
    ("Long Khánh, Dong Nai", "Đồng Nai", None),
    ("Đồng Xoài, Bình Phước", "Đồng Nai", None),
    # Hà Nội
    ("số 5 ngõ 10 Thái Hà, Đống Đa, Hà Nội", "Hà Nội", None),
    ("Phường Thanh Nhàn, Quận Hai Bà Trưng, HN", "Hà Nội", "Phường Bạch Mai"),
    ("Cầu Giấy, ha noi", "Hà Nội", None),
    ("Hoàn Kiếm", "Hà Nội", None),
    # Khánh Hòa, Ninh Thuận → Khánh Hòa
    ("45 Trần Phú, P. Lộc Thọ, TP. Nha Trang, Khánh Hòa", "Khánh Hòa", "Phường Nha Trang"),
    ("tp Cam Ranh, Khanh Hoa", "Khánh Hòa", None),
    ("5 Tran Phu, Nha Trang, sdt 0905123456", "Khánh Hòa", None),
    ("Ninh Thuận", "Khánh Hòa", None),
    ("Phan Rang", "Khánh Hòa", None),
    ("12 Lê Duẩn, Phan Rang - Tháp Chàm, Ninh Thuận", "Khánh Hòa", None),
    # Cần Thơ, Sóc Trăng, Hậu Giang → Cần Thơ
    ("p. xuan khanh, q. ninh kieu, tp can tho", "Cần Thơ", "Phường Ninh Kiều"),
    ("Sóc Trăng", "Cần Thơ", None),
    ("Vị Thanh, Hậu Giang", "Cần Thơ", None),
    # Đà Nẵng, Quảng Nam → Đà Nẵng
    ("kiệt 45 Hoàng Diệu, Hải Châu, Đà Nẵng", "Đà Nẵng", None),
    ("Hội An, Quảng Nam", "Đà Nẵng", None),
    ("Tam Kỳ", "Đà Nẵng", None),
    # elsewhere
    ("12 Lê Lợi, Huế", "Huế", None),
    ("Buôn Ma Thuột", "Đắk Lắk", None),
    ("Vinh", "Nghệ An", None),
    ("Tuy Hòa, Phú Yên", "Đắk Lắk", None),
    ("Quy Nhơn", "Gia Lai", None),
    ("Rạch Giá, Kiên Giang", "An Giang", None),
    ("Mỹ Tho, Tiền Giang", "Đồng Tháp", None),
    ("Bến Tre", "Vĩnh Long", None),
    ("Bạc Liêu", "Cà Mau", None),
    ("Tân An, Long An", "Tây Ninh", None),
    # more: old addresses converted by the conversion table
    ("Xã Ea Nam, Huyện Ea H'leo, Tỉnh Đắk Lắk", "Đắk Lắk", "Xã Ea Khăl"),  # apostrophe inside a name
    ("xã Vĩnh Hiệp, Vĩnh Thạnh, Bình Định", "Gia Lai", "Xã Vĩnh Thịnh"),  # "Thạnh" before the province stays
    ("Phường Song Khê, Thành phố Bắc Giang", "Bắc Ninh", "Phường Tiền Phong"),  # the city named like its province
    ("Phường 1, TP Cà Mau", "Cà Mau", "Phường An Xuyên"),
    ("Thôn 2, Xã Tiên Nha, Huyện Lục Nam, Tỉnh Bắc Giang", "Bắc Ninh", "Xã Lục Nam"),  # "nha" ends a name here
    ("Xã Thủy Bằng, Hương Thủy, Thừa Thiên Huế", "Huế", "Phường Thủy Xuân"),
    ("F12, Gò Vấp, HCM", "Hồ Chí Minh", "Phường An Hội Tây"),  # the package's variants: "f12" for Phường 12
    ("Phường Long Bình, Quận 9, TP.HCM", "Hồ Chí Minh", "Phường Long Bình"),  # Quận 9 became TP Thủ Đức in 2021
    ("Huyện Lý Sơn, Quảng Ngãi", "Quảng Ngãi", "Đặc khu Lý Sơn"),  # island district without wards
    ("Phường Sa Pa, Lào Cai", "Lào Cai", "Phường Sa Pa"),  # old Phường Sa Pa and Sa Pả differ by a tone mark
    # more: new addresses
    ("Xã Mường Lầm, Sơn La", "Sơn La", "Xã Mường Lầm"),
    ("Phường Tân Phước, TP.HCM", "Hồ Chí Minh", "Phường Tân Phước"),
    ("Xã Cẩm Giàng, Hải Phòng", "Hải Phòng", "Xã Cẩm Giàng"),  # told apart from Xã Cẩm Giang by diacritics only
    ("Xã Cẩm Giang, Hải Phòng", "Hải Phòng", "Xã Cẩm Giang"),
    ("Xã Mường Nhé, Tỉnh Điện Biên", "Điện Biên", "Xã Mường Nhé"),  # "nhé" is not a chat particle here
    ("xã Phong Nha nha", "Quảng Trị", "Xã Phong Nha"),
    ("Quận 7 nhé", "Hồ Chí Minh", None),  # but here it is
    ("Xã Vĩnh Tường, Nghệ An", "Nghệ An", "Xã Vĩnh Tường"),  # holds "Vinh", an old city of Nghệ An
    ("Quy Nhơn Đông, Gia Lai", "Gia Lai", "Phường Quy Nhơn Đông"),  # a new name holding an old city's
    ("Phường Thuận Hóa, Thành phố Huế", "Huế", "Phường Thuận Hóa"),
]

PROVINCE_CODES = {"Lâm Đồng": "68", "Hồ Chí Minh": "79", "Đồng Nai": "75", "Hà Nội": "01", "Khánh Hòa": "56"}

# Product and person names that are also communes: Xã Thanh Long (Cao Bằng), Phường Láng (Hà Nội), Chũ (Bắc
# Ninh), Xã Vạn An (Nghệ An). The package alone finds a province in the first three and in "giao nhanh nha".
NOT_ADDRESSES = [
    "giao nhanh nha",
    "",
    "   ",
    "asdf",
    "😀",
    "🍉🍉🍉",
    "!!!",
    "12345",
    "cho em 2 ký bơ",
    "lấy 2 ký thanh long",
    "cho e 2 ky khoai lang",
    "lay 3kg ca chu",
    "mình là Nguyễn Văn An",
]


@pytest.mark.parametrize(("address", "province", "ward"), CASES, ids=[c[0] for c in CASES])
def test_province_and_ward(address: str, province: str, ward: str | None) -> None:
    place = locate(address)
    assert place is not None
    assert (place.province, place.ward) == (province, ward)
    assert (place.ward_code is None) == (ward is None)
    if province in PROVINCE_CODES:
        assert place.province_code == PROVINCE_CODES[province]


@pytest.mark.parametrize("address", NOT_ADDRESSES)
def test_no_province_gives_none(address: str) -> None:
    assert locate(address) is None


def test_codes_are_the_national_ones() -> None:
    assert locate("12 Nguyễn Tất Thành, P. Phú Trinh, TP Phan Thiết, Bình Thuận") == Place(
        province_code="68", province="Lâm Đồng", ward="Phường Phan Thiết", ward_code="22945"
    )


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_unicode_form_and_case_do_not_matter(form: Literal["NFC", "NFD"]) -> None:
    expected = locate("Phường Mũi Né, Lâm Đồng")
    assert locate(unicodedata.normalize(form, "PHƯỜNG MŨI NÉ, LÂM ĐỒNG")) == expected


def test_fruit_is_not_an_address() -> None:
    # Xã Thanh Long is a commune in Cao Bằng; the package alone reads this as Cao Bằng.
    assert locate("thanh long ruột đỏ") is None
    assert locate("xã Thanh Long, Cao Bằng") == locate("xa thanh long, cao bang")


def test_never_raises_on_arbitrary_text() -> None:
    rng = random.Random(2025)
    alphabet = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậ,.;/-_ 0123456789\n\t😀\u0300\x00"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        place = locate(text)
        assert place is None or isinstance(place, Place)
    assert locate("x" * 100_000) is None
    assert locate(", , ,") is None
    assert locate(None) is None  # type: ignore[arg-type]


def test_every_new_ward_written_in_full_is_found() -> None:
    data = json.loads(resources.files("bot.nlu").joinpath("data", "admin_units.json").read_text(encoding="utf-8"))
    misses = []
    for province in data["provinces"]:
        for code, name, *_ in province["wards"]:
            place = locate(f"{name}, {province['name']}")
            if place != Place(province["code"], province["short"], name, code):
                misses.append((name, province["short"], place))
    assert not misses


def test_data_file_is_packaged_with_its_licence() -> None:
    folder = resources.files("bot.nlu").joinpath("data")
    data = json.loads(folder.joinpath("admin_units.json").read_text(encoding="utf-8"))
    assert data["source"] == {"package": "vietnamadminunits", "version": "1.0.4"}
    assert len(data["provinces"]) == 34 and len(data["old_provinces"]) == 63
    codes = [ward[0] for p in data["provinces"] for ward in p["wards"]]
    assert len(codes) == len(set(codes)) == 3321 and all(len(c) == 5 and c.isdigit() for c in codes)
    assert sorted(p["code"] for p in data["provinces"]) == sorted({p["code"] for p in data["provinces"]})
    for old in data["old_provinces"]:
        wards = data["provinces"][old["new"]]["wards"]
        for district in old["districts"]:
            for ward in district["wards"]:
                targets = ward[1] if isinstance(ward[1], list) else [ward[1]]
                assert all(0 <= t < len(wards) for t in targets), ward
    licence = folder.joinpath("LICENSE-vietnamadminunits.txt").read_text(encoding="utf-8")
    assert "vietnamadminunits 1.0.4" in licence and "MIT License" in licence


def test_needs_no_third_party_package() -> None:
    # vietnamadminunits imports Unidecode (GPL-2.0-or-later), shapely and geopy: none of them may come back.
    locate("Phường Phú Trinh, Phan Thiết, Bình Thuận")
    banned = {"vietnamadminunits", "unidecode", "shapely", "geopy"}
    assert not banned & {name.split(".")[0] for name in sys.modules}
