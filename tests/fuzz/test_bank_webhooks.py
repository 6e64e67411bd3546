"""SePay and Casso webhooks under bad input: authenticated or not, never a 5xx, and a refusal records nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, Service, assert_handled, casso_headers, sepay_headers, stored
from tests.fuzz.strategies import HEADER_VALUES, any_body, dumps

SEPAY: dict[str, Any] = {
    "id": 92704,
    "gateway": "Co-opBank",
    "transactionDate": "2026-05-14 14:02:37",
    "accountNumber": "0123499999",
    "code": None,
    "content": "DH7K2M9Q chuyen tien",
    "transferType": "in",
    "transferAmount": 45000,
    "accumulated": 19077000,
    "subAccount": None,
    "referenceCode": "MBVCB.3278907687",
}
CASSO: dict[str, Any] = {
    "error": 0,
    "data": {
        "id": 1844887,
        "reference": "FT24277",
        "description": "DH7K2M9Q chuyen tien",
        "amount": 45000,
        "runningBalance": 25000000,
        "transactionDateTime": "2026-05-14 14:02:37",
        "accountNumber": "0123499999",
        "bankName": "VPBank",
    },
}


@FUZZ
@given(body=any_body(SEPAY), key=st.sampled_from([None, "wrong"]) | HEADER_VALUES)
# Found by this test: an amount wider than the column, a date with no UTC time, an over-long reference.
@example(body=dumps({**SEPAY, "transferAmount": 2**70}), key=None)
@example(body=dumps({**SEPAY, "transactionDate": "0001-01-01 00:00:00"}), key=None)
@example(body=dumps({**SEPAY, "referenceCode": "9" * 65}), key=None)
@example(body=dumps({**SEPAY, "content": "DH\x00"}), key=None)
async def test_sepay_never_fails_and_records_nothing_it_refuses(service: Service, body: bytes, key: str | None):
    for headers in (sepay_headers(), sepay_headers(key or "")):
        before = await stored(service)
        response = await service.client.post("/webhooks/bank/sepay", data=body, headers=headers)
        await assert_handled(response, service, before)


@FUZZ
@given(body=any_body(CASSO), key=HEADER_VALUES)
@example(body=dumps({**CASSO, "data": {**CASSO["data"], "amount": -(2**70)}}), key="k")
@example(body=dumps({**CASSO, "data": {**CASSO["data"], "id": 10**70}}), key="k")
async def test_casso_never_fails_and_records_nothing_it_refuses(service: Service, body: bytes, key: str):
    for headers in (casso_headers(body), casso_headers(body, key="not-" + key), {"X-Casso-Signature": key}):
        before = await stored(service)
        response = await service.client.post("/webhooks/bank/casso", data=body, headers=headers)
        await assert_handled(response, service, before)
