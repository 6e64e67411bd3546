"""Every POST endpoint refuses a body over the limit with 413, whether announced by Content-Length or streamed,
and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from channels.base import MAX_BODY
from orders.partner_accounts import issue_token, partner_by_code
from tests.fuzz.conftest import (
    Service,
    assert_handled,
    casso_headers,
    messenger_headers,
    sepay_headers,
    stored,
    telegram_headers,
    zalo_headers,
)

BODY = b'{"text": "' + b"x" * MAX_BODY + b'"}'
PATHS = [
    "/web/chat",
    "/webhooks/telegram",
    "/webhooks/messenger",
    "/webhooks/zalo",
    "/webhooks/bank/sepay",
    "/webhooks/bank/casso",
    "/api/v1/orders/DH7K2M9Q/status",
]


async def headers_for(path: str, service: Service) -> dict[str, str]:
    """What a legitimate caller of `path` sends, so the refusal is for the size and nothing else."""
    match path:
        case "/webhooks/telegram":
            return telegram_headers()
        case "/webhooks/messenger":
            return messenger_headers(BODY)
        case "/webhooks/zalo":
            return zalo_headers(BODY, service)
        case "/webhooks/bank/sepay":
            return sepay_headers()
        case "/webhooks/bank/casso":
            return casso_headers(BODY)
        case "/api/v1/orders/DH7K2M9Q/status":
            async with service.sessions.begin() as session:
                partner = await partner_by_code(session, "TM-PHANTHIET")
                assert partner is not None
                return {"Authorization": f"Bearer {await issue_token(session, partner)}"}
    return {"Content-Type": "application/json"}


async def chunks() -> AsyncIterator[bytes]:
    """The body streamed without a Content-Length."""
    for start in range(0, len(BODY), 32 * 1024):
        yield BODY[start : start + 32 * 1024]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_refused_413(service: Service, path: str, streamed: bool):
    before = await stored(service)
    data = chunks() if streamed else BODY
    response = await service.client.post(path, data=data, headers=await headers_for(path, service))
    assert response.status == 413, await response.text()
    await assert_handled(response, service, before)
