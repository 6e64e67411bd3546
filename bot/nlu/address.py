"""Tell the province (and ward/commune when possible) of a free-text Vietnamese delivery address.

Since 1 July 2025 Vietnam has 34 provincial units and no district level (Nghị quyết 202/2025/QH15 and
203/2025/QH15; see shared reference ``vietnam.md`` section 4). Buyers still write the old names ("Bình Thuận",
"Phan Thiết", "Q1", "TP.HCM", "Bình Dương", "Biên Hòa"...), so :func:`locate` maps both old and new names to
the new unit, for order routing by province code.

Data: ``data/admin_units.json``, extracted once by ``data/build_admin_units.py`` from the data files of PyPI
``vietnamadminunits`` 1.0.4 (MIT, Tran Ngoc Minh Hieu; ``data/LICENSE-vietnamadminunits.txt``): its 63-province
(legacy) and 34-province datasets and its 63 → 34 conversion table. The package is not a dependency (it imports
Unidecode, GPL-2.0-or-later, and shapely/geopy); its parsing is redone here on words. Codes are the national
statistics office codes (danh mục hành chính, GSO/NSO): ``province_code`` is the 2-digit new province code
("68" Lâm Đồng, "79" Hồ Chí Minh), ``ward_code`` the 5-digit new ward/commune code ("22945" Phường Phan Thiết).
The data are read on the first call (about 30 ms), not at import; a province's keyword tables on its first use.

How it works:

1. The province is told first, by whole-word n-gram lookup over names from the data (old and new province
   names, old districts and new wards that name one province), plus a few aliases and a short city table
   (below). Whole words, because a substring search reads "12 Nguyễn Huệ" as Huế, "giao nhanh nha" as Hà Nội
   ("...nh·n..." holds "hn") and "thanh long" as Xã Thanh Long (Cao Bằng). A province name always counts
   (unless "phường", "đường"... comes before it); an old district must end its comma-segment ("12 nguyen tat
   thanh phan thiet"), a new ward must be its whole segment ("Mũi Né"), unless its type word comes first
   ("xã Thanh Long"). Text with no such name gives ``None`` at once.
2. Knowing the province, the rest of the text (street segments and the province name removed) is read as an
   old address first, as ``vietnamadminunits`` does it: the old district of that province named last, then one
   of its wards named last; the old ward gives its new ward by the conversion table (for an old ward split
   between new wards, the package's default one: the package geocodes the street through ArcGIS to choose,
   which is not done here). Otherwise the rest is read as a new address: a ward of the new province named last.
   Names are keywords: a unit's name or short name with spaces and diacritics dropped ("phuongphutrinh",
   "phutrinh"), plus the package's variants and former names ("f9", "vynh"); unlike the package, a keyword must
   start and end on word boundaries. A few wards are told apart only by diacritics (Xã Cẩm Giang / Cẩm Giàng):
   their keywords keep them. "Thành phố Bắc Giang" in front of a province name is the old provincial city
   when there was one of that name: it is kept for the old reading ("Phường Song Khê, Thành phố Bắc Giang").
3. An old district/city alone ("Phan Thiết", "Thủ Đức", "Biên Hòa") gives no ward unless the old district
   became a single new unit (island districts) or the text says "phường"/"xã" before a new ward's name:
   "Phan Thiết" was split into several wards, one of which is now called Phường Phan Thiết. An old district
   read inside a new ward's name does not count: "Xã Vĩnh Tường" (Nghệ An) holds Vinh, "Quy Nhơn Đông" holds
   Quy Nhơn.

Pass the address (a whole chat message mostly works, but a product named after a province, "thanh long
Bình Thuận", reads as that province). Pure functions; results are cached on the normalised text.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, NamedTuple

__all__ = ["Place", "locate"]

log = logging.getLogger(__name__)

_MAX_CHARS = 400  # addresses end with the province: keep the tail of very long messages
_CACHE_SIZE = 4096
_DATA_FILE = "admin_units.json"  # in the data/ folder next to this module; layout: data/build_admin_units.py


@dataclass(frozen=True)
class Place:
    """Where an address is, in the post-July-2025 units.

    ``province_code``: 2-digit GSO/NSO code of the new province ("68"); ``province``: its official name
    without "Tỉnh"/"Thành phố" ("Lâm Đồng", "Hồ Chí Minh"); ``ward``: the new ward/commune/special zone
    with its type ("Phường Phan Thiết", "Xã Hàm Thuận Bắc", "Đặc khu Phú Quý") or None;
    ``ward_code``: its 5-digit GSO/NSO code ("22945") or None.
    """

    province_code: str
    province: str
    ward: str | None = None
    ward_code: str | None = None


def _fold(text: str) -> str:
    """Lowercase ASCII-ish key: drop diacritics, đ → d."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d")


_APOSTROPHE = re.compile(r"(?<=\w)['’`](?=\w)")  # inside a name: "Ea H'leo", "Cư M'gar" (keyword "eahleo")


def _words(text: str) -> str:
    """Folded words joined by single spaces ("Bà Rịa - Vũng Tàu" → "ba ria vung tau", "Ea H'leo" → "ea hleo")."""
    return " ".join(re.findall(r"\w+", _fold(_APOSTROPHE.sub("", text))))


def _key(text: str) -> str:
    """Keyword of a name: folded, letters and digits only ("Phường Phú Trinh" → "phuongphutrinh")."""
    return re.sub(r"\W+", "", _fold(text))


def _accented_key(text: str) -> str:
    """Keyword keeping the diacritics ("Xã Cẩm Giàng" → "xãcẩmgiàng")."""
    return re.sub(r"\W+", "", unicodedata.normalize("NFC", text)).lower()


# ---------------------------------------------------------------------------------------------------------
# Data, read once on first use.

# Ward flags in the data file: the name is unique in the country (new wards); the unit is told apart from
# another only by diacritics; same, for its short name only; the keyword list is complete (name not implied).
_UNIQUE, _ACCENTED, _SHORT_ACCENTED, _EXACT = 1, 2, 4, 8
_TYPES = ("thành phố", "thị xã", "thị trấn", "đặc khu", "phường", "xã", "huyện", "quận", "tỉnh")


def _split_type(name: str) -> tuple[str, str]:
    """("Phường", "Phan Thiết") of "Phường Phan Thiết"; ("", name) when it has no type word."""
    lower = name.lower()
    for type_ in _TYPES:
        if lower.startswith(type_ + " "):
            return name[: len(type_)], name[len(type_) + 1 :]
    return "", name


class _Unit(NamedTuple):
    """A ward/commune (new or old) or an old district: what its keywords are made of."""

    name: str  # "Phường Phan Thiết"
    short: str  # "Phan Thiết"
    flags: int
    extra: tuple[str, ...]  # the keywords not made from the name


class _NewWard(NamedTuple):
    code: str
    name: str
    type: str  # folded: "phuong", "xa", "dac khu"
    short: str
    unit: _Unit


class _Province(NamedTuple):
    key: str  # the package's key, "tinhlamdong"
    code: str
    short: str
    old: tuple[int, ...]  # the old provinces merged into it, in the package's order
    wards: tuple[_NewWard, ...]


class _OldWard(NamedTuple):
    unit: _Unit
    new: tuple[int, ...]  # index of its new ward in the new province's wards; when split, default first


class _District(NamedTuple):
    short: str
    unique: bool  # its name is unique in the country
    unit: _Unit
    island: int | None  # island district without wards: the new ward (special zone) it became
    wards: tuple[_OldWard, ...]


class _Divided(NamedTuple):
    """An old district name standing for several districts; the ward named tells which (else the default)."""

    keywords: tuple[str, ...]
    district: int | None  # the district of that name, when there is one
    to: tuple[tuple[int, bool], ...]  # (district, is the default)


class _OldProvince(NamedTuple):
    key: str
    short: str
    new: int
    districts: tuple[_District, ...]
    divided: tuple[_Divided, ...]


def _unit(name: str, short: str, flags: int = 0, extra: Sequence[str] = ()) -> _Unit:
    return _Unit(name, short, flags, tuple(extra))


def _ward_fields(record: list[Any]) -> tuple[Any, Any, int, list[str]]:
    first, second, *rest = record
    flags = rest[0] if rest else 0
    return first, second, flags, rest[1] if len(rest) > 1 else []


def _new_ward(record: list[Any]) -> _NewWard:
    code, name, flags, extra = _ward_fields(record)
    type_, short = _split_type(name)
    return _NewWard(code, name, _words(type_), short, _unit(name, short, flags, extra))


def _old_ward(record: list[Any]) -> _OldWard:
    name, new, flags, extra = _ward_fields(record)
    return _OldWard(_unit(name, _split_type(name)[1], flags, extra), tuple(new) if isinstance(new, list) else (new,))


def _district(data: dict[str, Any]) -> _District:
    short = data.get("s") or _split_type(data["name"])[1]
    return _District(
        short=short,
        unique=bool(data.get("u")),
        unit=_unit(data["name"], short, 0, data.get("k", ())),
        island=data.get("x"),
        wards=tuple(_old_ward(w) for w in data["wards"]),
    )


class _Name(NamedTuple):
    kind: int  # _PROVINCE, _CITY, _DISTRICT or _WARD; lower wins a tie on the same span
    new: int  # index of the new province
    old: int | None  # index of the old province when the name tells it


_PROVINCE, _CITY, _DISTRICT, _WARD = range(4)

# Common ways of writing a province that are not its plain name (values: the package's keys of old or new
# provinces). "sai gon"/"sg" is also a ward name now (Phường Sài Gòn); as a province it is read only when
# "phường" does not come before it.
_PROVINCE_ALIASES: dict[str, str] = {
    "hcm": "thanhphohochiminh",
    "tphcm": "thanhphohochiminh",
    "hochiminh": "thanhphohochiminh",
    "sai gon": "thanhphohochiminh",
    "saigon": "thanhphohochiminh",
    "sg": "thanhphohochiminh",
    "hn": "thanhphohanoi",
    "hanoi": "thanhphohanoi",
    "thua thien hue": "thanhphohue",
    "tt hue": "thanhphohue",
    "ba ria": "tinhbariavungtau",
    "vung tau": "tinhbariavungtau",
    "brvt": "tinhbariavungtau",
    "br vt": "tinhbariavungtau",
    "hcmc": "thanhphohochiminh",
    "daklak": "tinhdaklak",
    "dac lac": "tinhdaklak",
    "dak lac": "tinhdaklak",
    "daknong": "tinhdaknong",
    "dac nong": "tinhdaknong",
}

# Old cities that buyers write shortened or spelt otherwise than the legacy data, which only has "Thành phố
# Phan Rang - Tháp Chàm" (district code 582, Tỉnh Ninh Thuận), "Thành phố Buôn Ma Thuột" (643, Tỉnh Đắk Lắk)
# and "Thành phố Quy Nhơn" (540, Tỉnh Bình Định). Values: old province key.
_CITY_TABLE: dict[str, str] = {
    "phan rang": "tinhninhthuan",
    "thap cham": "tinhninhthuan",
    "buon me thuot": "tinhdaklak",
    "bmt": "tinhdaklak",
    "qui nhon": "tinhbinhdinh",
}


class _Data(NamedTuple):
    """The data file as read (provinces are turned into tuples on first use) and the name index."""

    provinces: list[dict[str, Any]]
    old: list[dict[str, Any]]
    names: dict[str, list[_Name]]  # folded words → the names they can be
    max_ngram: int


@cache
def _data() -> _Data:
    """Read the data file and build the name index (once)."""
    from importlib import resources  # here: only needed on first use, and ~8 ms to import

    path = resources.files(__name__.rpartition(".")[0]).joinpath("data", _DATA_FILE)
    raw = json.loads(path.read_text(encoding="utf-8"))
    index = _build_index(raw["provinces"], raw["old_provinces"])
    return _Data(raw["provinces"], raw["old_provinces"], index, max(len(w.split()) for w in index))


@cache
def _province(i: int) -> _Province:
    p = _data().provinces[i]
    return _Province(p["key"], p["code"], p["short"], tuple(p["old"]), tuple(_new_ward(w) for w in p["wards"]))


@cache
def _old_province(j: int) -> _OldProvince:
    p = _data().old[j]
    return _OldProvince(
        key=p["key"],
        short=p["short"],
        new=p["new"],
        districts=tuple(_district(d) for d in p["districts"]),
        divided=tuple(
            _Divided(tuple(v["k"]), v.get("d"), tuple((t, bool(default)) for t, default in v["to"]))
            for v in p["divided"]
        ),
    )


def _build_index(provinces: list[dict[str, Any]], old: list[dict[str, Any]]) -> dict[str, list[_Name]]:
    index: dict[str, list[_Name]] = {}
    new_by_key = {p["key"]: i for i, p in enumerate(provinces)}
    old_by_key = {p["key"]: j for j, p in enumerate(old)}

    def add(words: str, name: _Name) -> None:
        if words and name not in index.setdefault(words, []):
            index[words].append(name)

    for i, p in enumerate(provinces):
        add(_words(p["short"]), _Name(_PROVINCE, i, None))
    for j, o in enumerate(old):
        name = _Name(_PROVINCE, o["new"], j)
        add(_words(o["short"]), name)
        add(o["key"].removeprefix("tinh").removeprefix("thanhpho"), name)  # typed without spaces: "binhthuan"
    for words, key in _PROVINCE_ALIASES.items():
        j_or_none = old_by_key.get(key)
        new = new_by_key[key] if key in new_by_key else old[old_by_key[key]]["new"]
        add(words, _Name(_PROVINCE, new, j_or_none))
    for words, old_key in _CITY_TABLE.items():
        add(words, _Name(_CITY, old[old_by_key[old_key]]["new"], old_by_key[old_key]))
    # Old districts whose name is unique in the country (the package's own list).
    for j, o in enumerate(old):
        for d in o["districts"]:
            if d.get("u"):
                add(_words(d.get("s") or _split_type(d["name"])[1]), _Name(_DISTRICT, o["new"], j))
    # New wards whose unaccented name is unique in the country.
    for i, p in enumerate(provinces):
        for record in p["wards"]:
            if _ward_fields(record)[2] & _UNIQUE:
                add(_words(_split_type(record[1])[1]), _Name(_WARD, i, None))
    # A name that points at two different provinces tells nothing.
    return {w: names for w, names in index.items() if len({n.new for n in names}) == 1}


# ---------------------------------------------------------------------------------------------------------
# Keyword tables, built per province/district on first use.


class _Keywords(NamedTuple):
    """Keyword → position of the unit in its list (the first unit that has it), and the longest keyword."""

    words: dict[str, int]
    longest: int


class _UnitKeywords(NamedTuple):
    folded: _Keywords  # matched on the text without diacritics
    accented: _Keywords  # units told apart only by diacritics: matched on the text as typed (lowercase NFC)
    short_accented: _Keywords  # same, for their short names


def _keywords(words: dict[str, int]) -> _Keywords:
    return _Keywords(words, max(map(len, words), default=0))


def _unit_keywords(units: Sequence[_Unit]) -> _UnitKeywords:
    folded: dict[str, int] = {}
    accented: dict[str, int] = {}
    short_accented: dict[str, int] = {}
    for i, unit in enumerate(units):
        if unit.flags & _EXACT:
            words = set(unit.extra)
        else:
            make = _accented_key if unit.flags & _ACCENTED else _key
            words = {make(unit.name), *unit.extra}
            if not unit.flags & _SHORT_ACCENTED:
                words.add(make(unit.short))
        table = accented if unit.flags & _ACCENTED else folded
        for word in words:
            table.setdefault(word, i)
        if unit.flags & _SHORT_ACCENTED:
            short_accented.setdefault(_accented_key(unit.short), i)
    return _UnitKeywords(_keywords(folded), _keywords(accented), _keywords(short_accented))


@cache
def _new_ward_keywords(province: int) -> _UnitKeywords:
    return _unit_keywords([w.unit for w in _province(province).wards])


@cache
def _district_keywords(old: int) -> _UnitKeywords:
    return _unit_keywords([d.unit for d in _old_province(old).districts])


@cache
def _old_ward_keywords(old: int, district: int) -> _UnitKeywords:
    return _unit_keywords([w.unit for w in _old_province(old).districts[district].wards])


@cache
def _divided_keywords(old: int) -> _Keywords:
    words: dict[str, int] = {}
    for i, divided in enumerate(_old_province(old).divided):
        for word in divided.keywords:
            words.setdefault(word, i)
    return _keywords(words)


@cache
def _divided_ward_keywords(old: int, divided: int) -> _Keywords:
    """Keywords of the wards of each district a divided name stands for → position in ``to``."""
    words: dict[str, int] = {}
    for i, (district, _default) in enumerate(_old_province(old).divided[divided].to):
        keywords = _old_ward_keywords(old, district)
        for word in (*keywords.folded.words, *keywords.accented.words):
            words.setdefault(word, i)
    return _keywords(words)


@cache
def _district_new_wards(old: int, district: int) -> frozenset[int]:
    """Every new ward the old district's wards went to."""
    d = _old_province(old).districts[district]
    went_to = {new for w in d.wards for new in w.new}
    return frozenset(went_to if d.island is None else {*went_to, d.island})


# ---------------------------------------------------------------------------------------------------------
# Text normalisation

_ABBREV = {"tp": "thành phố", "tx": "thị xã", "tt": "thị trấn", "p": "phường", "q": "quận", "x": "xã", "h": "huyện"}
_DOTTED = re.compile(r"\b(tp|tx|tt|p|q|x|h)\.\s*")  # "p.phú trinh", "q.1", "tp.hcm"
_GLUED = re.compile(r"\b([pq])(\d{1,2})\b")  # "q1", "p12"
_SEGMENT_SPLIT = re.compile(r"(?:[,;|\n\r]|\.(?=\s|$))+")  # "Phan Thiết. Sđt 09..." ends a segment too
_SPACES = re.compile(r"[^\S\n\r]+")  # runs of white space other than line breaks (which split segments)
# A segment starting with one of these (or a digit) is a street/house/hamlet part, not an admin unit.
_STREET_WORDS = frozenset(
    "số đường hẻm ngõ ngách kiệt tổ ấp thôn xóm khu kp lô tầng căn nhà cc chung tòa hem ngach kiet ap thon xom".split()
)
# Unaccented, these are also names ("Dương", "Ngô", "Nha Trang"): a street only when a number follows.
_STREET_WORDS_BEFORE_NUMBER = frozenset("so duong ngo to lo tang can nha".split())
# Words before a name that make it a street/ward/district name rather than a province ("Đường Hà Nội").
_NOT_PROVINCE_BEFORE = frozenset("phuong xa quan huyen tran duong hem ngo khu ap thon".split())
_TYPE_BEFORE = frozenset("phuong xa quan huyen pho tran khu".split())  # "thành phố", "thị trấn", "đặc khu"
# Chat particles closing a segment ("Thủ Đức nha"), as typed: "chị", "anh", "em" are left alone (Củ Chi).
_PARTICLES = frozenset("nha nhaa nhé nhe nhá nhen nghen ạ ah luôn luon giùm giúp với ơi".split())
# Type words of units (folded; abbreviations are expanded before): "phường", "thị trấn", "đặc khu"...
_UNIT_TYPE_WORDS = frozenset(["phuong", "xa", "huyen", "quan", "thi tran", "thi xa", "thanh pho", "dac khu"])


class _Token(NamedTuple):
    text: str  # NFC lowercase, as typed
    folded: str
    segment: int


def _normalise(address: str) -> str:
    """The cache key: NFC, lowercase, single spaces, the tail of an over-long text."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", address[-_MAX_CHARS:]).lower()).strip()


def _tokens(text: str) -> list[_Token]:
    text = _GLUED.sub(r"\1 \2", _DOTTED.sub(r"\1 ", _APOSTROPHE.sub("", text)))
    out: list[_Token] = []
    for seg, part in enumerate(_SEGMENT_SPLIT.split(text)):
        for word in re.findall(r"\w+", part.replace("_", " ")):
            for piece in _ABBREV.get(word, word).split():
                out.append(_Token(piece, _fold(piece), seg))
    return out


def _drop_street_segments(tokens: list[_Token]) -> list[_Token]:
    """Drop segments like "12 Nguyễn Huệ" or "ấp 3" when some other segment is left."""
    keep = []
    for seg in dict.fromkeys(t.segment for t in tokens):
        first, *rest = (t for t in tokens if t.segment == seg)
        number_next = bool(rest) and rest[0].folded[0].isdigit()
        if not (
            first.folded[0].isdigit()
            or first.text in _STREET_WORDS
            or (first.folded in _STREET_WORDS_BEFORE_NUMBER and number_next)
        ):
            keep.append(seg)
    return [t for t in tokens if t.segment in keep] if keep else tokens


def _strip_particles(tokens: list[_Token], *, keep_typed: bool = False) -> list[_Token]:
    """Drop trailing chat particles of each segment ("Thủ Đức nha"); with ``keep_typed``, not from a segment
    that starts with a unit's type word ("Xã Phong Nha")."""
    typed = set()
    if keep_typed:
        for i, tok in enumerate(tokens):
            if i and tokens[i - 1].segment == tok.segment:
                continue
            two = " ".join(t.folded for t in tokens[i : i + 2] if t.segment == tok.segment)
            if tok.folded in _UNIT_TYPE_WORDS or two in _UNIT_TYPE_WORDS:
                typed.add(tok.segment)
    out: list[_Token] = []
    for i, tok in enumerate(tokens):
        rest = [t for t in tokens[i:] if t.segment == tok.segment]
        if (
            tok.segment not in typed
            and all(t.text in _PARTICLES for t in rest)
            and any(o.segment == tok.segment for o in out)
        ):
            continue
        out.append(tok)
    return out


# ---------------------------------------------------------------------------------------------------------
# Matching


class _Match(NamedTuple):
    start: int
    end: int
    name: _Name


def _matches(tokens: list[_Token]) -> Iterator[_Match]:
    names_of, max_ngram = _data().names, _data().max_ngram
    folded = [t.folded for t in tokens]
    for start in range(len(tokens)):
        for end in range(start + 1, min(start + max_ngram, len(tokens)) + 1):
            if tokens[end - 1].segment != tokens[start].segment:
                break
            names = names_of.get(" ".join(folded[start:end]))
            if not names:
                continue
            before = folded[start - 1] if start and tokens[start - 1].segment == tokens[start].segment else ""
            before2 = folded[start - 2] if start > 1 and tokens[start - 2].segment == tokens[start].segment else ""
            segment_starts = start == 0 or tokens[start - 1].segment != tokens[start].segment
            segment_ends = end == len(tokens) or tokens[end].segment != tokens[start].segment
            for name in names:
                if name.kind == _PROVINCE:
                    if before in _NOT_PROVINCE_BEFORE or (before == "pho" and before2 != "thanh"):
                        continue
                    if folded[start] == "hue" and end - start == 1 and not _is_hue(tokens, start, before):
                        continue
                # Other names need their type word before them ("xã Thanh Long"), or else: an old district or
                # city must end its segment ("12 nguyen tat thanh phan thiet"), and be all of it if it is one
                # word ("Vinh", not "khoai lang" → Phường Láng); a new ward must be all of its segment. So
                # "thanh long ruột đỏ" is fruit, not Xã Thanh Long (Cao Bằng); "Nguyễn Văn An" not Xã Vạn An.
                elif before not in _TYPE_BEFORE and not (
                    segment_ends and (segment_starts or (end - start > 1 and name.kind != _WARD))
                ):
                    continue
                yield _Match(start, end, name)


def _is_hue(tokens: list[_Token], start: int, before: str) -> bool:
    """Unaccented "hue" is the city only after "thành phố"/"tp" or as a whole segment: not "Nguyễn Huệ"."""
    if tokens[start].text == "huế" or before == "pho":
        return True
    return all(t.segment != tokens[start].segment for i, t in enumerate(tokens) if i != start)


def _best(matches: list[_Match]) -> _Match | None:
    """A province name beats anything else; then the rightmost, longest, most specific kind."""
    if not matches:
        return None
    provinces = [m for m in matches if m.name.kind == _PROVINCE]
    pool = provinces or matches
    return max(pool, key=lambda m: (m.end, m.end - m.start, -m.name.kind))


# ---------------------------------------------------------------------------------------------------------
# Ward resolution


class _Hit(NamedTuple):
    start: int
    end: int
    value: int  # position of the unit in its list


def _scan(
    tokens: Sequence[_Token],
    keywords: _Keywords,
    *,
    accented: bool = False,
    skip: Callable[[int, str], bool] | None = None,
) -> _Hit | None:
    """The last keyword named in the text, as the package finds it but on word boundaries.

    From left to right, the longest keyword starting at a word is taken and the scan goes on after it; the
    last one taken wins. Keywords do not cross segments (commas). ``skip(start, keyword)`` drops a hit.
    """
    words, longest = keywords
    if not words:
        return None
    last = None
    i, n = 0, len(tokens)
    while i < n:
        segment = tokens[i].segment
        joined = ""
        hit: _Hit | None = None
        for j in range(i, n):
            if tokens[j].segment != segment:
                break
            joined += tokens[j].text if accented else tokens[j].folded
            if len(joined) > longest:
                break
            value = words.get(joined)
            if value is not None and not (skip and skip(i, joined)):
                hit = _Hit(i, j + 1, value)
        if hit is None:
            i += 1
        else:
            last, i = hit, hit.end
    return last


def _scan_units(tokens: Sequence[_Token], keywords: _UnitKeywords) -> _Hit | None:
    """Without diacritics first (most units), then the units told apart only by them."""
    return (
        _scan(tokens, keywords.folded)
        or _scan(tokens, keywords.accented, accented=True)
        or _scan(tokens, keywords.short_accented, accented=True)
    )


def _pick_divided(tokens: Sequence[_Token], old: int, divided: int) -> int:
    """The district a divided name stands for: the one whose ward is named, else the default."""
    to = _old_province(old).divided[divided].to
    hit = _scan(tokens, _divided_ward_keywords(old, divided))
    if hit is not None:
        return to[hit.value][0]
    return next((district for district, default in to if default), to[0][0])


def _hue_skip(tokens: Sequence[_Token]) -> Callable[[int, str], bool]:
    """Old Huế: "Thuận Hòa" is a ward, Thuận Hóa a district (the package hides the ward's keyword)."""
    accented = "".join(t.text for t in tokens)
    ward_named = "thuậnhòa" in accented or "thuậnhoà" in accented

    def skip(start: int, keyword: str) -> bool:
        return keyword == "thuanhoa" and (
            ward_named
            or (
                start > 0
                and tokens[start - 1].folded == "phuong"
                and tokens[start - 1].segment == tokens[start].segment
            )
        )

    return skip


class _OldRead(NamedTuple):
    district: int
    ward: _OldWard | None
    start: int  # where the district's name is in the tokens
    end: int


def _read_old(tokens: Sequence[_Token], old: int) -> _OldRead | None:
    """The district (and ward) of the old province ``old`` named in the text, like the package's legacy parser."""
    province = _old_province(old)
    rest = list(tokens)
    skip = _hue_skip(rest) if province.key == "thanhphohue" else None
    hit = _scan(rest, _district_keywords(old).folded, skip=skip)
    district = None
    if hit is not None:
        district = hit.value
        del rest[hit.start : hit.end]
        divided = next((i for i, v in enumerate(province.divided) if v.district == district), None)
        if divided is not None:  # a district name that also stands for others (wards moved between them)
            district = _pick_divided(rest, old, divided)
    elif province.divided:  # a former district name, split or renamed
        hit = _scan(rest, _divided_keywords(old))
        if hit is not None:
            del rest[hit.start : hit.end]
            district = _pick_divided(rest, old, hit.value)
    if district is None or hit is None:
        return None
    ward = _scan_units(rest, _old_ward_keywords(old, district))
    return _OldRead(district, province.districts[district].wards[ward.value] if ward else None, hit.start, hit.end)


def _read_new(tokens: Sequence[_Token], province: int) -> _Hit | None:
    """The ward of the new province named in the text, like the package's 2025 parser."""
    return _scan_units(tokens, _new_ward_keywords(province))


def _typed_start(tokens: Sequence[_Token], hit: _Hit, ward: _NewWard) -> int:
    """Where the new ward's name starts, counting its type word before it ("xã" of "xã Mỹ Thọ")."""
    type_words = ward.type.split()
    k = len(type_words)
    segment = tokens[hit.start].segment
    before = tokens[max(hit.start - k, 0) : hit.start]
    if k and [t.folded for t in before] == type_words and all(t.segment == segment for t in before):
        return hit.start - k
    return hit.start


def _inside(tokens: Sequence[_Token], read: _OldRead, start: int, end: int) -> bool:
    """Whether the district's name lies inside ``start:end`` with more than a number around it."""
    if not (start <= read.start and read.end <= end):
        return False
    around = [*tokens[start : read.start], *tokens[read.end : end]]
    return bool(around) and not all(t.folded.isdigit() for t in around)


def _ward(
    tokens: list[_Token], province: int, olds: Sequence[int], with_city: list[_Token] | None = None
) -> _NewWard | None:
    new_wards = _province(province).wards
    if with_city is not None:  # "Phường Song Khê, Thành phố Bắc Giang": an old ward of the old city
        for old in olds:
            read = _read_old(with_city, old)
            if read is not None and read.ward is not None:
                return new_wards[read.ward.new[0]]
    if not tokens:
        return None
    reads: list[tuple[int, _OldRead]] = []  # old provinces and their districts named in the text
    for old in olds:
        read = _read_old(tokens, old)
        if read is None:
            continue
        if read.ward is not None:  # an old ward split between new wards gives the package's default one
            return new_wards[read.ward.new[0]]
        reads.append((old, read))
    hit = _read_new(tokens, province)
    found = None if hit is None else hit.value
    if hit is not None:
        # An old district read inside the name of a new ward does not count: "Xã Vĩnh Tường" (Nghệ An) holds
        # "Vinh", "Xã Đăk Tờ Kan" "Đăk Tô", "Nam Nha Trang" "Nha Trang" (but "1 Bảo Lộc" may be a house number).
        start = _typed_start(tokens, hit, new_wards[hit.value])
        reads = [(old, read) for old, read in reads if not _inside(tokens, read, start, hit.end)]
    if reads:
        went_to = frozenset().union(*(_district_new_wards(old, read.district) for old, read in reads))
        if len(went_to) == 1:  # the old district became one new unit (Phú Quý, Côn Đảo)
            return new_wards[next(iter(went_to))]
        # An old district's name alone ("Phan Thiết") does not tell which of its new wards; "phường X" does.
        if found is None or found not in went_to:
            return None
        typed = f"{new_wards[found].type} {_words(new_wards[found].short)}"
        if typed not in " ".join(t.folded for t in tokens):
            return None
    return None if found is None else new_wards[found]


def _drop_province_name(
    tokens: list[_Token], match: _Match, olds: Sequence[int]
) -> tuple[list[_Token], list[_Token] | None]:
    """The tokens without the province name and its "tỉnh"/"thành phố"; and, when "thành phố X" was also a
    district (the provincial city) of an old province, the tokens keeping it, to read its old wards: "Phường
    Song Khê, Thành phố Bắc Giang"."""
    start, segment = match.start, tokens[match.start].segment

    def word(i: int) -> str:
        return tokens[i].folded if i >= 0 and tokens[i].segment == segment else ""

    with_city = None
    if word(start - 1) == "tinh":
        start -= 1
    elif word(start - 2) == "thanh" and word(start - 1) == "pho":
        city = "thanhpho" + "".join(t.folded for t in tokens[match.start : match.end])
        if any(city in _district_keywords(old).folded.words for old in olds):
            with_city = tokens
        start -= 2
    return tokens[:start] + tokens[match.end :], with_city


@lru_cache(maxsize=_CACHE_SIZE)
def _locate_text(text: str) -> Place | None:
    tokens = _tokens(text)
    if not tokens:
        return None
    tokens = _drop_street_segments(tokens)
    place = _place(_strip_particles(tokens))
    if place is None or place.ward is None:
        # "Xã Mường Nhé", "Xã Phong Nha": the "particle" may end the name of a unit typed with its type word.
        fuller = _strip_particles(tokens, keep_typed=True)
        if len(fuller) > len(_strip_particles(tokens)):
            other = _place(fuller)
            if other is not None and other.ward is not None and (place is None or other.province == place.province):
                return other
    return place


def _place(kept: list[_Token]) -> Place | None:
    best = _best(list(_matches(kept)))
    if best is None:
        return None
    name = best.name
    before = kept[best.start - 1].folded if best.start else ""
    province = _province(name.new)
    olds = [name.old] if name.old is not None else province.old
    # Drop the province name. A city from the table ("Phan Rang") is an old city that was split, so it tells
    # no ward either, unless written "phường X".
    with_city = None
    if name.kind == _PROVINCE or (name.kind == _CITY and before not in ("phuong", "xa")):
        kept, with_city = _drop_province_name(kept, best, olds)
    ward = _ward(kept, name.new, olds, with_city)
    return Place(
        province_code=province.code,
        province=province.short,
        ward=ward.name if ward else None,
        ward_code=ward.code if ward else None,
    )


def locate(address: str) -> Place | None:
    """The new (post-July-2025) province, and ward when it can be told, of a free-text address; else None.

    Accepts old or new names, with or without diacritics, and the usual abbreviations ("P.", "Q.1", "TP",
    "tx", "H.", "TP.HCM"). Never raises.
    """
    if not isinstance(address, str):
        return None
    try:
        return _locate_text(_normalise(address))
    except (LookupError, ValueError, TypeError, OSError):  # a bug or a missing data file: log, do not break the chat
        log.exception("locate failed on %r", address[:80])
        return None
