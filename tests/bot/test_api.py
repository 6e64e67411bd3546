"""The JSON API's contracts: public products, orders behind the admin bearer token, and the health check."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web

from bot import api
from bot.app import create_app
from bot.db import make_engine, make_sessionmaker
from bot.keys import SESSIONS
from tests.conftest import ADMIN_TOKEN, joined, settings_for_tests

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")
PRODUCT_KEYS = {"sku", "name", "cooperative", "unit", "price", "stock", "certifications", "ocop_stars"}
ORDER_KEYS = {
    "checkout_code",
    "tracking_number",
    "code",
    "status",
    "payment_method",
    "payment_status",
    "buyer",
    "lines",
    "subtotal",
    "shipping_fee",
    "total",
    "partner",
    "created_at",
    "events",
}
LINE_KEYS = {"sku", "name", "quantity", "unit", "unit_price", "amount"}
EVENT_KEYS = {"at", "from", "to", "by", "note"}
DEMO_SKUS = {
    "TL-RD-HD",
    "TL-RT-HD",
    "TL-RT-TT",
    "TL-HC-PH",
    "TL-HOP-HL",
    "RAU-MUONG-TP",
    "RAU-CAINGOT-TP",
    "RAU-CACHUA-TP",
    "RAU-XALACH-TP",
}


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def place_order(chat, session_id: str = "s1") -> str:
    """An order of 1.5 kg tomatoes (45 000 đ) placed through the web chat; returns its code."""
    await chat(session_id, text="mua 1 ký rưỡi cà chua, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết")
    await chat(session_id, payload="pay:cod")
    code = CODE.search(joined(await chat(session_id, payload="confirm")))
    assert code, "the order was not placed"
    return code.group(0)


async def assert_json_error(response, status: int) -> None:
    assert response.status == status
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]


# --- Products --------------------------------------------------------------------------------------------------


async def test_products_lists_the_nine_demo_products_in_the_contract_shape(client):
    response = await client.get("/api/v1/products")
    assert response.status == 200 and response.content_type == "application/json"
    products = await response.json()
    assert len(products) == 9
    assert {p["sku"] for p in products} == DEMO_SKUS
    for product in products:
        assert set(product) == PRODUCT_KEYS
        assert set(product["cooperative"]) == {"code", "name"}
        assert is_int(product["price"]) and product["price"] > 0
        assert isinstance(product["stock"], int | float) and not isinstance(product["stock"], bool)
        assert isinstance(product["certifications"], list)
        assert product["ocop_stars"] is None or is_int(product["ocop_stars"])


async def test_the_gift_box_has_its_unit_price_stock_certification_and_ocop_stars(client):
    products = await (await client.get("/api/v1/products")).json()
    box = next(p for p in products if p["sku"] == "TL-HOP-HL")
    assert box == {
        "sku": "TL-HOP-HL",
        "name": "Hộp quà thanh long Hòa Lễ 5 kg",
        "cooperative": {"code": "HOALE", "name": "HTX Thanh long Hòa Lễ"},
        "unit": "hộp",
        "price": 250000,
        "stock": 120,
        "certifications": ["VietGAP"],
        "ocop_stars": 4,
    }
    assert is_int(box["price"]) and is_int(box["stock"])


async def test_one_product_by_sku_is_the_same_as_in_the_list(client):
    products = await (await client.get("/api/v1/products")).json()
    response = await client.get("/api/v1/products/TL-HOP-HL")
    assert response.status == 200
    assert await response.json() == next(p for p in products if p["sku"] == "TL-HOP-HL")


async def test_products_need_no_token(client):
    response = await client.get("/api/v1/products/TL-RD-HD", headers={"Authorization": "Bearer wrong"})
    assert response.status == 200
    assert (await response.json())["price"] == 35000


@pytest.mark.parametrize("sku", ["NOPE", "tl-hop-hl-x", "%27%20OR%201%3D1"])
async def test_an_unknown_sku_is_a_json_404(client, sku):
    await assert_json_error(await client.get(f"/api/v1/products/{sku}"), 404)


# --- Orders: the token -----------------------------------------------------------------------------------------

WRONG_HEADERS = {
    "no token": {},
    "wrong token": {"Authorization": "Bearer wrong-token"},
    "token without Bearer": {"Authorization": ADMIN_TOKEN},
    "other scheme": {"Authorization": f"Basic {ADMIN_TOKEN}"},
    "token with a suffix": {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    "empty bearer": {"Authorization": "Bearer "},
}


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/orders/DH000000"])
@pytest.mark.parametrize("headers", WRONG_HEADERS.values(), ids=WRONG_HEADERS.keys())
async def test_orders_refuse_a_missing_or_wrong_token(client, chat, path, headers):
    await place_order(chat)
    await assert_json_error(await client.get(path, headers=headers), 401)


@pytest.mark.parametrize("token", [None, ""])
@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/orders/DH000000"])
async def test_orders_are_off_when_the_app_has_no_admin_token(aiohttp_client, engine, token, path):
    settings = settings_for_tests(admin_token=token)
    assert settings.admin_token == token
    client = await aiohttp_client(create_app(settings, engine=engine))
    for headers in [{}, AUTH, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}]:
        await assert_json_error(await client.get(path, headers=headers), 401)


# --- Orders: the contract --------------------------------------------------------------------------------------


async def test_an_order_placed_in_the_chat_in_the_contract_shape(client, chat):
    code = await place_order(chat)
    response = await client.get(f"/api/v1/orders/{code}", headers=AUTH)
    assert response.status == 200 and response.content_type == "application/json"
    order = await response.json()
    assert set(order) == ORDER_KEYS
    assert re.fullmatch(r"DH[0-9A-Z]{6}", order["code"]) and order["code"] == code
    assert (order["status"], order["payment_method"], order["payment_status"]) == ("routed", "cod", "unpaid")
    assert order["buyer"] == {
        "name": "Lan",
        "phone": "0912345678",
        "address": "12 Nguyễn Tất Thành, Phan Thiết",
        "province": "Lâm Đồng",
        "ward": None,
    }
    [line] = order["lines"]
    assert set(line) == LINE_KEYS
    assert line == {
        "sku": "RAU-CACHUA-TP",
        "name": "Cà chua",
        "quantity": 1.5,
        "unit": "kg",
        "unit_price": 30000,
        "amount": 45000,
    }
    assert isinstance(line["quantity"], float)
    assert all(is_int(line[k]) for k in ("unit_price", "amount"))
    assert (order["subtotal"], order["shipping_fee"], order["total"]) == (45000, 15000, 60000)
    assert all(is_int(order[k]) for k in ("subtotal", "shipping_fee", "total"))
    assert order["partner"] == {"code": "TM-PHANTHIET", "name": "HTX Thương mại Dịch vụ Phan Thiết"}
    placed, routed = order["events"]
    assert set(placed) == set(routed) == EVENT_KEYS
    assert (placed["from"], placed["to"], placed["by"]) == (None, "new", "buyer")
    assert (routed["from"], routed["to"], routed["by"], routed["note"]) == ("new", "routed", "system", "TM-PHANTHIET")
    event = placed
    assert isinstance(event["note"], str | None)
    datetime.fromisoformat(order["created_at"])
    datetime.fromisoformat(event["at"])


async def test_the_raw_json_keeps_quantity_a_number_and_money_integers(client, chat):
    code = await place_order(chat)
    raw = await (await client.get(f"/api/v1/orders/{code}", headers=AUTH)).text()
    assert re.search(r'"quantity": 1\.5[,}]', raw)
    assert re.search(r'"amount": 45000[,}]', raw)
    assert re.search(r'"total": 60000[,}]', raw)


async def test_order_timestamps_carry_a_timezone(client, chat):
    code = await place_order(chat)
    order = await (await client.get(f"/api/v1/orders/{code}", headers=AUTH)).json()
    for stamp in [order["created_at"], *(e["at"] for e in order["events"])]:
        assert datetime.fromisoformat(stamp).utcoffset() is not None, stamp


async def test_an_order_code_is_found_in_any_case(client, chat):
    code = await place_order(chat)
    response = await client.get(f"/api/v1/orders/{code.lower()}", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["code"] == code


async def test_orders_list_newest_first_with_limit_and_offset(client, chat):
    older = await place_order(chat, "buyer-a")
    newer = await place_order(chat, "buyer-b")
    listed = await (await client.get("/api/v1/orders", headers=AUTH)).json()
    assert [o["code"] for o in listed] == [newer, older]
    assert all(set(o) == ORDER_KEYS for o in listed)
    first = await (await client.get("/api/v1/orders?limit=1", headers=AUTH)).json()
    assert [o["code"] for o in first] == [newer]
    second = await (await client.get("/api/v1/orders?limit=1&offset=1", headers=AUTH)).json()
    assert [o["code"] for o in second] == [older]


async def test_orders_list_is_empty_before_any_order(client):
    response = await client.get("/api/v1/orders", headers=AUTH)
    assert response.status == 200
    assert await response.json() == []


@pytest.mark.parametrize("code", ["DH000000", "NOPE", "DH' OR '1'='1"])
async def test_an_unknown_order_code_is_a_json_404(client, chat, code):
    await place_order(chat)
    await assert_json_error(await client.get(f"/api/v1/orders/{code}", headers=AUTH), 404)


@pytest.mark.parametrize("query", ["limit=abc", "offset=x", "limit=1.5", "limit=", "offset=1e3", "limit=%00"])
async def test_garbage_limit_or_offset_is_a_json_400(client, query):
    await assert_json_error(await client.get(f"/api/v1/orders?{query}", headers=AUTH), 400)


async def test_an_offset_beyond_any_database_integer_is_an_empty_page(client, chat):
    await place_order(chat)
    response = await client.get(f"/api/v1/orders?offset={10**32}", headers=AUTH)
    assert response.status == 200 and await response.json() == []


# --- Health ----------------------------------------------------------------------------------------------------


async def test_healthz_reports_the_database_ok(client):
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("where", ["postgresql", "sqlite"])
async def test_healthz_is_503_when_the_database_is_unreachable(aiohttp_client, tmp_path: Path, where):
    """The real `healthz` handler on an app whose sessions point at a database that cannot be reached."""
    url = {
        "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:1/none",
        "sqlite": f"sqlite+aiosqlite:///{tmp_path}/no/such/directory/htx.db",
    }[where]
    engine = make_engine(url)
    app = web.Application()
    app[SESSIONS] = make_sessionmaker(engine)
    app.add_routes(api.routes())
    try:
        client = await aiohttp_client(app)
        response = await client.get("/healthz")
        assert response.status == 503
        assert response.content_type == "application/json"
        body = await response.json()
        assert body["status"] != "ok" and body["database"] != "ok"
    finally:
        await engine.dispose()
