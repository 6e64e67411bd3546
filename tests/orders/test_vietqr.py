"""VietQR payloads byte for byte against the verified examples (vietnam.md §1.3), and their QR images."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from orders.vietqr import BANKS, InvalidVietQR, ascii_memo, crc16_ccitt_false, is_valid, payload, png

NPS = {"memo": "thanh toan don hang", "bill_number": "NPS6869"}
# (example, bank BIN, account or card, amount, keyword arguments, the published payload)
EXAMPLES = [
    (
        "B static to card (NAPAS 6.1.2)",
        ("970403", "9704031101234567", None, {"card": True}),
        "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC53037045802VN63044F52",
    ),
    (
        "C dynamic to account (NAPAS 6.1.3)",
        ("970403", "0011012345678", 180000, NPS),
        "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA530370454061800005802VN"
        "62340107NPS68690819thanh toan don hang63042E2E",
    ),
    (
        "D dynamic to card (NAPAS 6.1.4)",
        ("970403", "9704031101234567", 180000, {**NPS, "card": True}),
        "00020101021238600010A00000072701300006970403011697040311012345670208QRIBFTTC530370454061800005802VN"
        "62340107NPS68690819thanh toan don hang6304A203",
    ),
    (
        "E VietinBank with a Vietnamese memo folded to ASCII",
        ("970415", "0011001932418", 120000, {"memo": "ủng hộ lũ lụt"}),
        "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA530370454061200005802VN"
        "62170813ung ho lu lut6304C15C",
    ),
    (
        "F TPBank static",
        ("970423", "0099999999", None, {}),
        "00020101021138540010A00000072701240006970423011000999999990208QRIBFTTA53037045802VN6304CBB4",
    ),
    (
        "G MB dynamic",
        ("970422", "0023457923442", 40123, {"memo": "test text string"}),
        "00020101021238570010A00000072701270006970422011300234579234420208QRIBFTTA53037045405401235802VN"
        "62200816test text string6304D9C6",
    ),
    (
        "H payOS virtual account at MB",
        ("970422", "VQRQABRLS0448", 2000, {"memo": "18f8746b181045f0a2ce"}),
        "00020101021238570010A000000727012700069704220113VQRQABRLS04480208QRIBFTTA5303704540420005802VN"
        "6224082018f8746b181045f0a2ce63040FC0",
    ),
]


@pytest.mark.parametrize(("arguments", "expected"), [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_payloads_are_byte_identical_to_the_verified_examples(arguments, expected):
    bank_bin, account, amount, options = arguments
    assert payload(bank_bin, account, amount, **options) == expected
    assert is_valid(expected)


def test_the_crc_is_crc16_ccitt_false():
    assert f"{crc16_ccitt_false(b'123456789'):04X}" == "29B1"  # the algorithm's published check value


def test_a_published_payload_with_a_wrong_crc_is_caught():
    assert not is_valid("00020101021138540010A00000072701240006970423011000999999990208QRIBFTTA53037045802VN6304CBB5")


def test_an_order_memo_is_plain_ascii_and_at_most_25_characters():
    assert ascii_memo("Đơn DH7K2M9Q – thanh long ruột đỏ Hàm Đức") == "Don DH7K2M9Q thanh long r"
    code = payload("970436", "1023456789", 150000, memo="DH7K2M9Q")
    assert "0808DH7K2M9Q" in code and code.isascii() and is_valid(code)


@pytest.mark.parametrize(
    ("bank_bin", "account", "amount"),
    [("970499", "123", 1000), ("970436", "12 34", 1000), ("970436", "1" * 20, 1000), ("970436", "123", 0)],
    ids=["unknown BIN", "space in the account", "account too long", "zero amount"],
)
def test_what_cannot_be_paid_is_refused(bank_bin, account, amount):
    with pytest.raises(InvalidVietQR):
        payload(bank_bin, account, amount)


def test_the_bank_list_holds_only_verified_bins():
    assert BANKS["970436"] == "Vietcombank" and BANKS["970405"] == "Agribank" and BANKS["970446"] == "Co-op Bank"
    assert all(len(b) == 6 and b.isdigit() for b in BANKS)


def test_the_png_decodes_back_to_the_payload():
    code = payload("970446", "0123456789012", 350000, memo="DH7K2M9Q")
    image = png(code)
    assert image.startswith(b"\x89PNG")
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image)))
    assert found.text == code and found.format == zxingcpp.BarcodeFormat.QRCode
