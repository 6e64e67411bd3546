"""The partner API's one POST under bad input: a 4xx that changes no order, never a 5xx."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orders.partner_accounts import issue_token, partner_by_code
from tests.fuzz.conftest import FUZZ, Service, assert_handled, stored
from tests.fuzz.strategies import HEADER_VALUES, any_body

CHANGES = [
    {"status": "accepted"},
    {"status": "shipping", "tracking_number": "VN123"},
    {"status": "rejected", "note": "x"},
]
CODES = st.sampled_from(["DH7K2M9Q", "dh7k2m9q", " DH7K2M9Q "]) | HEADER_VALUES.filter(lambda code: "/" not in code)


@FUZZ
@given(body=st.sampled_from(CHANGES).flatmap(any_body), code=CODES)
async def test_a_status_change_with_bad_input_is_refused_and_changes_nothing(service: Service, body: bytes, code: str):
    async with service.sessions.begin() as session:
        partner = await partner_by_code(session, "TM-PHANTHIET")
        assert partner is not None
        token = await issue_token(session, partner)
    before = await stored(service)
    response = await service.client.post(
        f"/api/v1/orders/{code or 'DH'}/status", data=body, headers={"Authorization": f"Bearer {token}"}
    )
    await assert_handled(response, service, before)
    assert response.status != 200
