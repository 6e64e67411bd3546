"""One parse of a buyer's message per turn: intent, products with quantities, and checkout details."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from bot.nlu.address import locate
from bot.nlu.intents import cart_action, classify
from bot.nlu.normalize import clean, expand
from bot.nlu.numbers import HALF_WORDS, parse_digits, parse_words
from bot.nlu.slots import Slot, find_address, find_name, find_order_code, find_phone
from bot.nlu.units import MASS_KG, UNIT_WORDS, display_unit, to_sale_unit
from catalog.search import ProductIndex, fold, join_compounds, words

# A message is read up to this many segments; beyond is noise (the cart takes ten products a message anyway).
MAX_SEGMENTS = 30
# A comma between digits is a decimal comma ("1,5 ký"), not a separator.
_SEPARATORS = re.compile(r"[;\n+&]|,(?!\d)|(?<!\d),|\b(?:va|voi|vs|kem)\b")
# Amounts of money, which are never quantities: "25k", "25 nghìn", "30.000đ", "1tr5", "25.000".
_MONEY = re.compile(
    r"(?<![\w.,])\d+(?:[.,]\d+)?\s*(?:k|nghin|ngan|trieu|tr|cu|d|dong|vnd)(?:\d+)?\b|(?<![\w.,])\d{1,3}(?:\.\d{3})+\b(?!\s*(?:kg|ky|ki|kilo|g|gr|gam|gram|yen|ta|tan|lang|bo|hop|thung|trai|qua)\b)"
)
_TOKEN = re.compile(r"(?<![\w.,])-?\d+(?:[.,]\d+)?|[a-z]+")
# Folded product words that are also everyday words ("chưa" → "chua" as in cà chua, "tiền" → "tien" as in Thuận
# Tiến, "đó" → "do" as in ruột đỏ, "hôm qua" → "qua" as in hộp quà): they name a product only beside another
# product word.
_COMMON = frozenset({"chua", "tien", "do", "qua"})
# Phrases whose words also name products: "thanh toán" is paying, not thanh long.
_NOT_PRODUCTS = re.compile(r"\b(?:thanh toan|hop tac xa)\b")
# A message that asks for products, so unknown words in it are a product we do not sell ("có xoài không").
_ASKS_FOR_PRODUCTS = re.compile(
    r"^ (?:(?:em|anh|chi|minh|toi|cho (?:em|anh|chi|minh|toi)) )?(?:mua|lay|dat|order|them)\b"
    r"| (?:co|con|ban) .*\b(?:khong|hong|hok|chua|nua)\b| gia .* bao nhieu | (?:mua|lay) "
)
# Words that carry no product meaning, so a message made only of them names no product.
_FILLER = frozenset(
    (
        "mua lay cho dat them em e anh a chi c minh toi shop oi nha nhe voi giup gium can muon co khong ko gia bao "
        "thoi hoi ai lam de nhu nao huong dan cach alo hi hello chao xin "
        "nhieu ban con hang nua the thi la cua di luon kg ky ki gi vay oder order ship moi xem "
        "duoc dc hom nay ngay bay gio ruoi ha hen ne ak ah sao nhi ho giup voi nhung cac loai mon"
    ).split()
)


@dataclass
class Item:
    """One product a buyer named, with the quantity in its sale unit when it could be worked out."""

    said: str
    sku: str | None = None
    candidates: tuple[str, ...] = ()
    quantity: Decimal | None = None
    unit: str | None = None
    said_quantity: Decimal | None = None
    said_unit: str | None = None
    # For something we do not sell, the words that named it, to look up the nearest products when needed.
    unknown: str = ""
    # A negative amount was written ("-2 kg"): no quantity is taken, and the flow asks for a real one.
    negative: bool = False


@dataclass
class Parsed:
    """Everything the engine needs to know about one message."""

    text: str
    words: list[str]
    intent: str = "unknown"
    items: list[Item] = field(default_factory=list)
    phone: str | None = None
    invalid_phone: str | None = None
    name: str | None = None
    address: str | None = None
    # Where the address lies after the 2025 reform, for routing: official province name and its code.
    province: str | None = None
    province_code: str | None = None
    order_code: str | None = None
    cart_action: str | None = None
    # A message that is just a number ("5", "2 ký"): the answer to "how many?" or a menu choice.
    number: Decimal | None = None
    number_unit: str | None = None

    @property
    def has_buyer_details(self) -> bool:
        """True when the message gave a name, phone or address (it fills checkout, whatever the step)."""
        return any((self.name, self.phone, self.address))

    def as_contract(self) -> dict[str, Any]:
        """The `htx nlu` JSON shape (issue 2's contract)."""
        return {
            "intent": self.intent,
            "items": [
                {
                    "sku": item.sku,
                    "candidates": list(item.candidates),
                    "quantity": _json_number(item.quantity),
                    "unit": item.unit,
                    "said": item.said,
                }
                for item in self.items
            ],
            "phone": self.phone,
            "address": self.address,
            "name": self.name,
            "order_code": self.order_code,
        }


def parse(message: str, index: ProductIndex) -> Parsed:
    """Read one message against the catalogue's index."""
    text = clean(message)
    phone, invalid_phone = find_phone(text)
    name, address, code = find_name(text), find_address(text), find_order_code(text)
    rest = _blank(text, [s for s in (phone, invalid_phone, name, address, code) if s])
    rest_folded = _NOT_PRODUCTS.sub(" ", fold(rest))
    rest_words = expand(words(rest))
    items = _items(
        rest, rest_folded, index, asks_for_products=bool(_ASKS_FOR_PRODUCTS.search(f" {' '.join(rest_words)} "))
    )
    all_words = expand(words(text))
    number, number_unit = _lone_number(all_words)
    parsed = Parsed(
        text=text,
        words=all_words,
        items=items,
        phone=phone.value if phone else None,
        invalid_phone=invalid_phone.value if invalid_phone else None,
        name=name.value if name else None,
        address=address.value if address else None,
        order_code=code.value if code else None,
        cart_action=cart_action(rest_words),
        number=number,
        number_unit=number_unit,
    )
    place = locate(address.value) if address else None
    if place is not None:
        parsed.province, parsed.province_code = place.province, place.province_code
    parsed.intent = classify(
        rest_words,
        has_items=bool(items),
        mentions_money=bool(_MONEY.search(rest_folded)),
        has_quantity=any(i.said_quantity is not None for i in items),
        has_order_code=code is not None,
    )
    return parsed


def _blank(text: str, slots: list[Slot]) -> str:
    """The text with the slots' spans replaced by commas, so what was around them stays apart."""
    chars = list(text)
    for slot in slots:
        chars[slot.start : slot.end] = [","] * (slot.end - slot.start)
    return "".join(chars)


def _items(text: str, folded: str, index: ProductIndex, asks_for_products: bool) -> list[Item]:
    items: list[Item] = []
    start = 0
    for match in [*itertools.islice(_SEPARATORS.finditer(folded), MAX_SEGMENTS), None]:
        end = match.start() if match else len(folded)
        for item in _segment_items(text, folded, start, end, index, asks_for_products):
            if not (items and _narrows(items[-1], item)):
                items.append(item)
        start = match.end() if match else end
    return items


def _narrows(previous: Item, item: Item) -> bool:
    """Fold "..., của Hàm Đức" into the tie before it: the cooperative said anywhere picks among the candidates."""
    if previous.sku is not None or len(previous.candidates) < 2 or item.said_quantity is not None:
        return False
    narrowed = tuple(sku for sku in previous.candidates if sku in item.candidates)
    if not narrowed:
        return False
    previous.candidates = narrowed
    previous.sku = narrowed[0] if len(narrowed) == 1 else None
    previous.said = f"{previous.said}, {item.said}"
    return True


def _segment_items(
    text: str, folded: str, start: int, end: int, index: ProductIndex, asks_for_products: bool
) -> list[Item]:
    """The items of one segment; a piece naming no product belongs to the piece before it ("25k 1 ký hả")."""
    pieces: list[tuple[int, Item | None]] = []
    for piece_start, piece_end in _pieces(folded, start, end):
        item = _item(text[piece_start:piece_end], folded[piece_start:piece_end], index, asks_for_products)
        if pieces and (item is None or not item.candidates):
            first = pieces[-1][0]
            pieces[-1] = (first, _item(text[first:piece_end], folded[first:piece_end], index, asks_for_products))
        else:
            pieces.append((piece_start, item))
    return [item for _, item in pieces if item]


def _pieces(folded: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a segment before every quantity but the first: "2kg ca chua 3 bo rau muong" is two items."""
    cuts = [m.start() + start for m in re.finditer(r"(?<![\w.,])\d", folded[start:end])]
    bounds = [start, *cuts[1:], end]
    return [(a, b) for a, b in pairwise(bounds) if folded[a:b].strip()]


def _item(original: str, folded: str, index: ProductIndex, asks_for_products: bool) -> Item | None:
    tokens = join_compounds(_TOKEN.findall(_MONEY.sub(" ", folded)))
    tokens = [w for i, w in enumerate(tokens) if _stands_alone(tokens, i, index)]
    quantity, unit, rest = _quantity(tokens)
    negative = quantity is not None and quantity < 0
    if negative:
        quantity = None
    rest = expand(rest)
    meaningful = [w for w in rest if w not in _FILLER and not _is_number(w)]
    known = [index.known(w) for w in meaningful]
    # "12 Nguyễn Tất Thành" shares one word with "thanh long": a product needs half the words, or two in a row
    # ("20 bó rau muống để bán quán cơm").
    enough = sum(known) * 2 >= len(meaningful) or any(a and b for a, b in pairwise(known))
    match = index.match([w for w, k in zip(meaningful, known, strict=True) if k]) if enough else None
    said = " ".join(original.split()).strip(" ,.;")
    if match is None:
        # Something we do not sell: said with a quantity ("3 kg sầu riêng") or asked for ("có xoài không").
        if not meaningful or len(meaningful) > 4 or (quantity is None and not negative and not asks_for_products):
            return None
        unknown = " ".join(meaningful)
        return Item(said=said, said_quantity=quantity, said_unit=unit, unknown=unknown, negative=negative)
    item = Item(
        said=said, sku=match.sku, candidates=match.candidates, said_quantity=quantity, said_unit=unit, negative=negative
    )
    units = {(index.entries[s].unit, index.entries[s].unit_weight_kg) for s in match.candidates}
    if quantity is not None and len(units) == 1:
        sale_unit, weight = units.pop()
        converted = to_sale_unit(quantity, unit, sale_unit, weight)
        item.quantity = converted
        item.unit = sale_unit if converted is not None else display_unit(unit or "")
    elif quantity is not None:
        item.unit = display_unit(unit) if unit else None
    return item


def _quantity(tokens: list[str]) -> tuple[Decimal | None, str | None, list[str]]:
    """The first quantity in the tokens, its unit word, and the tokens left once both are taken out."""
    for i, token in enumerate(tokens):
        value = parse_digits(token)
        used = 1
        if value is None:
            value, used = parse_words(tokens[i:])
            if value is None or i + used >= len(tokens) or tokens[i + used] not in UNIT_WORDS:
                continue
        unit = None
        end = i + used
        if tokens[end : end + 1] == ["chuc"] and end + 1 < len(tokens) and tokens[end + 1] in MASS_KG:
            value, end = value * 10, end + 1  # "hai chục ký" is 20 kg; "2 chục" alone is a count the flow asks about
        if end < len(tokens) and tokens[end] in UNIT_WORDS:
            unit, end = tokens[end], end + 1
        if end < len(tokens) and tokens[end] in HALF_WORDS:
            value, end = value + Decimal("0.5"), end + 1
        return value, unit, tokens[:i] + tokens[end:]
    return None, None, tokens


def _lone_number(tokens: list[str]) -> tuple[Decimal | None, str | None]:
    quantity, unit, rest = _quantity(tokens)
    return (quantity, unit) if quantity is not None and not rest else (None, None)


def _stands_alone(tokens: list[str], i: int, index: ProductIndex) -> bool:
    """False for an everyday word that only looks like a product word here ("giao chưa", "bao nhiêu tiền")."""
    if tokens[i] not in _COMMON:
        return True
    beside = [tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
    return any(word not in _COMMON and index.known(word) for word in beside)


def _is_number(token: str) -> bool:
    return parse_digits(token) is not None


def _json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)
