"""Hypothesis strategies for bad input at the edges: bytes, broken UTF-8, JSON of any shape, samples half-broken."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Strings that have broken services before: NUL (PostgreSQL refuses it in text), lone surrogates (valid JSON
# escapes, invalid Unicode), right-to-left overrides, format strings, SQL, dates at the calendar's ends.
NASTY_STRINGS = st.sampled_from(
    [
        "",
        "\x00",
        "a\x00b",
        "\ud800",
        "\udfff",
        "\u202e",
        "😀" * 50,
        "%s%n",
        "' OR 1=1 --",
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "2026-13-45 25:61:61",
        "-1",
        "1e999",
        "NaN",
    ]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.text(st.characters(codec=None, categories=["Cs", "Cc", "Lo", "Mn"]), max_size=10)
    | NASTY_STRINGS
    | st.datetimes().map(lambda moment: moment.isoformat(sep=" "))
)
# JSON values of any shape (NaN and infinities included: json.dumps writes them, strict parsers refuse them).
JSON_VALUES = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# Bytes that are not UTF-8: stray continuation bytes, truncated sequences, overlong encodings, UTF-16.
INVALID_UTF8 = st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xe2\x82", b"\x80", b"\xed\xa0\x80"])


def dumps(value: Any) -> bytes:
    """Compact JSON as a platform sends it; lone surrogates go out as `\\udXXX` escapes (ensure_ascii)."""
    return json.dumps(value, separators=(",", ":")).encode()


# Values of the same type as the sample's, at their edges: what passes a type check and breaks what follows
# (a column too narrow for the number or the text, a date the time zone cannot convert).
EDGE_INTEGERS = st.sampled_from([0, -1, 2**31, 2**63, 2**64, 10**30]) | st.integers()
EDGE_STRINGS = NASTY_STRINGS | st.text(max_size=30) | st.integers(129, 2000).map(lambda n: "9" * n)


def _edge(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool) or value is None:
        return JSON_VALUES
    if isinstance(value, int):
        return EDGE_INTEGERS | JSON_VALUES
    if isinstance(value, str):
        return EDGE_STRINGS | JSON_VALUES
    return JSON_VALUES


@st.composite
def mutated(draw: st.DrawFn, sample: Any) -> Any:
    """`sample` with, here and there, a part replaced by an edge value of its type or by arbitrary JSON, a key
    dropped or an extra key added."""
    if draw(st.integers(0, 7)) == 7:
        return draw(_edge(sample))
    if isinstance(sample, dict):
        kept = {key: draw(mutated(value)) for key, value in sample.items() if draw(st.integers(0, 15)) != 15}
        return {**kept, **draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=1))}
    if isinstance(sample, list):
        return [draw(mutated(item)) for item in sample]
    return sample


@st.composite
def broken_utf8(draw: st.DrawFn, sample: Any) -> bytes:
    """The sample's JSON with invalid UTF-8 bytes spliced in somewhere (inside a string, or between tokens)."""
    body = dumps(sample)
    at = draw(st.integers(0, len(body)))
    return body[:at] + draw(INVALID_UTF8) + body[at:]


def nested(depth: int) -> bytes:
    """JSON nested `depth` levels deep: lists and objects alternating."""
    return b'[{"a":' * (depth // 2) + b"[]" + b"}]" * (depth // 2)


@st.composite
def deep_inside(draw: st.DrawFn, sample: dict[str, Any]) -> bytes:
    """The sample's JSON with one extra field nested hundreds or thousands of levels deep: some parse, some hit
    the parser's recursion limit; what parses must not break whatever walks it later."""
    depth = draw(st.sampled_from([400, 950, 990, 998, 1200, 100_000]))
    body = dumps({**sample, "deep": "DEEP"})
    return body.replace(b'"DEEP"', nested(depth))


def any_body(sample: Any) -> st.SearchStrategy[bytes]:
    """Any body a caller might send in place of `sample`: bytes, broken UTF-8, JSON of another shape, the sample
    half-broken, or nested deep."""
    return st.one_of(
        st.binary(max_size=300),
        broken_utf8(sample),
        JSON_VALUES.map(dumps),
        mutated(sample).map(dumps),
        deep_inside(sample) if isinstance(sample, dict) else st.nothing(),
        st.sampled_from([b"", b"null", b"[]", b"{}", b"{", b'{"a":NaN}', nested(100_000)]),
    )


# Header values a client can send (no control characters): forged secrets and signatures.
HEADER_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80).map(str.strip)
