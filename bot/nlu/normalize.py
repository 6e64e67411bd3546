"""Cleaning a chat message and expanding chat abbreviations, keeping the cleaned text and its folded key aligned."""

from __future__ import annotations

import re
import unicodedata

_REPEATS = re.compile(r"([^\W\d_])\1{2,}")  # "nhaaa" -> "nha"
_WORDS = re.compile(r"\w+")
_ORDER_CODE = re.compile(r"dh[0-9a-z]{6}", re.IGNORECASE)  # kept as typed: "DHKKK123" is a code, not "nhaaa"
_TAGS = re.compile(r"<[^<>]{0,200}>")  # pasted HTML says nothing about produce
_SPACES = re.compile(r"[ \t]+")

# Unambiguous chat abbreviations, folded (see reference/vietnam.md §5.2). The ambiguous ones
# (k, bn, dc, tl) are resolved from context in `expand`.
ABBREVIATIONS = {
    "ko": "khong",
    "kh": "khong",
    "khg": "khong",
    "hok": "khong",
    "hong": "khong",
    "hem": "khong",
    "dk": "duoc",
    "dx": "duoc",
    "sp": "san pham",
    "sdt": "so dien thoai",
    "dt": "dien thoai",
    "e": "em",
    "a": "anh",
    "c": "chi",
    "cj": "chi",
    "mik": "minh",
    "mk": "minh",
    "m": "minh",
    "vs": "voi",
    "j": "gi",
    "z": "vay",
    "v": "vay",
    "r": "roi",
    "nhiu": "nhieu",
    "bnh": "bao nhieu",
    "baonh": "bao nhieu",
    "ib": "nhan tin",
    "ntn": "nhu the nao",
    "tks": "thanks",
    "ty": "thank you",
}


def clean(text: str) -> str:
    """NFC text without HTML tags, emoji or control characters, repeated letters and spaces squeezed."""
    text = _TAGS.sub(" ", unicodedata.normalize("NFC", text))
    kept = "".join(c if (c.isalnum() or c in " \n.,;:+-/?!()@#&'\"") else " " for c in text)
    kept = _WORDS.sub(_squeeze, kept)
    lines = (_SPACES.sub(" ", line).strip() for line in kept.splitlines())
    return "\n".join(line for line in lines if line)


def _squeeze(word: re.Match[str]) -> str:
    text = word.group(0)
    return text if _ORDER_CODE.fullmatch(text) else _REPEATS.sub(r"\1", text)


def expand(tokens: list[str]) -> list[str]:
    """Expand abbreviations; `k`, `bn`, `dc` and `tl` are read from the words around them."""
    expanded: list[str] = []
    for i, token in enumerate(tokens):
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token == "k":
            expanded.extend(["nghin"] if before.isdigit() else ["khong"])
        elif token == "bn":
            you = before in {"cam", "on", "chao", "camon"} or after == "oi"
            expanded.extend(["ban"] if you else ["bao", "nhieu"])
        elif token == "dc":
            expanded.extend(["dia", "chi"] if after[:1].isdigit() else ["duoc"])
        elif token == "tl":
            # "tl" is thanh long in a shop, unless it asks for a reply ("tl giúp em", "tl tin nhắn").
            reply = after in {"giup", "gium", "dum", "em", "e", "minh", "mik", "nhanh", "lai", "tin", "voi", "di"}
            expanded.extend(["tra", "loi"] if reply else ["thanh", "long"])
        elif token in ABBREVIATIONS:
            expanded.extend(ABBREVIATIONS[token].split())
        else:
            expanded.append(token)
    return expanded
