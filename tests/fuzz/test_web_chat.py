"""`POST /web/chat` under bad input: a 4xx that stores nothing, or the turn's replies; never a 5xx."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, Service, assert_handled, stored
from tests.fuzz.strategies import any_body

SAMPLES = [{"session": "fuzz-1", "text": "mua 2 ký cà chua"}, {"session": "fuzz_2", "payload": "menu"}]


@FUZZ
@given(body=st.sampled_from(SAMPLES).flatmap(any_body))
async def test_the_web_chat_answers_bad_input_with_a_4xx_or_its_replies(service: Service, body: bytes):
    before = await stored(service)
    response = await service.client.post("/web/chat", data=body, headers={"Content-Type": "application/json"})
    await assert_handled(response, service, before)
    if response.status == 200:
        replies = (await response.json())["replies"]
        assert all(isinstance(reply["text"], str) for reply in replies)
