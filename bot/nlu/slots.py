"""Checkout details inside free text: phone, name, delivery address, order code.

Rules run on the folded text (same positions as the cleaned text), and values are cut from the cleaned
text so names and addresses keep their diacritics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from catalog.search import fold

# Vietnamese mobile numbers: 0 or +84, a prefix in use, seven digits (reference/vietnam.md §3).
VN_MOBILE = re.compile(r"^(?:\+?84|0)(3[2-9]|5[25689]|7[06-9]|8[1-9]|9[0-46-9])\d{7}$")
_PHONE_LIKE = re.compile(r"(?<![\w+])\+?\d[\d .\-()]{6,16}\d(?!\w)")
# The words that announce a phone number, taken out with it so they are not read as a product.
_PHONE_WORDS = re.compile(r"(?:\b(?:sdt|so dien thoai|dien thoai|so dt|dt|so|phone|lien he|lh)\s*[:\-]?\s*)$")
_ORDER_CODE = re.compile(r"\bdh[0-9a-z]{6}\b")
_STOP = r"(?=\s*(?:[,;\n]|$|\b(?:sdt|so dien thoai|dien thoai|dt|giao|dia chi|dc|d/c)\b))"
_NAME = re.compile(
    r"\b(?:ten(?: (?:toi|minh|mik|em|e|anh|chi|nguoi nhan))?(?: la)?|nguoi nhan(?: la)?)\s*[:\-]?\s+"
    r"(?P<v>[^\d,;\n]{1,60}?)" + _STOP
)
# "mình là Nguyễn Văn An": only a name when it is written with capitals, unlike "mình là khách quen".
_SELF_NAME = re.compile(r"\b(?:minh|mik|toi|em|e|anh|chi) la\s+(?P<v>[^\d,;\n]{1,60}?)" + _STOP)
_ADDRESS = re.compile(
    r"(?:\bdia chi(?: giao(?: hang)?)?\s*[:\-]?|\bd/c\s*:?|\bdc\s*:|\bdc(?=\s+\d)"
    r"|\b(?:giao|ship|gui)(?: hang)?(?: (?:den|toi|ve|tai|o|qua))?\s*[:\-]?)"
    r"\s+(?P<v>.+?)(?=\s*(?:[;\n]|[,.]\s*(?:ten|sdt|so dien thoai|dt)\b|$))"
)
_NOT_ADDRESS = re.compile(
    r"\b(?:khong|ko|k|hong|hok|chua|bao lau|bao gio|may ngay|duoc|dc|nhanh|khi nao|luc nao)\s*\??$|\?$"
    r"|^(?:duoc|dc|khong|ko|hong|nhanh|gap|som|tet|mai|hom nay|chua)\b"
)
# Polite words a buyer ends a sentence with, not part of the address: "..., Phan Thiết nha", "... ạ".
_TRAILING_POLITE = re.compile(r"(?:\s+(?:nha|nhe|a|e|shop|nhen|hen|ne|voi|giup|gium|em|chi|anh|nhaa))+\s*[.!]*$")


@dataclass(frozen=True)
class Slot:
    """A value found in the text and where it stood, so the rest of the message can be read without it."""

    value: str
    start: int
    end: int


def normalize_phone(raw: str) -> str | None:
    """'0912.345.678' or '+84 912 345 678' -> '0912345678'; None when not a Vietnamese mobile number."""
    digits = re.sub(r"[\s.\-()]", "", raw)
    match = VN_MOBILE.match(digits)
    return "0" + match.group(1) + digits[-7:] if match else None


def find_phone(text: str) -> tuple[Slot | None, Slot | None]:
    """The first valid mobile number, and what looked like a phone number but is not valid (either or both None).

    Spans include the word that announced the number ("sđt 0912...") so the rest of the message reads clean.
    """
    valid = invalid = None
    folded = fold(text)
    for match in _PHONE_LIKE.finditer(text):
        raw = match.group(0)
        keyword = _PHONE_WORDS.search(folded, 0, match.start())
        start = keyword.start() if keyword else match.start()
        phone = normalize_phone(raw)
        if phone and valid is None:
            valid = Slot(phone, start, match.end())
        elif not phone and invalid is None and len(re.sub(r"\D", "", raw)) >= 9:
            invalid = Slot(raw.strip(), start, match.end())
    return valid, invalid


def find_order_code(text: str) -> Slot | None:
    """An order code such as DH7K2M9Q, upper-cased."""
    match = _ORDER_CODE.search(fold(text))
    return Slot(match.group(0).upper(), match.start(), match.end()) if match else None


def find_name(text: str) -> Slot | None:
    """The name after "tên", "tên em là", "người nhận", or a capitalised name after "mình là"."""
    folded = fold(text)
    match = _NAME.search(folded)
    if match is None:
        match = _SELF_NAME.search(folded)
        if match is None or not text[match.start("v")].isupper():
            return None
    name = clean_name(text[match.start("v") : match.end("v")])
    return Slot(name, match.start(), match.end()) if name else None


def find_address(text: str) -> Slot | None:
    """The delivery address after "giao", "địa chỉ", "đc:" ..., unless it is a question about delivery."""
    folded = fold(text)
    for match in _ADDRESS.finditer(folded):
        value = folded[match.start("v") : match.end("v")]
        polite = _TRAILING_POLITE.search(value)
        end = match.start("v") + (polite.start() if polite else len(value))
        value = folded[match.start("v") : end]
        if _NOT_ADDRESS.search(value) or (len(value.split()) < 3 and not re.search(r"\d", value)):
            continue
        return Slot(text[match.start("v") : end].strip(" .,"), match.start(), match.end())
    return None


def clean_name(text: str) -> str | None:
    """A buyer's name as they typed it, trimmed, if it looks like a name (letters, at most 60 characters)."""
    value = " ".join(text.split()).strip(" .,:;-")
    if not value or len(value) > 60 or any(c.isdigit() for c in value):
        return None
    if not all(c.isalpha() or c in " .'-" for c in value):
        return None
    return value


def clean_address(text: str) -> str | None:
    """A delivery address typed on its own, if it is long enough to deliver to."""
    value = " ".join(text.split()).strip(" .,")
    letters = sum(c.isalpha() for c in value)
    return value if 6 <= len(value) <= 300 and letters >= 4 else None
