"""The hand-made buyer corpus (issue 3): one test per line, comparing only what each line expects."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.nlu.parse import parse
from catalog.demo import PRODUCTS, demo_index

CORPUS = Path(__file__).with_name("corpus.jsonl")
INTENTS = (
    "greet help browse search price order cart checkout order_status cancel handoff origin thanks unknown"
).split()
TAGS = frozenset(
    (
        "diacritics no_diacritics nfd upper abbreviation multi_item tie not_found unit_conversion number_words "
        "decimal phone address name order_code question social cart_edit typo"
    ).split()
)
EXPECT_KEYS = frozenset(("intent", "items", "phone", "name", "address", "province", "order_code"))
ITEM_KEYS = frozenset(("sku", "candidates", "quantity", "unit"))
SKUS = frozenset(row[0] for row in PRODUCTS)
# Provinces merged away in July 2025, folded: a line naming one of them uses an old name.
OLD_PROVINCES = re.compile(
    r"\b(?:binh thuan|dak nong|binh duong|ba ria|vung tau|binh phuoc|ninh thuan|soc trang|hau giang|kien giang"
    r"|tien giang|long an|ben tre|tra vinh|phu yen|binh dinh|quang nam|bac lieu|hai duong|nam dinh|ha nam"
    r"|thai binh|bac giang|vinh phuc|hoa binh|bac kan|ha giang|yen bai|kon tum|quang binh)\b"
)
# Old tone placement: the mark on the second vowel of an open oa/oe/uy ("hoà", "khoẻ", "thuỷ"), not after q.
OLD_TONE = re.compile(r"(?i)(?<!q)(?:o[àáảãạèéẻẽẹ]|u[ỳýỷỹỵ])(?![^\W\d_])")
# Chat styling: an emoji/pictograph, or a letter typed three times or more ("nhaaa", "ơiii").
SOCIAL = re.compile(r"[\u2600-\u27bf\U0001f000-\U0001faff]|([^\W\d_])\1\1", re.IGNORECASE)


def _load() -> list[tuple[int, dict[str, Any]]]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [(number, json.loads(line)) for number, line in enumerate(lines, start=1) if line.strip()]


CASES = _load()


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("đ", "d")


def _case_id(number: int, case: dict[str, Any]) -> str:
    return f"L{number:03d} {case['text'][:40]}".replace("\n", " ")


@pytest.fixture(scope="module")
def index():
    return demo_index()


def _same_quantity(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    return math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=1e-9)


def _item_differences(position: int, expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    problems = []
    if "sku" in expected and expected["sku"] != actual.get("sku"):
        problems.append(f"item {position} sku: expected {expected['sku']!r}, got {actual.get('sku')!r}")
    if "candidates" in expected and set(expected["candidates"]) != set(actual.get("candidates") or ()):
        problems.append(
            f"item {position} candidates: expected {sorted(expected['candidates'])}, "
            f"got {sorted(actual.get('candidates') or ())}"
        )
    if "quantity" in expected and not _same_quantity(expected["quantity"], actual.get("quantity")):
        problems.append(f"item {position} quantity: expected {expected['quantity']!r}, got {actual.get('quantity')!r}")
    if "unit" in expected and expected["unit"] != actual.get("unit"):
        problems.append(f"item {position} unit: expected {expected['unit']!r}, got {actual.get('unit')!r}")
    return problems


def _differences(expect: dict[str, Any], result: dict[str, Any]) -> list[str]:
    problems = []
    for key, wanted in expect.items():
        if key == "items":
            got = result.get("items") or []
            if len(got) != len(wanted):
                problems.append(f"items: expected {len(wanted)}, got {len(got)}")
                continue
            for position, (expected_item, actual_item) in enumerate(zip(wanted, got, strict=True), start=1):
                problems.extend(_item_differences(position, expected_item, actual_item))
        elif result.get(key) != wanted:
            problems.append(f"{key}: expected {wanted!r}, got {result.get(key)!r}")
    return problems


def _param(number: int, case: dict[str, Any]) -> Any:
    """A corpus line as a test; a line the parser is known to get wrong fails loudly once it gets it right."""
    marks = [pytest.mark.xfail(reason=case["known_miss"], strict=True)] if "known_miss" in case else []
    return pytest.param(case, id=_case_id(number, case), marks=marks)


@pytest.mark.parametrize("case", [_param(n, case) for n, case in CASES])
def test_corpus_line(case, index):
    text = case["text"]
    if "nfd" in case["tags"]:
        text = unicodedata.normalize("NFD", text)
    parsed = parse(text, index)
    # The province is not part of the `htx nlu` contract; routing reads it from the parse itself.
    result = {**parsed.as_contract(), "province": parsed.province}
    problems = _differences(case["expect"], result)
    assert not problems, f"{case['text']!r}\n  " + "\n  ".join(problems) + f"\n  parsed: {result}"


def test_corpus_lines_are_well_formed():
    texts = Counter(case["text"] for _, case in CASES)
    assert not [t for t, n in texts.items() if n > 1], "duplicate lines"
    for number, case in CASES:
        where = f"line {number}"
        assert {"text", "expect", "tags"} <= set(case) <= {"text", "expect", "tags", "known_miss"}, where
        assert set(case["tags"]) <= TAGS, (where, set(case["tags"]) - TAGS)
        expect = case["expect"]
        assert expect and set(expect) <= EXPECT_KEYS, where
        assert expect.get("intent", "unknown") in INTENTS, where
        if expect.get("order_code") is not None:
            assert re.fullmatch(r"DH[0-9A-Z]{6}", expect["order_code"]), where
        if expect.get("phone") is not None:
            assert re.fullmatch(r"0\d{9}", expect["phone"]), where
        if "upper" in case["tags"]:
            assert case["text"] == case["text"].upper(), where
        for item in expect.get("items", []):
            assert {"sku", "candidates"} <= set(item) <= ITEM_KEYS, where
            assert set(item["candidates"]) <= SKUS, where
            if item["sku"] is not None:
                assert item["candidates"] == [item["sku"]], where


def test_corpus_covers_what_issue_3_asks():
    lines = [case for _, case in CASES]
    tags = Counter(tag for case in lines for tag in case["tags"])
    expects = [case["expect"] for case in lines]
    intents = Counter(e["intent"] for e in expects if "intent" in e)
    with_province = [case for case in lines if case["expect"].get("province")]
    counts = {
        "lines": len(lines),
        "multi_item": tags["multi_item"],
        "tie_or_not_found": sum(1 for case in lines if {"tie", "not_found"} & set(case["tags"])),
        "typo": tags["typo"],
        "number_words": tags["number_words"],
        "decimal": tags["decimal"],
        "phone": tags["phone"],
        "address": tags["address"],
        "name": tags["name"],
        "order_code": tags["order_code"],
        "abbreviation": tags["abbreviation"],
        "nfd": tags["nfd"],
        "upper": tags["upper"],
        "old_tone": sum(1 for case in lines if OLD_TONE.search(case["text"])),
        "emoji_or_repeats": sum(1 for case in lines if SOCIAL.search(case["text"])),
        "full_slots": sum(1 for e in expects if e.get("items") and "phone" in e and "address" in e),
        "province": len(with_province),
        "old_province_names": sum(1 for case in with_province if OLD_PROVINCES.search(_fold(case["text"]))),
    }
    minimum = {
        "lines": 320,
        "multi_item": 45,
        "tie_or_not_found": 35,
        "typo": 25,
        "number_words": 20,
        "decimal": 20,
        "phone": 30,
        "address": 40,
        "name": 20,
        "order_code": 15,
        "abbreviation": 25,
        "nfd": 10,
        "upper": 10,
        "old_tone": 8,
        "emoji_or_repeats": 15,
        "full_slots": 20,
        "province": 40,
        "old_province_names": 15,
    }
    short = {key: (counts[key], need) for key, need in minimum.items() if counts[key] < need}
    assert not short, short
    assert tags["no_diacritics"] * 3 >= len(lines), (tags["no_diacritics"], len(lines))
    assert all(("diacritics" in case["tags"]) != ("no_diacritics" in case["tags"]) for case in lines)
    rare = {intent: intents[intent] for intent in INTENTS if intents[intent] < 8}
    assert not rare, rare
    # The ambiguous abbreviations appear in both readings.
    folded = [(_fold(case["text"]), case["expect"]) for case in lines]
    assert any(re.search(r"\d+k\b", t) and e.get("intent") == "price" for t, e in folded), "25k as a price"
    assert any(re.search(r"\bk$", t) and e.get("intent") == "search" for t, e in folded), "k as không"
    assert any(re.search(r"\bdc:", t) and e.get("address") for t, e in folded), "đc as địa chỉ"
    assert any(re.search(r"\bdc\b(?!:)", t) and "address" in e and e["address"] is None for t, e in folded), (
        "đc as được"
    )
    assert any(re.search(r"\bbn\b", t) and e.get("intent") == "price" for t, e in folded), "bn as bao nhiêu"
    assert any(re.search(r"\bbn\b", t) and e.get("intent") in ("thanks", "search") for t, e in folded), "bn as bạn"
