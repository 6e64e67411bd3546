"""The partner API: partners see and move on only their own orders, and the OpenAPI document matches every answer.

Every call goes through `call`, which checks the answer against the schema the document gives for that route,
method and status code, so an undocumented field, status code or shape fails the test that met it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import openapi
from bot.api import STATUSES
from bot.models import OutboundMessage
from orders.lifecycle import PARTNER_ACTIONS
from orders.models import Order, OrderEvent
from orders.partner_accounts import issue_token, partner_by_code, revoke_tokens
from tests.conftest import ADMIN_TOKEN, joined

DOC = openapi.document()
CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")
PHANTHIET, SAIGON, TOANQUOC = "TM-PHANTHIET", "TM-SAIGON", "TM-TOANQUOC"
# 1.5 kg tomatoes (45 000 đ) to Phan Thiết (Lâm Đồng): only TM-PHANTHIET takes it.
TOMATOES_PHAN_THIET = "mua 1 ký rưỡi cà chua, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết"
# 2 kg tomatoes (60 000 đ) to Hồ Chí Minh: TM-SAIGON.
TOMATOES_SAIGON = "mua 2 ký cà chua, tên Minh, sđt 0987654321, giao 15 Lê Lợi, Bến Thành, Hồ Chí Minh"
# 3 kg red dragon fruit (105 000 đ) to Phan Thiết: TM-PHANTHIET first, TM-TOANQUOC when it rejects.
DRAGON_FRUIT_PHAN_THIET = (
    "mua 3 ký thanh long ruột đỏ Hàm Đức, tên Hoa, sđt 0911222333, giao 12 Nguyễn Tất Thành, Phan Thiết"
)


# --- Helpers -------------------------------------------------------------------------------------------------------

TEMPLATES = [(re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path) for path in DOC["paths"]]


def documented(path: str, method: str, status: int) -> dict[str, Any]:
    """The schema the document gives for this answer; fails when the route or the status code is undocumented."""
    template = next((t for pattern, t in TEMPLATES if pattern.match(path)), None)
    assert template, f"{path} is not in the OpenAPI document"
    responses = DOC["paths"][template][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {template} answered {status}, which is not documented"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    # `#/components/...` references resolve against this root.
    return {**schema, "components": DOC["components"]}


async def call(client: TestClient, method: str, path: str, token: str | None = None, **kwargs: Any) -> tuple[int, Any]:
    """One request; asserts a JSON answer valid against the document, and returns its status and body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.request(method, path, headers=headers, **kwargs)
    assert response.content_type == "application/json", await response.text()
    body = await response.json()
    schema = documented(path.split("?")[0], method.lower(), response.status)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(body)
    return response.status, body


async def place(chat, session_id: str, text: str) -> str:
    """An order placed through the web chat; returns its code."""
    await chat(session_id, text=text)
    await chat(session_id, payload="pay:cod")
    code = CODE.search(joined(await chat(session_id, payload="confirm")))
    assert code, "the order was not placed"
    return code.group(0)


async def token_of(sessions: async_sessionmaker[AsyncSession], code: str) -> str:
    """A new API token of a demo partner."""
    async with sessions.begin() as session:
        partner = await partner_by_code(session, code)
        assert partner is not None
        return await issue_token(session, partner)


async def events_of(sessions: async_sessionmaker[AsyncSession], code: str, to: str | None = None) -> int:
    """How many events the order has (of that status only, when given), straight from the database."""
    where = [Order.code == code] + ([OrderEvent.to_status == to] if to else [])
    query = select(func.count()).select_from(OrderEvent).join(Order, Order.id == OrderEvent.order_id).where(*where)
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


async def change(client: TestClient, token: str, code: str, **body: Any) -> tuple[int, Any]:
    return await call(client, "POST", f"/api/v1/orders/{code}/status", token, json=body)


async def admin_view(client: TestClient, code: str) -> dict[str, Any]:
    status, order = await call(client, "GET", f"/api/v1/orders/{code}", ADMIN_TOKEN)
    assert status == 200
    return order


@pytest.fixture
async def tokens(sessions) -> dict[str, str]:
    """An API token for each demo partner."""
    return {code: await token_of(sessions, code) for code in (PHANTHIET, SAIGON, TOANQUOC)}


# --- The document --------------------------------------------------------------------------------------------------


async def test_the_openapi_document_is_valid_openapi_3_1_and_served_as_built(client):
    status, served = await call(client, "GET", "/api/v1/openapi.json")
    assert status == 200
    assert served == DOC
    assert served["openapi"].startswith("3.1")
    validate_openapi(served)


async def test_the_document_describes_every_api_route_and_nothing_else(client):
    routes = {
        (route.resource.canonical, route.method.lower())
        for route in client.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/v1/") and route.method != "HEAD"
    }
    documented_routes = {(path, method) for path, operations in DOC["paths"].items() for method in operations}
    assert routes == documented_routes


def test_the_documented_statuses_are_the_life_cycle_s():
    schemas = DOC["components"]["schemas"]
    assert set(schemas["OrderStatus"]["enum"]) == STATUSES
    assert set(schemas["PartnerAction"]["enum"]) == set(PARTNER_ACTIONS)
    assert {s.value for s in openapi.OrderStatus} == STATUSES


def test_orders_are_behind_the_bearer_scheme_and_products_public():
    bearer = DOC["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert DOC["security"] == [{"bearer": []}]
    for path, operations in DOC["paths"].items():
        for operation in operations.values():
            public = path.startswith("/api/v1/products") or path == "/api/v1/openapi.json"
            assert (operation.get("security") == []) == public, path
            if not public:
                assert "401" in operation["responses"], path


async def test_products_and_admin_orders_match_the_document(client, chat):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    assert (await call(client, "GET", "/api/v1/products"))[0] == 200
    assert (await call(client, "GET", "/api/v1/products/TL-HOP-HL"))[0] == 200
    assert (await call(client, "GET", "/api/v1/products/NOPE"))[0] == 404
    assert (await call(client, "GET", "/api/v1/orders", ADMIN_TOKEN))[0] == 200
    assert (await call(client, "GET", "/api/v1/orders?status=routed&limit=5", ADMIN_TOKEN))[0] == 200
    assert (await call(client, "GET", f"/api/v1/orders/{code}", ADMIN_TOKEN))[0] == 200
    assert (await call(client, "GET", "/api/v1/orders/DH000000", ADMIN_TOKEN))[0] == 404
    assert (await call(client, "GET", "/api/v1/orders?limit=x", ADMIN_TOKEN))[0] == 400
    assert (await call(client, "GET", "/api/v1/orders"))[0] == 401


def test_a_drifted_answer_fails_the_document():
    """The check `call` makes is strict: an extra field, a missing one or an unknown status is refused."""
    schema = documented("/api/v1/orders/DH000000/status", "post", 409)
    good = {"error": "no", "status": "routed", "allowed": ["accepted", "rejected"]}
    assert Draft202012Validator(schema).is_valid(good)
    assert not Draft202012Validator(schema).is_valid({**good, "extra": 1})
    assert not Draft202012Validator(schema).is_valid({"error": "no", "status": "routed"})
    assert not Draft202012Validator(schema).is_valid({**good, "status": "lost"})


# --- Partners see only their own orders ---------------------------------------------------------------------------


async def test_a_partner_lists_only_its_own_orders(client, chat, tokens):
    mine = await place(chat, "buyer-a", TOMATOES_PHAN_THIET)
    theirs = await place(chat, "buyer-b", TOMATOES_SAIGON)
    assert (await admin_view(client, theirs))["partner"]["code"] == SAIGON
    status, listed = await call(client, "GET", "/api/v1/orders", tokens[PHANTHIET])
    assert status == 200 and [o["code"] for o in listed] == [mine]
    status, listed = await call(client, "GET", "/api/v1/orders", tokens[SAIGON])
    assert status == 200 and [o["code"] for o in listed] == [theirs]
    status, listed = await call(client, "GET", "/api/v1/orders", tokens[TOANQUOC])
    assert status == 200 and listed == []
    status, everything = await call(client, "GET", "/api/v1/orders", ADMIN_TOKEN)
    assert status == 200 and [o["code"] for o in everything] == [theirs, mine]


async def test_a_partner_gets_its_order_but_another_partners_order_is_an_unknown_code(client, chat, tokens):
    mine = await place(chat, "buyer-a", TOMATOES_PHAN_THIET)
    theirs = await place(chat, "buyer-b", TOMATOES_SAIGON)
    status, order = await call(client, "GET", f"/api/v1/orders/{mine.lower()}", tokens[PHANTHIET])
    assert status == 200 and order["code"] == mine and order["partner"]["code"] == PHANTHIET
    unknown = await client.get("/api/v1/orders/DH000000", headers={"Authorization": f"Bearer {tokens[PHANTHIET]}"})
    other = await client.get(f"/api/v1/orders/{theirs}", headers={"Authorization": f"Bearer {tokens[PHANTHIET]}"})
    assert other.status == unknown.status == 404
    assert await other.read() == await unknown.read()


async def test_a_partner_cannot_change_another_partners_order(client, chat, tokens):
    theirs = await place(chat, "buyer-b", TOMATOES_SAIGON)
    path = f"/api/v1/orders/{theirs}/status"
    headers = {"Authorization": f"Bearer {tokens[PHANTHIET]}"}
    for body in [{"status": "accepted"}, {"status": "rejected", "note": "không giao được"}]:
        other = await client.post(path, json=body, headers=headers)
        unknown = await client.post("/api/v1/orders/DH000000/status", json=body, headers=headers)
        assert other.status == unknown.status == 404
        assert await other.read() == await unknown.read()
    assert (await call(client, "POST", path, tokens[PHANTHIET], json={"status": "accepted"}))[0] == 404
    order = await admin_view(client, theirs)
    assert (order["status"], order["partner"]["code"], len(order["events"])) == ("routed", SAIGON, 2)


async def test_the_status_filter_lists_only_those_statuses(client, chat, tokens):
    first = await place(chat, "buyer-a", TOMATOES_PHAN_THIET)
    second = await place(chat, "buyer-b", TOMATOES_PHAN_THIET)
    token = tokens[PHANTHIET]
    assert (await change(client, token, first, status="accepted"))[0] == 200

    async def listed(query: str) -> list[str]:
        status, orders = await call(client, "GET", f"/api/v1/orders{query}", token)
        assert status == 200
        return [o["code"] for o in orders]

    assert await listed("?status=accepted") == [first]
    assert await listed("?status=routed") == [second]
    assert await listed("?status=routed,accepted") == [second, first]
    assert await listed("?status=routed&status=accepted") == [second, first]
    assert await listed("?status=delivered") == []
    assert await listed("") == [second, first]  # the default: what the partner has to act on
    assert await listed("?status=routed,accepted&limit=1&offset=1") == [first]


@pytest.mark.parametrize("query", ["status=nope", "status=routed,nope", "status=ROUTED", "status=routed;accepted"])
async def test_an_unknown_status_in_the_filter_is_a_400(client, tokens, query):
    for token in (tokens[PHANTHIET], ADMIN_TOKEN):
        status, body = await call(client, "GET", f"/api/v1/orders?{query}", token)
        assert status == 400 and "status" in body["error"]


# --- Moving an order on --------------------------------------------------------------------------------------------


async def test_accepting_changes_the_order_once_and_a_retry_changes_nothing(client, chat, sessions, tokens):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    status, body = await change(client, tokens[PHANTHIET], code, status="accepted", note="nhận đơn")
    assert status == 200 and body["changed"] is True
    assert body["order"]["status"] == "accepted"
    assert (body["order"]["events"][-1]["to"], body["order"]["events"][-1]["by"]) == (
        "accepted",
        f"partner:{PHANTHIET}",
    )
    status, again = await change(client, tokens[PHANTHIET], code, status="accepted", note="nhận đơn")
    assert status == 200 and again["changed"] is False
    assert again["order"] == body["order"]
    assert await events_of(sessions, code, "accepted") == 1
    assert (await admin_view(client, code))["status"] == "accepted"


async def announced_to_buyer(sessions: async_sessionmaker[AsyncSession], code: str, chat_id: str) -> int:
    """Once every event of the order is announced (waiting up to 5 s), how many updates its buyer was sent."""
    for _ in range(100):
        async with sessions() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(OrderEvent)
                .join(Order, Order.id == OrderEvent.order_id)
                .where(Order.code == code, OrderEvent.announced.is_(False))
            )
            sent = await session.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .where(OutboundMessage.chat_id == chat_id, OutboundMessage.proactive.is_(True))
            )
        if not pending:
            return int(sent or 0)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the events of {code} were not announced")


async def test_the_buyer_is_told_when_a_partner_accepts(client, chat, sessions, tokens):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    before = await announced_to_buyer(sessions, code, "buyer")
    assert (await change(client, tokens[PHANTHIET], code, status="accepted"))[0] == 200
    assert await announced_to_buyer(sessions, code, "buyer") == before + 1
    # A retry changes nothing, so it tells nobody anything.
    assert (await change(client, tokens[PHANTHIET], code, status="accepted"))[1]["changed"] is False
    assert await announced_to_buyer(sessions, code, "buyer") == before + 1


async def test_shipping_keeps_the_tracking_number(client, chat, tokens):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    token = tokens[PHANTHIET]
    assert (await change(client, token, code, status="accepted"))[0] == 200
    status, body = await change(client, token, code, status="shipping", tracking_number="GHN123456")
    assert status == 200 and body["changed"] is True
    assert (body["order"]["status"], body["order"]["tracking_number"]) == ("shipping", "GHN123456")


async def test_rejecting_routes_the_order_on_and_the_rejecter_sees_only_its_part(client, chat, sessions, tokens):
    code = await place(chat, "buyer", DRAGON_FRUIT_PHAN_THIET)
    assert (await admin_view(client, code))["partner"]["code"] == PHANTHIET
    status, body = await change(client, tokens[PHANTHIET], code, status="rejected", note="hết xe giao")
    assert status == 200 and body["changed"] is True
    view = body["order"]
    assert (view["status"], view["partner"], view["tracking_number"]) == ("rejected", None, None)
    assert [(e["from"], e["to"]) for e in view["events"]] == [("new", "routed"), ("routed", "rejected")]
    # It went to the next partner, who sees it and can accept it.
    order = await admin_view(client, code)
    assert (order["status"], order["partner"]["code"]) == ("routed", TOANQUOC)
    status, listed = await call(client, "GET", "/api/v1/orders", tokens[TOANQUOC])
    assert status == 200 and [o["code"] for o in listed] == [code]
    # The rejecter still gets it, as rejected, and never learns where it went.
    raw = await client.get(f"/api/v1/orders/{code}", headers={"Authorization": f"Bearer {tokens[PHANTHIET]}"})
    assert raw.status == 200
    text = await raw.text()
    assert TOANQUOC not in text and "Nông sản Việt" not in text
    assert (await raw.json())["status"] == "rejected"
    assert (await call(client, "GET", "/api/v1/orders?status=routed,rejected", tokens[PHANTHIET]))[1] == []
    # Rejecting again is a safe retry.
    events = await events_of(sessions, code)
    status, again = await change(client, tokens[PHANTHIET], code, status="rejected", note="hết xe giao")
    assert status == 200 and again["changed"] is False and again["order"] == view
    assert await events_of(sessions, code) == events
    # Anything else is refused: the order is no longer its to move.
    status, refused = await change(client, tokens[PHANTHIET], code, status="accepted")
    assert status == 409 and (refused["status"], refused["allowed"]) == ("rejected", [])
    assert TOANQUOC not in refused["error"]
    assert await events_of(sessions, code) == events
    # The next partner takes it.
    status, taken = await change(client, tokens[TOANQUOC], code, status="accepted")
    assert status == 200 and taken["changed"] is True and taken["order"]["partner"]["code"] == TOANQUOC
    assert [e["to"] for e in taken["order"]["events"]] == ["routed", "accepted"]


async def test_the_last_partner_rejecting_escalates_the_order(client, chat, tokens):
    code = await place(chat, "buyer", DRAGON_FRUIT_PHAN_THIET)
    assert (await change(client, tokens[PHANTHIET], code, status="rejected", note="hết xe"))[0] == 200
    status, body = await change(client, tokens[TOANQUOC], code, status="rejected", note="quá xa")
    assert status == 200 and body["order"]["status"] == "rejected"
    assert (await admin_view(client, code))["status"] == "escalated"


# From each status: what a partner may set (the walk goes on with the first), everything else is a 409.
WALK = [
    ("routed", ["accepted", "rejected"]),
    ("accepted", ["shipping"]),
    ("shipping", ["failed", "delivered"]),
    ("failed", ["shipping", "returned"]),
    ("shipping", ["delivered", "failed"]),
    ("delivered", []),
]


async def test_every_refused_transition_is_a_409_naming_the_allowed_statuses(client, chat, sessions, tokens):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    token = tokens[PHANTHIET]
    for current, allowed in WALK:
        events = await events_of(sessions, code)
        for to in PARTNER_ACTIONS:
            if to in allowed or to == current:
                continue
            note = {"note": "lý do"} if to in ("rejected", "failed") else {}
            status, refused = await change(client, token, code, status=to, **note)
            assert status == 409, (current, to)
            assert refused["status"] == current
            assert sorted(refused["allowed"]) == sorted(allowed)
            assert current in refused["error"] and to in refused["error"]
        assert await events_of(sessions, code) == events
        if allowed:
            note = {"note": "khách không nghe máy"} if allowed[0] == "failed" else {}
            status, body = await change(client, token, code, status=allowed[0], **note)
            assert status == 200 and body["changed"] and body["order"]["status"] == allowed[0]


async def test_a_returned_order_is_final(client, chat, tokens):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    token = tokens[PHANTHIET]
    for step in [{"status": "accepted"}, {"status": "shipping"}, {"status": "failed", "note": "sai địa chỉ"}]:
        assert (await change(client, token, code, **step))[0] == 200
    assert (await change(client, token, code, status="returned"))[1]["changed"] is True
    status, refused = await change(client, token, code, status="shipping")
    assert status == 409 and (refused["status"], refused["allowed"]) == ("returned", [])


@pytest.mark.parametrize("note", [None, "", "   "])
async def test_rejecting_without_a_note_is_a_400(client, chat, sessions, tokens, note):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    body = {"status": "rejected"} | ({} if note is None else {"note": note})
    status, answer = await change(client, tokens[PHANTHIET], code, **body)
    assert status == 400 and "note" in answer["error"]
    assert (await admin_view(client, code))["status"] == "routed"
    assert await events_of(sessions, code, "rejected") == 0


async def test_reporting_a_failed_delivery_without_a_note_is_a_400(client, chat, tokens):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    token = tokens[PHANTHIET]
    for step in ["accepted", "shipping"]:
        assert (await change(client, token, code, status=step))[0] == 200
    status, answer = await change(client, token, code, status="failed")
    assert status == 400 and "note" in answer["error"]
    assert (await admin_view(client, code))["status"] == "shipping"


BAD_BODIES: dict[str, Any] = {
    "not JSON": {"data": b"accept it"},
    "empty": {"data": b""},
    "a list": {"json": ["accepted"]},
    "a status partners cannot set": {"json": {"status": "routed"}},
    "an unknown status": {"json": {"status": "lost"}},
    "a number for status": {"json": {"status": 1}},
    "no status": {"json": {"note": "ok"}},
    "an extra field": {"json": {"status": "accepted", "partner": "TM-SAIGON"}},
    "a note too long": {"json": {"status": "accepted", "note": "x" * (openapi.NOTE_MAX + 1)}},
    "a tracking number too long": {"json": {"status": "shipping", "tracking_number": "x" * 65}},
    "a tracking number without shipping": {"json": {"status": "accepted", "tracking_number": "GHN1"}},
    "a null note": {"json": {"status": "accepted", "note": None}},
    "a rejection without a note": {"json": {"status": "rejected"}},
    "a failed delivery with a blank note": {"json": {"status": "failed", "note": "  "}},
}
GOOD_BODIES = [
    {"status": "accepted"},
    {"status": "rejected", "note": "hết xe hôm nay"},
    {"status": "failed", "note": "không liên lạc được"},
    {"status": "shipping", "tracking_number": "GHN1"},
    {"status": "delivered", "tracking_number": None, "note": ""},
]


def test_the_documented_request_schema_takes_and_refuses_the_bodies_the_api_does():
    schema = {"$ref": "#/components/schemas/StatusChange", "components": DOC["components"]}
    validator = Draft202012Validator(schema)
    for body in GOOD_BODIES:
        assert validator.is_valid(body) and openapi.StatusChange.model_validate(body), body
    refused = [kwargs["json"] for kwargs in BAD_BODIES.values() if "json" in kwargs]
    accepted_by_the_schema = [body for body in refused if validator.is_valid(body)]
    assert accepted_by_the_schema == [], accepted_by_the_schema


@pytest.mark.parametrize("request_kwargs", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_a_bad_body_is_a_json_400_and_changes_nothing(client, chat, sessions, tokens, request_kwargs):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    events = await events_of(sessions, code)
    status, body = await call(client, "POST", f"/api/v1/orders/{code}/status", tokens[PHANTHIET], **request_kwargs)
    assert status == 400 and body["error"]
    assert await events_of(sessions, code) == events


# --- Tokens --------------------------------------------------------------------------------------------------------


async def test_the_admin_token_still_reads_every_order_but_cannot_change_one(client, chat, sessions):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    order = await admin_view(client, code)
    assert order["partner"]["code"] == PHANTHIET and len(order["events"]) == 2
    status, body = await change(client, ADMIN_TOKEN, code, status="accepted")
    assert status == 403 and body["error"]
    assert await admin_view(client, code) == order


async def test_a_revoked_token_is_refused(client, chat, sessions, tokens):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    token = tokens[PHANTHIET]
    assert (await call(client, "GET", "/api/v1/orders", token))[0] == 200
    async with sessions.begin() as session:
        partner = await partner_by_code(session, PHANTHIET)
        assert partner is not None
        assert await revoke_tokens(session, partner) == 1
    for method, path, kwargs in [
        ("GET", "/api/v1/orders", {}),
        ("GET", f"/api/v1/orders/{code}", {}),
        ("POST", f"/api/v1/orders/{code}/status", {"json": {"status": "accepted"}}),
    ]:
        status, body = await call(client, method, path, token, **kwargs)
        assert status == 401 and body["error"]
    assert (await admin_view(client, code))["status"] == "routed"
    # Another partner's token still works, and a new token of the same partner does.
    assert (await call(client, "GET", "/api/v1/orders", tokens[SAIGON]))[0] == 200
    assert (await call(client, "GET", "/api/v1/orders", await token_of(sessions, PHANTHIET)))[0] == 200


WRONG_TOKENS = {
    "none": None,
    "unknown partner token": "htxp_" + "A" * 43,
    "a partner token cut short": "CUT",
    "the admin token with a suffix": ADMIN_TOKEN + "x",
}


@pytest.mark.parametrize("token", WRONG_TOKENS.values(), ids=WRONG_TOKENS.keys())
async def test_changing_an_order_without_a_valid_token_is_a_401(client, chat, tokens, token):
    code = await place(chat, "buyer", TOMATOES_PHAN_THIET)
    if token == "CUT":
        token = tokens[PHANTHIET][:-1]
    response = await client.post(
        f"/api/v1/orders/{code}/status",
        json={"status": "accepted"},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    Draft202012Validator(documented(f"/api/v1/orders/{code}/status", "post", 401)).validate(await response.json())
    assert (await admin_view(client, code))["status"] == "routed"


async def test_a_partner_token_works_when_the_admin_api_is_off(aiohttp_client, engine, chat, sessions):
    from bot.app import create_app
    from tests.conftest import settings_for_tests

    client = await aiohttp_client(create_app(settings_for_tests(admin_token=None), engine=engine))
    token = await token_of(sessions, PHANTHIET)
    assert (await call(client, "GET", "/api/v1/orders", token))[0] == 200
    assert (await call(client, "GET", "/api/v1/orders", ADMIN_TOKEN))[0] == 401
