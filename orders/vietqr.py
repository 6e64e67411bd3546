"""VietQR (NAPAS 247) bank-transfer codes: the EMVCo payload, byte for byte, and its QR image.

The payload is a string of TLV fields (2-digit id, 2-digit length, value) ending in a CRC-16/CCITT-FALSE
(NAPAS "QR Code Format" v1.5.2; field layout and verified examples in ../shared/reference/vietnam.md §1).
A bank app scanning it opens a transfer to the account, with the amount and the memo already filled in.
"""

from __future__ import annotations

import io
import re
import unicodedata

import segno

NAPAS_GUID = "A000000727"
TO_ACCOUNT, TO_CARD = "QRIBFTTA", "QRIBFTTC"
STATIC, DYNAMIC = "11", "12"  # reusable code / one payment with its amount
VND, VIETNAM = "704", "VN"
MAX_ACCOUNT = 19
MAX_ADDITIONAL = 25  # each sub-field of field 62, as bank apps cut it

# BIN (acquirer id) → bank, for the banks whose BIN three public lists agree on (vietnam.md §1.4) and that
# take VietQR transfers.
BANKS: dict[str, str] = {
    "970436": "Vietcombank",
    "970415": "VietinBank",
    "970418": "BIDV",
    "970405": "Agribank",
    "970422": "MB Bank",
    "970407": "Techcombank",
    "970416": "ACB",
    "970432": "VPBank",
    "970423": "TPBank",
    "970403": "Sacombank",
    "970441": "VIB",
    "970437": "HDBank",
    "970443": "SHB",
    "970426": "MSB",
    "970448": "OCB",
    "970431": "Eximbank",
    "970440": "SeABank",
    "970449": "LPBank",
    "970419": "NCB",
    "970428": "Nam A Bank",
    "970409": "Bac A Bank",
    "970412": "PVcomBank",
    "970446": "Co-op Bank",
    "970452": "KienlongBank",
    "970454": "BVBank",
    "970438": "BaoViet Bank",
    "970425": "ABBank",
    "970400": "Saigonbank",
    "970427": "VietABank",
    "970433": "VietBank",
    "970429": "SCB",
    "970430": "PG Bank",
    "970424": "Shinhan Bank",
    "546034": "CAKE",
    "546035": "Ubank",
    "963388": "Timo",
}
_ACCOUNT = re.compile(r"^[0-9A-Za-z]{1,19}$")
_PRINTABLE = re.compile(r"[^ -~]")


class InvalidVietQR(ValueError):
    """A bank, account, amount or memo that cannot go into a VietQR code."""


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): the check value of field 63."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise InvalidVietQR(f"field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def ascii_memo(text: str) -> str:
    """A memo bank apps read the same everywhere: no diacritics (đ → d), printable ASCII, at most 25 characters."""
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return " ".join(_PRINTABLE.sub("", plain).split())[:MAX_ADDITIONAL].strip()


def payload(
    bank_bin: str,
    account: str,
    amount: int | None = None,
    memo: str | None = None,
    bill_number: str | None = None,
    card: bool = False,
) -> str:
    """The VietQR string for a transfer to an account (or a card) at the bank with this BIN.

    With an amount the code is dynamic (one payment, amount filled in); without, static. The memo (field
    62.08, what the buyer's bank writes on the transfer) is folded to ASCII and cut to 25 characters.
    Raises `InvalidVietQR` for an unknown BIN, a bad account number or a non-positive amount.
    """
    if bank_bin not in BANKS:
        raise InvalidVietQR(f"unknown bank BIN {bank_bin!r}")
    if not _ACCOUNT.match(account):
        raise InvalidVietQR("the account number must be 1 to 19 letters or digits")
    if amount is not None and amount <= 0:
        raise InvalidVietQR("the amount must be a positive number of đồng")
    beneficiary = _field("00", bank_bin) + _field("01", account)
    merchant = _field("00", NAPAS_GUID) + _field("01", beneficiary) + _field("02", TO_CARD if card else TO_ACCOUNT)
    text = _field("00", "01") + _field("01", STATIC if amount is None else DYNAMIC) + _field("38", merchant)
    text += _field("53", VND)
    if amount is not None:
        text += _field("54", str(amount))
    text += _field("58", VIETNAM)
    additional = ""
    if bill_number:
        additional += _field("01", ascii_memo(bill_number))
    if memo and ascii_memo(memo):
        additional += _field("08", ascii_memo(memo))
    if additional:
        text += _field("62", additional)
    text += "6304"
    return text + f"{crc16_ccitt_false(text.encode('ascii')):04X}"


def is_valid(code: str) -> bool:
    """Does the string end in the right CRC for the rest of it?"""
    body, given = code[:-4], code[-4:]
    return code[-8:-4] == "6304" and f"{crc16_ccitt_false(body.encode('ascii')):04X}" == given.upper()


def png(code: str, scale: int = 8) -> bytes:
    """The QR image of a payload as PNG bytes (error correction M, as bank apps expect; 4-module quiet zone)."""
    buffer = io.BytesIO()
    segno.make_qr(code, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
