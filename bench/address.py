"""Accuracy and speed of `bot.nlu.address.locate` on the addresses of tests/bot/test_address.py.

Run: .venv/bin/python bench/address.py

"import" is the module alone; "data" is reading data/admin_units.json and building the name index, done on the
first call; the keyword tables of a province are built the first time an address names it ("first call").
"cold" clears the result cache before every call (data and tables stay loaded); "warm" hits the cache.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_t0 = time.perf_counter_ns()
from bot.nlu import address  # noqa: E402

IMPORT_MS = (time.perf_counter_ns() - _t0) / 1e6

from tests.bot.test_address import CASES, NOT_ADDRESSES  # noqa: E402

ROUNDS = 50


def _data_ms() -> float:
    start = time.perf_counter_ns()
    address._data()
    return (time.perf_counter_ns() - start) / 1e6


def _timings(texts: list[str], rounds: int, *, cold: bool) -> list[float]:
    """Microseconds per call; cold clears the cache before every call."""
    out: list[float] = []
    for _ in range(rounds):
        for text in texts:
            if cold:
                address._locate_text.cache_clear()
            start = time.perf_counter_ns()
            address.locate(text)
            out.append((time.perf_counter_ns() - start) / 1e3)
    return out


def _describe(label: str, micros: list[float]) -> str:
    p99 = statistics.quantiles(micros, n=100)[98]
    return f"{label:<24} median {statistics.median(micros):9.1f} µs   p99 {p99:9.1f} µs   ({len(micros)} calls)"


def main() -> None:
    data_ms = _data_ms()
    province_ok = ward_ok = 0
    misses: list[str] = []
    first: list[float] = []  # first call in the process: builds the keyword tables of the provinces named
    for text, province, ward in CASES:
        start = time.perf_counter_ns()
        place = address.locate(text)
        first.append((time.perf_counter_ns() - start) / 1e3)
        got = (place.province, place.ward) if place else (None, None)
        province_ok += got[0] == province
        ward_ok += got == (province, ward)
        if got != (province, ward):
            misses.append(f"  {text!r}: got {got}, want {(province, ward)}")
    none_ok = sum(address.locate(text) is None for text in NOT_ADDRESSES)

    n = len(CASES)
    print(f"import of bot.nlu.address: {IMPORT_MS:.1f} ms; data file + name index (first call): {data_ms:.1f} ms")
    print(f"province right:      {province_ok}/{n} ({100 * province_ok / n:.1f}%)")
    print(f"province+ward right: {ward_ok}/{n} ({100 * ward_ok / n:.1f}%)")
    print(f"non-addresses None:  {none_ok}/{len(NOT_ADDRESSES)}")
    for line in misses:
        print(line)

    texts = [c[0] for c in CASES] + NOT_ADDRESSES
    print(_describe("first call in process", first))
    print(_describe("cold (cache cleared)", _timings(texts, 5, cold=True)))
    address._locate_text.cache_clear()
    _timings(texts, 1, cold=False)
    print(_describe("warm (cached)", _timings(texts, ROUNDS, cold=False)))
    print(f"cache: {address._locate_text.cache_info()}")


if __name__ == "__main__":
    main()
