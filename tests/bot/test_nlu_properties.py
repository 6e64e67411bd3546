"""Whatever a buyer sends, the parser answers: no exception, no negative or non-finite quantity, quickly."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nlu.intents import INTENTS
from bot.nlu.parse import parse
from catalog.demo import demo_index

INDEX = demo_index()
# Vietnamese pieces mixed in, so the strategies reach the product, unit and number paths, not only noise.
PIECES = st.sampled_from(
    "mua|2|1,5|ký|kg|rưỡi|hai mươi lăm|thanh long|ruột đỏ|hộp|rau muống|bó|-3|0|25k|1.000|sđt|0912345678|giao|tên|"
    "DH7K2M9Q|và|,|+|\n|🍉|nửa".split("|")
)
MESSAGES = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=40).map(" ".join),
    st.text(alphabet=st.characters(categories=("L", "M", "N", "P", "S", "Z")), min_size=1000, max_size=2000),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES)
def test_any_message_parses_without_error_into_sane_quantities(message):
    start = time.perf_counter()
    parsed = parse(message, INDEX)
    elapsed = time.perf_counter() - start
    for item in parsed.items:
        for quantity in (item.quantity, item.said_quantity):
            assert quantity is None or (quantity.is_finite() and quantity >= 0), (message, item)
    assert parsed.intent in INTENTS
    assert parsed.as_contract()  # serialisable shape, whatever the input
    # A guard against runaway (quadratic) parsing, far above the few milliseconds bench/nlu.py measures.
    assert elapsed < 0.1, f"{elapsed * 1000:.1f} ms for {len(message)} characters"
