"""Product matching: diacritic-folded tokens compared with rapidfuzz, ties reported as candidates."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import fuzz, process

# Two words that only mean something together; joined so that "có" (to have) never matches "hữu cơ".
_COMPOUNDS = {("huu", "co"): "huuco"}
# Words in cooperative names that say nothing about which product is meant.
_GENERIC = {"htx", "hop", "tac", "xa", "an", "toan", "kg"}
_WORD = re.compile(r"[a-z0-9]+")
# Below this share of the query's words matching, a product is not a match.
MIN_SCORE = 0.5
# Typo tolerance (rapidfuzz ratio, 0-100) for words of five letters or more; shorter Vietnamese syllables
# differ by one letter from unrelated words ("tien"/"dien", "chao"/"chua"), so they must match exactly.
FUZZY_WORD = 85
FUZZY_MIN_LENGTH = 5


def fold_char(char: str) -> str:
    """One character lower-cased and stripped of Vietnamese diacritics (đ → d); always one character."""
    lower = char.lower()
    if len(lower) != 1:
        lower = char
    base = unicodedata.normalize("NFD", lower)[0]
    return "d" if base == "đ" else base


def fold(text: str) -> str:
    """Lower-case ASCII-ish key of a text, position for position with its NFC form (so spans map back)."""
    return "".join(fold_char(c) for c in unicodedata.normalize("NFC", text))


def words(text: str) -> list[str]:
    """The folded words of a text, with compounds such as "hữu cơ" joined."""
    return join_compounds(_WORD.findall(fold(text)))


def join_compounds(tokens: list[str]) -> list[str]:
    """Join folded words that only mean something together ("huu", "co" -> "huuco")."""
    joined: list[str] = []
    for word in tokens:
        if joined and (joined[-1], word) in _COMPOUNDS:
            joined[-1] = _COMPOUNDS[(joined[-1], word)]
        else:
            joined.append(word)
    return joined


@dataclass(frozen=True)
class SearchEntry:
    """What search needs to know of one product."""

    sku: str
    name: str
    cooperative_code: str
    cooperative_name: str
    category: str
    aliases: tuple[str, ...]
    unit: str
    unit_weight_kg: Decimal | None


@dataclass(frozen=True)
class Match:
    """The products a phrase names: `sku` when one fits best, else `candidates` best first."""

    sku: str | None
    candidates: tuple[str, ...]
    score: float


class ProductIndex:
    """Folded word sets of every product, built once per catalogue and queried per message."""

    def __init__(self, entries: Iterable[SearchEntry]) -> None:
        self.entries = {e.sku: e for e in entries}
        self._words: dict[str, set[str]] = {}
        self._name_words: dict[str, list[str]] = {}
        for entry in self.entries.values():
            own = [w for w in words(entry.name) if not w.isdigit() and w not in _GENERIC]
            extra = words(" ".join((entry.cooperative_name, entry.category, *entry.aliases)))
            self._name_words[entry.sku] = own
            self._words[entry.sku] = set(own) | {w for w in extra if w not in _GENERIC}
        self.vocabulary: set[str] = set().union(*self._words.values()) if self._words else set()
        self._folded_names = {sku: fold(e.name) for sku, e in self.entries.items()}

    def known(self, word: str) -> bool:
        """True when the word (or a near spelling of it) appears in some product."""
        return any(_similarity(word, v) for v in self.vocabulary)

    def match(self, phrase_words: list[str]) -> Match | None:
        """The products these words name, or None when fewer than half of them fit any product."""
        query = [w for w in phrase_words if self.known(w)]
        if not query:
            return None
        scored = []
        for sku, product_words in self._words.items():
            hits = [max((_similarity(q, p) for p in product_words), default=0.0) for q in query]
            score = sum(hits) / len(query)
            name_words = self._name_words[sku]
            covered = sum(1 for p in name_words if any(_similarity(q, p) for q in query)) / max(len(name_words), 1)
            scored.append((score, covered, sku))
        scored.sort(key=lambda s: (-s[0], -s[1], s[2]))
        best = scored[0][0]
        if best < MIN_SCORE:
            return None
        tied = tuple(sku for score, _, sku in scored if best - score < 0.01)
        return Match(sku=tied[0] if len(tied) == 1 else None, candidates=tied, score=best)

    def suggest(self, phrase: str, limit: int = 3) -> list[str]:
        """The SKUs whose names read closest to a phrase, for a polite "did you mean"."""
        found = process.extract(fold(phrase), self._folded_names, scorer=fuzz.WRatio, limit=limit)
        return [sku for _, score, sku in found if score >= 40]


def _similarity(query_word: str, product_word: str) -> float:
    if query_word == product_word:
        return 1.0
    if min(len(query_word), len(product_word)) < FUZZY_MIN_LENGTH:
        return 0.0
    ratio = fuzz.ratio(query_word, product_word)
    return ratio / 100 if ratio >= FUZZY_WORD else 0.0
