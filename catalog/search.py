"""Product matching: diacritic-folded tokens compared with rapidfuzz, ties reported as candidates."""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

# Two words that only mean something together; joined so that "có" (to have) never matches "hữu cơ".
_COMPOUNDS = {("huu", "co"): "huuco"}
_COMPOUND_PARTS = {part for pair in _COMPOUNDS for part in pair}
# Words of "hợp tác xã" in cooperative names, which say nothing about which product is meant.
_GENERIC = {"htx", "hop", "tac", "xa"}
_WORD = re.compile(r"[a-z0-9]+")
# Below this share of the query's words matching, a product is not a match.
MIN_SCORE = 0.5
# A word a buyer mistyped by one keystroke still counts, a little less than the right word.
TYPO_SIMILARITY = 0.8
# Vietnamese syllables are short and differ from unrelated ones by one letter ("chao"/"chua", "tien"/"dien"),
# so only the typos fingers make are forgiven (see `_is_typo`).
TYPO_MIN_LENGTH = 4
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    """Each letter's neighbours on a staggered keyboard: beside it, and the two keys touching it above and below."""
    near: dict[str, frozenset[str]] = {}
    for r, row in enumerate(_KEYBOARD):
        for c, key in enumerate(row):
            touching = set(row[max(0, c - 1) : c + 2])
            if r > 0:
                touching.update(_KEYBOARD[r - 1][c : c + 2])
            if r + 1 < len(_KEYBOARD):
                touching.update(_KEYBOARD[r + 1][max(0, c - 1) : c + 1])
            near[key] = frozenset(touching - {key})
    return near


_NEIGHBOURS = _keyboard_neighbours()
# How many candidates a tie reports at most, best first.
MAX_CANDIDATES = 10


def fold_char(char: str) -> str:
    """One character lower-cased and stripped of Vietnamese diacritics (đ → d); always one character."""
    lower = char.lower()
    if len(lower) != 1:
        lower = char
    base = unicodedata.normalize("NFD", lower)[0]
    return "d" if base == "đ" else base


class _FoldTable(dict[int, str]):
    """`str.translate` table filled on first sight of each character, so folding runs at C speed."""

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code))
        if code < 0x3000:  # Latin, Vietnamese, punctuation: worth keeping; rarer scripts are not, to bound memory
            self[code] = folded
        return folded


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Lower-case ASCII-ish key of a text, position for position with its NFC form (so spans map back)."""
    return unicodedata.normalize("NFC", text).translate(_FOLD_TABLE)


def words(text: str) -> list[str]:
    """The folded words of a text, with compounds such as "hữu cơ" joined."""
    return join_compounds(_WORD.findall(fold(text)))


def join_compounds(tokens: list[str]) -> list[str]:
    """Join folded words that only mean something together ("huu", "co" -> "huuco")."""
    joined: list[str] = []
    for typed in tokens:
        # A doubled last letter ("huu coo") would otherwise keep the pair apart.
        word = typed[:-1] if typed[-1:] == typed[-2:-1] and typed[:-1] in _COMPOUND_PARTS else typed
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
    sold_out: bool = False


@dataclass(frozen=True)
class Match:
    """The products a phrase names: `sku` when one fits best, else `candidates` best first."""

    sku: str | None
    candidates: tuple[str, ...]
    score: float


class ProductIndex:
    """An inverted index from folded words to products, updated one product at a time.

    Queries look each word up exactly, then as a one-keystroke typo, then as two words run together
    ("thanhlong"); products are scored by the share of the query's words they contain, ties reported.
    """

    def __init__(self, entries: Iterable[SearchEntry] = ()) -> None:
        self.entries: dict[str, SearchEntry] = {}
        self._words: dict[str, frozenset[str]] = {}
        self._name_words: dict[str, frozenset[str]] = {}
        self._postings: dict[str, set[str]] = defaultdict(set)
        self._vocabulary: list[str] | None = None
        self._lookups: dict[str, tuple[tuple[str, float], ...]] = {}
        self._folded_names: dict[str, str] = {}
        for entry in entries:
            self.upsert(entry)

    def upsert(self, entry: SearchEntry) -> None:
        """Add a product or replace what the index knows of it."""
        self.remove(entry.sku)
        own = frozenset(w for w in words(entry.name) if not w.isdigit() and w != "kg")
        extra = words(" ".join((entry.cooperative_name, entry.category, *entry.aliases)))
        every = own | {w for w in extra if w not in _GENERIC and not w.isdigit()}
        self.entries[entry.sku] = entry
        self._name_words[entry.sku] = own
        self._words[entry.sku] = every
        self._folded_names[entry.sku] = fold(entry.name)
        new_words = [w for w in every if w not in self._postings]
        for word in every:
            self._postings[word].add(entry.sku)
        if new_words:
            self._vocabulary_changed()

    def remove(self, sku: str) -> None:
        """Forget a product (no-op if unknown)."""
        if sku not in self.entries:
            return
        gone = False
        for word in self._words.pop(sku):
            postings = self._postings[word]
            postings.discard(sku)
            if not postings:
                del self._postings[word]
                gone = True
        del self.entries[sku], self._name_words[sku], self._folded_names[sku]
        if gone:
            self._vocabulary_changed()

    def _vocabulary_changed(self) -> None:
        self._vocabulary = None
        self._lookups.clear()

    def lookup(self, word: str) -> tuple[tuple[str, float], ...]:
        """The catalogue words a buyer's word stands for, with how sure: exact, typo, or run together."""
        found = self._lookups.get(word)
        if found is None:
            found = self._lookup(word)
            if len(self._lookups) < 100_000:
                self._lookups[word] = found
        return found

    def _lookup(self, word: str) -> tuple[tuple[str, float], ...]:
        if word in self._postings:
            return ((word, 1.0),)
        if len(word) < TYPO_MIN_LENGTH:
            return ()
        if self._vocabulary is None:
            self._vocabulary = list(self._postings)
        near = process.extract(word, self._vocabulary, scorer=Levenshtein.distance, score_cutoff=2, limit=None)
        typos = tuple((known, TYPO_SIMILARITY) for known, _, _ in near if _is_typo(word, known))
        if typos:
            return typos
        for cut in range(2, len(word) - 1):
            head, tail = word[:cut], word[cut:]
            if head in self._postings and tail in self._postings:
                return ((head, 1.0), (tail, 1.0))
        return ()

    def known(self, word: str) -> bool:
        """True when the word (or a near spelling of it) appears in some product."""
        return bool(self.lookup(word))

    def match(self, phrase_words: list[str]) -> Match | None:
        """The products these words name, or None when fewer than half of them fit any product."""
        looked_up = [found for found in (self.lookup(w) for w in phrase_words) if found]
        if not looked_up:
            return None
        scores: Counter[str] = Counter()
        for found in looked_up:
            if len(found) == 1 and found[0][1] == 1.0:
                scores.update(self._postings[found[0][0]])  # the usual case, counted in C
                continue
            best: dict[str, float] = {}
            for known, similarity in found:
                for sku in self._postings[known]:
                    if best.get(sku, 0.0) < similarity:
                        best[sku] = similarity
            scores.update(best)
        top = max(scores.values())
        if top < MIN_SCORE * len(looked_up):
            return None
        tied = [sku for sku, score in scores.items() if score > top - 0.01 * len(looked_up)]
        query_words = {known for found in looked_up for known, _ in found}
        best_first = heapq.nsmallest(
            MAX_CANDIDATES, tied, key=lambda sku: (-self._coverage(sku, query_words), self.entries[sku].sold_out, sku)
        )
        candidates = tuple(best_first)
        return Match(sku=candidates[0] if len(tied) == 1 else None, candidates=candidates, score=top / len(looked_up))

    def best_of(self, skus: list[str], phrase_words: list[str]) -> str | None:
        """Of a few products already on the table, the one these words fit best, or None if none or a tie."""
        query = {known for word in phrase_words for known, _ in self.lookup(word)}
        fits = sorted(((len(self._words[sku] & query), sku) for sku in skus if sku in self._words), reverse=True)
        if not fits or fits[0][0] == 0 or (len(fits) > 1 and fits[1][0] == fits[0][0]):
            return None
        return fits[0][1]

    def _coverage(self, sku: str, query_words: set[str]) -> float:
        """How much of the product's own name the query says: "thanh long ruột đỏ" fits a short name best."""
        name = self._name_words[sku]
        return len(name & query_words) / len(name) if name else 0.0

    def suggest(self, phrase: str, limit: int = 3) -> list[str]:
        """The SKUs whose names read closest to a phrase, for a polite "did you mean"."""
        found = process.extract(fold(phrase), self._folded_names, scorer=fuzz.WRatio, limit=limit, score_cutoff=40)
        return [sku for _, _, sku in found]


def _is_typo(typed: str, known: str) -> bool:
    """One keystroke away: a neighbouring key hit, two letters swapped, or a letter doubled ("chuaa").

    A first letter dropped or added is not forgiven ("pham" is not "ham"), nor a letter dropped from a short word.
    """
    if len(typed) == len(known):
        diffs = [i for i, (a, b) in enumerate(zip(typed, known, strict=True)) if a != b]
        if len(diffs) == 1:
            return typed[diffs[0]] in _NEIGHBOURS.get(known[diffs[0]], frozenset())
        if len(diffs) != 2 or diffs[1] != diffs[0] + 1:
            return False
        first, second = diffs
        return (typed[first], typed[second]) == (known[second], known[first])
    longer, shorter = (typed, known) if len(typed) > len(known) else (known, typed)
    if len(longer) != len(shorter) + 1:
        return False
    extra = next((i for i, (a, b) in enumerate(zip(longer, shorter, strict=False)) if a != b), len(shorter))
    if extra == 0 or longer[:extra] + longer[extra + 1 :] != shorter:
        return False
    # A doubled letter, or a letter dropped inside (not at the end of) a word of five or more ("muog", "mung" for
    # "muong"; but "tran" is a name, not "trang").
    inside = extra < len(longer) - 1
    return longer[extra] == longer[extra - 1] or (longer is known and len(known) >= 5 and inside)
