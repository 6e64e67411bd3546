"""Quantities as buyers write them: digits with a decimal comma or dot, small number words, rưỡi and nửa."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_DIGITS = re.compile(r"^-?\d+(?:[.,]\d+)?$")
# Folded number words (reference/vietnam.md §5.4); `tu`, `lam`, `mot` mean 4, 5, 1 only after "muoi".
_ONES = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8, "chin": 9}
_AFTER_TENS = {**_ONES, "tu": 4, "lam": 5, "nham": 5}
HALF_WORDS = {"ruoi"}


def parse_digits(token: str) -> Decimal | None:
    """'3' -> 3, '1,5' and '1.5' -> 1.5, '-2' -> -2; '1.000' (dot and three digits) is one thousand."""
    if not _DIGITS.match(token):
        return None
    if re.match(r"^-?\d{1,3}(\.\d{3})+$", token):
        token = token.replace(".", "")
    try:
        return Decimal(token.replace(",", "."))
    except InvalidOperation:
        return None


def parse_words(tokens: list[str]) -> tuple[Decimal | None, int]:
    """Read a number spelled in words at the start of `tokens` ("hai muoi lam" -> 25, "nua" -> 0.5).

    Returns the value and how many tokens it used (0 when there is no number).
    """
    if tokens[:1] == ["nua"]:
        return Decimal("0.5"), 1
    value, used = 0, 0
    if tokens[:1] and tokens[0] in _ONES:
        value, used = _ONES[tokens[0]], 1
    if used < len(tokens) and tokens[used] in {"muoi", "chuc"}:
        value, used = (value or 1) * 10, used + 1
        if used < len(tokens) and tokens[used] in _AFTER_TENS:
            value, used = value + _AFTER_TENS[tokens[used]], used + 1
    elif used < len(tokens) and tokens[used] == "tram":
        value, used = (value or 1) * 100, used + 1
    return (Decimal(value), used) if used else (None, 0)
