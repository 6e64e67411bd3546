"""Units buyers say (ký, lạng, yến, hộp, bó ...) and conversion into a product's sale unit."""

from __future__ import annotations

from decimal import Decimal

# Folded unit word -> kilograms (reference/vietnam.md §5.3: lạng 100 g, yến 10 kg, tạ 100 kg).
MASS_KG: dict[str, Decimal] = {
    "kg": Decimal(1),
    "ky": Decimal(1),
    "ki": Decimal(1),
    "kilo": Decimal(1),
    "kilogram": Decimal(1),
    "kgs": Decimal(1),
    "can": Decimal(1),
    "g": Decimal("0.001"),
    "gr": Decimal("0.001"),
    "gam": Decimal("0.001"),
    "gram": Decimal("0.001"),
    "lang": Decimal("0.1"),
    "yen": Decimal(10),
    "ta": Decimal(100),
    "tan": Decimal(1000),
}
# Folded count unit word -> the unit as products name it.
COUNT_UNITS = {
    "hop": "hộp",
    "bo": "bó",
    "thung": "thùng",
    "trai": "trái",
    "qua": "quả",
    "chuc": "chục",
    "bich": "bịch",
    "tui": "túi",
    "goi": "gói",
    "gio": "giỏ",
    "cai": "cái",
}
UNIT_WORDS = frozenset(MASS_KG) | frozenset(COUNT_UNITS)
# How the sale units of products read once folded, to compare with what a buyer said.
_SAME_COUNT = {"trái": {"trái", "quả"}, "quả": {"trái", "quả"}}


def display_unit(word: str) -> str:
    """The written form of a unit word a buyer typed: "ky" -> "kg", "hop" -> "hộp"."""
    if word in MASS_KG:
        return {"lang": "lạng", "yen": "yến", "ta": "tạ", "tan": "tấn"}.get(word, "g" if MASS_KG[word] < 1 else "kg")
    return COUNT_UNITS.get(word, word)


def to_sale_unit(
    quantity: Decimal, said_unit: str | None, sale_unit: str, unit_weight_kg: Decimal | None
) -> Decimal | None:
    """The quantity in the product's sale unit, or None when the two units cannot be converted.

    3 kg of rau muống sold in 0.5 kg bó is 6 bó; 7 kg of 5 kg boxes is no whole number of boxes, so None.
    """
    if said_unit is None:
        return quantity
    if said_unit in MASS_KG:
        kilograms = quantity * MASS_KG[said_unit]
        if sale_unit == "kg":
            return kilograms
        if unit_weight_kg:
            count = kilograms / unit_weight_kg
            return count if count == count.to_integral_value() else None
        return None
    said = COUNT_UNITS.get(said_unit, said_unit)
    return quantity if said in _SAME_COUNT.get(sale_unit, {sale_unit}) else None
