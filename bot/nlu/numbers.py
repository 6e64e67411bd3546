"""Numbers as buyers write them: digits with a decimal comma or dot, Vietnamese number words, rưỡi and nửa."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_DIGITS = re.compile(r"^-?\d+(?:[.,]\d+)?$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:\.\d{3})+$")
# Folded number words (reference/vietnam.md §5.4). "tư", "lăm", "nhăm" only count once a number has begun
# ("hai mươi tư", "mười lăm"); "mốt" and "một" fold alike.
_ONES = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8, "chin": 9}
_LATE_ONES = {"tu": 4, "lam": 5, "nham": 5}
_SCALES = {"tram": 100, "nghin": 1000, "ngan": 1000, "trieu": 1_000_000, "ty": 1_000_000_000, "ti": 1_000_000_000}
_ZERO_TENS = {"linh", "le"}
HALF_WORDS = {"ruoi"}


def parse_digits(token: str) -> Decimal | None:
    """'3' -> 3, '1,5' and '1.5' -> 1.5, '-2' -> -2; '1.000' (dot and three digits) is one thousand."""
    if not _DIGITS.match(token):
        return None
    if _THOUSANDS.match(token):
        token = token.replace(".", "")
    try:
        return Decimal(token.replace(",", "."))
    except InvalidOperation:
        return None


def parse_words(tokens: list[str]) -> tuple[Decimal | None, int]:
    """Read a number spelled in words at the start of `tokens`; returns the value and the tokens it used.

    "hai mươi lăm" 25, "hai lăm" 25, "một trăm lẻ năm" 105, "một trăm mốt" 110 (not 101), "hai nghìn tư" 2400,
    "ba trăm rưỡi" 350, "một triệu rưỡi" 1 500 000, "nửa" 0.5. Returns (None, 0) when no number starts there.
    """
    if tokens[:1] == ["nua"]:
        return Decimal("0.5"), 1
    total, group, last_scale, used = 0, 0, 0, 0
    previous = ""
    for used, token in enumerate(tokens):
        following = tokens[used + 1] if used + 1 < len(tokens) else ""
        if token in _ONES or (token in _LATE_ONES and previous):
            digit = _ONES.get(token) or _LATE_ONES[token]
            if previous in _ONES:
                group += _ONES[previous] * 9 + digit  # "hai lăm": the first digit was tens
            elif previous in _SCALES and following not in _SCALES and following != "muoi":
                added = digit * _SCALES[previous] // 10  # "trăm mốt" 110, "nghìn tư" 2400
                group, total = (group + added, total) if previous == "tram" else (group, total + added)
            else:
                group += digit
        elif token == "muoi":
            group += _ONES[previous] * 9 if previous in _ONES else 10
        elif token in _SCALES:
            scale = _SCALES[token]
            if scale == 100:
                group = (group or 1) * 100
            else:
                total, group = total + (group or 1) * scale, 0
            last_scale = scale
        elif token in HALF_WORDS and last_scale:
            group, total = (group + 50, total) if last_scale == 100 else (group, total + last_scale // 2)
        elif token in _ZERO_TENS and previous in _SCALES:
            pass
        else:
            break
        previous = token
    else:
        used = len(tokens)
    return (Decimal(total + group), used) if used else (None, 0)


_PRICE = re.compile(r"(?<![\w.,])(\d+(?:[.,]\d+)*)\s*(k|nghin|ngan|n|tr|trieu|d|dong|vnd)?(?:\s*(\d{1,3}))?(?![\w])")
_PRICE_SCALE = {"k": 1000, "nghin": 1000, "ngan": 1000, "n": 1000, "tr": 1_000_000, "trieu": 1_000_000}


def parse_price(folded: str) -> int | None:
    """A price in whole đồng from folded text: "25k", "25.000", "25000d", "25 nghin", "1tr5" (1 500 000).

    A bare number under 1 000 is read in thousands ("giá 28" on a price list means 28 000 đ).
    """
    match = _PRICE.search(folded)
    if match is None:
        return None
    digits, unit, tail = match.groups()
    number = parse_digits(digits) if not re.fullmatch(r"\d{1,3}(,\d{3})+", digits) else Decimal(digits.replace(",", ""))
    if number is None:
        return None
    scale = _PRICE_SCALE.get(unit or "", 1)
    if unit in ("tr", "trieu") and tail:
        number += Decimal(f"0.{tail}")
    if scale == 1 and number < 1000:
        scale = 1000
    value = number * scale
    return int(value) if value == value.to_integral_value() and value > 0 else None
