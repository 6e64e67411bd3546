"""NLU benchmark: accuracy on the buyer corpus, and parse time on the demo and a 10,000-product catalogue.

Run: `make bench` (or `.venv/bin/python -m bench.nlu`). Prints accuracy against the targets of issue 3, then
median and p99 of one parse next to a plain `rapidfuzz.process.extractOne` over the raw names (the baseline),
measured in the same run, and the cost of updating one product in the big index.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from rapidfuzz import process

from bench.catalogue import national_index
from bot.nlu.parse import parse
from catalog.demo import demo_index
from catalog.search import ProductIndex, SearchEntry, fold

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "nlu" / "corpus.jsonl"
TARGETS = {"intent": 0.95, "product top-1": 0.97, "quantity+unit": 0.98}


def load_corpus() -> list[dict[str, Any]]:
    """The corpus lines, NFD ones decomposed as the test does."""
    cases = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    for case in cases:
        if "nfd" in case["tags"]:
            case["text"] = unicodedata.normalize("NFD", case["text"])
    return cases


def accuracy(cases: list[dict[str, Any]], index: ProductIndex) -> dict[str, tuple[int, int]]:
    """(right, total) for intent, product top-1, quantity+unit and ties, over the corpus."""
    counts = {name: [0, 0] for name in ("intent", "product top-1", "quantity+unit", "ties resolved")}
    for case in cases:
        expect, got = case["expect"], parse(case["text"], index).as_contract()
        if "intent" in expect:
            counts["intent"][1] += 1
            counts["intent"][0] += got["intent"] == expect["intent"]
        for position, wanted in enumerate(expect.get("items", [])):
            found = got["items"][position] if position < len(got["items"]) else None
            if wanted.get("sku"):
                counts["product top-1"][1] += 1
                counts["product top-1"][0] += bool(found and found["sku"] == wanted["sku"])
            elif "candidates" in wanted:
                counts["ties resolved"][1] += 1
                counts["ties resolved"][0] += bool(
                    found and found["sku"] is None and set(found["candidates"]) == set(wanted["candidates"])
                )
            if "quantity" in wanted:
                counts["quantity+unit"][1] += 1
                counts["quantity+unit"][0] += bool(
                    found
                    and _same(found["quantity"], wanted["quantity"])
                    and (wanted["quantity"] is None or found["unit"] == wanted.get("unit"))
                )
    return {name: (right, total) for name, (right, total) in counts.items()}


def _same(got: float | None, wanted: float | None) -> bool:
    return got is None if wanted is None else got is not None and abs(got - wanted) < 1e-9


def timings(call: Callable[[str], object], texts: list[str], rounds: int) -> tuple[float, float]:
    """Median and p99 in milliseconds of one call, over every text `rounds` times."""
    for text in texts:
        call(text)  # warm caches the way a running service has them
    samples = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter_ns()
            call(text)
            samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


def main() -> None:
    """Print the figures."""
    cases = load_corpus()
    texts = [case["text"] for case in cases]
    demo = demo_index()
    print(f"corpus: {len(cases)} messages ({CORPUS.relative_to(CORPUS.parents[2])})")
    for name, (right, total) in accuracy(cases, demo).items():
        target = TARGETS.get(name)
        verdict = "" if target is None else f"  target {target:.0%}: {'ok' if right / total >= target else 'MISSED'}"
        print(f"  {name:<15} {right / total:7.2%}  ({right}/{total}){verdict}")

    big, generated = national_index(10_000)
    print("parse time per message (ms), median / p99; baseline = rapidfuzz.process.extractOne over raw names")
    for label, index in (("demo (9 products)", demo), (f"national ({len(big.entries)} products)", big)):
        names = [fold(entry.name) for entry in index.entries.values()]
        ours = timings(lambda text, index=index: parse(text, index), texts, rounds=5)
        base = timings(lambda text, names=names: process.extractOne(fold(text), names), texts, rounds=5)
        print(
            f"  {label:<28} parse {ours[0]:.3f} / {ours[1]:.3f}   baseline {base[0]:.3f} / {base[1]:.3f}"
            f"   ratio {ours[0] / base[0]:.2f} / {ours[1] / base[1]:.2f}"
        )
    noise_rng = random.Random(3)
    alphabet = "abcdeghiklmnopqrstuvxyàáảãạăâđêôơưýỳ0123456789 .,-+"
    noise = ["".join(noise_rng.choice(alphabet) for _ in range(2000)) for _ in range(20)]
    long_parse = timings(lambda text: parse(text, big), noise, rounds=3)
    print(f"  2,000 characters of noise, national index: parse {long_parse[0]:.3f} / {long_parse[1]:.3f}")
    entry = generated[0]
    changed = [
        SearchEntry(
            entry.sku,
            f"{entry.name} mới {n}",
            entry.cooperative_code,
            entry.cooperative_name,
            entry.category,
            ("hàng mới",),
            entry.unit,
            Decimal(1),
        )
        for n in range(200)
    ]
    upsert = timings(lambda n: big.upsert(changed[int(n)]), [str(n) for n in range(200)], rounds=1)
    rebuild_start = time.perf_counter()
    ProductIndex(big.entries.values())
    rebuild = (time.perf_counter() - rebuild_start) * 1000
    print(f"  update one product in the national index: {upsert[0]:.3f} ms median (full rebuild {rebuild:.0f} ms)")


if __name__ == "__main__":
    main()
