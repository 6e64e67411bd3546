"""Understanding buyers' Vietnamese: the `htx nlu` contract on the demo catalogue."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest

from bot.nlu.numbers import parse_digits, parse_words
from bot.nlu.parse import parse
from bot.nlu.slots import normalize_phone
from bot.nlu.units import to_sale_unit
from catalog.demo import demo_index

INDEX = demo_index()


def understood(text: str) -> dict:
    return parse(text, INDEX).as_contract()


@pytest.mark.parametrize(
    "text",
    [
        "mua 3 ký thanh long ruột đỏ hàm đức",
        "mua 3 ki thanh long ruot do ham duc",
        "MUA 3 KÝ THANH LONG RUỘT ĐỎ HÀM ĐỨC",
        unicodedata.normalize("NFD", "mua 3 ký thanh long ruột đỏ hàm đức"),
        "mua 3kg thanh long ruột đỏ của Hàm Đức nhaaa 🙏",
        "cho e 3 kí tl ruột đỏ hàm đức nha shop",
    ],
)
def test_an_order_is_understood_however_it_is_typed(text):
    result = understood(text)
    assert result["intent"] == "order"
    assert [(i["sku"], i["quantity"], i["unit"]) for i in result["items"]] == [("TL-RD-HD", 3, "kg")]


def test_the_contract_has_exactly_its_keys():
    result = understood("cho 2 hộp thanh long hòa lễ")
    assert set(result) == {"intent", "items", "phone", "address", "name", "order_code"}
    assert result["items"] == [
        {
            "sku": "TL-HOP-HL",
            "candidates": ["TL-HOP-HL"],
            "quantity": 2,
            "unit": "hộp",
            "said": "cho 2 hộp thanh long hòa lễ",
        }
    ]


def test_words_that_fit_two_products_give_candidates_not_a_guess():
    (item,) = understood("mua 2 kg thanh long ruột trắng")["items"]
    assert item["sku"] is None
    assert set(item["candidates"]) == {"TL-RT-HD", "TL-RT-TT"}
    assert item["quantity"] == 2


def test_organic_is_told_apart_and_co_khong_is_not_organic():
    assert understood("mua 1kg thanh long ruột đỏ hữu cơ")["items"][0]["sku"] == "TL-HC-PH"
    question = understood("có thanh long ruột đỏ không")
    assert question["intent"] == "search"
    assert set(question["items"][0]["candidates"]) == {"TL-RD-HD", "TL-HC-PH"}


def test_several_items_in_one_message_with_units_converted_to_the_sale_unit():
    items = understood("lấy 1 ký rưỡi cà chua vs 3kg rau muống")["items"]
    assert [(i["sku"], i["quantity"], i["unit"]) for i in items] == [
        ("RAU-CACHUA-TP", 1.5, "kg"),
        ("RAU-MUONG-TP", 6, "bó"),
    ]


def test_a_conversion_that_is_impossible_keeps_what_was_said():
    (item,) = understood("mua 7 kg hộp quà thanh long hòa lễ")["items"]
    assert item["sku"] == "TL-HOP-HL" and item["quantity"] is None and item["unit"] == "kg"


def test_every_slot_of_one_message_is_filled():
    result = understood(
        "mua 3kg thanh long ruột đỏ hàm đức, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết"
    )
    assert result["name"] == "Lan"
    assert result["phone"] == "0912345678"
    assert result["address"] == "12 Nguyễn Tất Thành, Phan Thiết"
    assert [i["sku"] for i in result["items"]] == ["TL-RD-HD"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("xin chào", "greet"),
        ("menu", "greet"),
        ("hướng dẫn", "help"),
        ("xem sản phẩm", "browse"),
        ("thanh long ruột đỏ giá bao nhiêu", "price"),
        ("tl ruot do bn 1 ky", "price"),
        ("giỏ hàng", "cart"),
        ("bỏ rau muống", "cart"),
        ("đặt hàng", "checkout"),
        ("chốt đơn", "checkout"),
        ("đơn của tôi", "order_status"),
        ("kiểm tra đơn DH7K2M9Q", "order_status"),
        ("hủy", "cancel"),
        ("thôi", "cancel"),
        ("hủy đơn DH7K2M9Q", "cancel"),
        ("gặp nhân viên", "handoff"),
        ("cảm ơn shop", "thanks"),
        ("có rau muống không", "search"),
        ("asdfgh", "unknown"),
        ("", "unknown"),
    ],
)
def test_intents(text, intent):
    assert understood(text)["intent"] == intent


def test_order_codes_are_read_in_any_case():
    assert understood("kiem tra don dh7k2m9q")["order_code"] == "DH7K2M9Q"


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("0912345678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0321234567", "0321234567"),
        ("0951234567", None),  # 095 is not a mobile prefix in use
        ("0162 123 4567", None),  # old 11-digit number
        ("02438123456", None),  # Hà Nội landline
        ("091234567", None),
    ],
)
def test_only_vietnamese_mobile_numbers_are_phones(raw, phone):
    assert normalize_phone(raw) == phone


def test_an_invalid_phone_is_noticed_not_taken():
    parsed = parse("sđt 0123456789", INDEX)
    assert parsed.phone is None and parsed.invalid_phone == "0123456789"


def test_a_delivery_question_is_not_an_address():
    assert understood("giao hàng mất bao lâu?")["address"] is None
    assert understood("giao hang khong")["address"] is None


@pytest.mark.parametrize(
    ("token", "value"), [("3", 3), ("1,5", Decimal("1.5")), ("1.5", Decimal("1.5")), ("1.000", 1000), ("-2", -2)]
)
def test_digits_with_decimal_comma_or_dot(token, value):
    assert parse_digits(token) == value


@pytest.mark.parametrize(
    ("words", "value"),
    [("mot", 1), ("muoi", 10), ("muoi lam", 15), ("hai muoi mot", 21), ("ba muoi tu", 34), ("mot tram", 100)],
)
def test_number_words(words, value):
    assert parse_words(words.split())[0] == value


def test_number_words_read_before_a_unit():
    assert understood("mua hai ký cà chua")["items"][0]["quantity"] == 2
    assert understood("mua nửa ký cà chua")["items"][0]["quantity"] == 0.5


@pytest.mark.parametrize(
    ("quantity", "unit", "sale_unit", "weight", "expected"),
    [
        (3, "kg", "bó", Decimal("0.5"), 6),
        (5, "lang", "kg", Decimal(1), Decimal("0.5")),
        (2, "yen", "kg", Decimal(1), 20),
        (10, "kg", "hộp", Decimal(5), 2),
        (7, "kg", "hộp", Decimal(5), None),
        (2, "hop", "kg", Decimal(1), None),
        (4, "qua", "trái", None, 4),
    ],
)
def test_units_convert_to_the_sale_unit(quantity, unit, sale_unit, weight, expected):
    assert to_sale_unit(Decimal(quantity), unit, sale_unit, weight) == expected


def test_a_typo_in_one_word_still_finds_the_product():
    assert understood("mua 3 kg thanh lonh ruot do ham duc")["items"][0]["sku"] == "TL-RD-HD"
    assert understood("mua 2 kg ca chuaa")["items"][0]["sku"] == "RAU-CACHUA-TP"


def test_an_unknown_product_is_reported_as_not_found():
    result = understood("mua 3 kg sầu riêng")
    assert result["intent"] == "order"
    assert result["items"] == [
        {"sku": None, "candidates": [], "quantity": None, "unit": None, "said": "mua 3 kg sầu riêng"}
    ]


@pytest.mark.parametrize(
    "text",
    ["mua 3kg thanh long ruột đỏ, của Hàm Đức", "lấy 3 ký thanh long ruột đỏ nha, loại của htx hàm đức"],
)
def test_a_cooperative_named_elsewhere_in_the_message_settles_a_tie(text):
    assert [(i["sku"], i["quantity"]) for i in understood(text)["items"]] == [("TL-RD-HD", 3)]


def test_an_address_is_placed_in_its_province_after_the_2025_reform():
    parsed = parse("sdt 0912.345.678 giao p phan thiet", INDEX)
    assert (parsed.phone, parsed.province, parsed.province_code) == ("0912345678", "Lâm Đồng", "68")


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("25k", 25000),
        ("25.000", 25000),
        ("25000đ", 25000),
        ("25 nghìn", 25000),
        ("25 ngàn", 25000),
        ("giá 28", 28000),
        ("1tr5", 1500000),
        ("25,000", 25000),
        ("không có số", None),
    ],
)
def test_prices_as_cooperatives_write_them(text, price):
    from bot.nlu.numbers import parse_price
    from catalog.search import fold

    assert parse_price(fold(text)) == price
