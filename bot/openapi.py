"""The JSON API's shapes as pydantic models, and the OpenAPI 3.1 document generated from them.

The handlers in bot/api.py validate requests with these models; tests/bot/test_partner_api.py checks every
response the running app gives against this document, so the document cannot drift from the API.
https://spec.openapis.org/oas/v3.1.0 · https://docs.pydantic.dev/latest/concepts/json_schema/
"""

from __future__ import annotations

import copy
import functools
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from orders import status as st

# The largest `offset` of a listing (a PostgreSQL OFFSET is a 64-bit integer; no listing is anywhere near this).
MAX_OFFSET = 2**31 - 1

SCHEMAS = "#/components/schemas/{model}"
NOTE_MAX = 500
TRACKING_MAX = 64  # orders.tracking_number is String(64)


class OrderStatus(StrEnum):
    """Every status an order can have."""

    NEW = st.NEW
    ROUTED = st.ROUTED
    ACCEPTED = st.ACCEPTED
    SHIPPING = st.SHIPPING
    DELIVERED = st.DELIVERED
    FAILED = st.FAILED
    RETURNED = st.RETURNED
    CANCELLED = st.CANCELLED
    REJECTED = st.REJECTED
    EXPIRED = st.EXPIRED
    ESCALATED = st.ESCALATED


class PartnerAction(StrEnum):
    """The statuses a partner may set."""

    ACCEPTED = st.ACCEPTED
    REJECTED = st.REJECTED
    SHIPPING = st.SHIPPING
    DELIVERED = st.DELIVERED
    FAILED = st.FAILED
    RETURNED = st.RETURNED


class Shape(BaseModel):
    """A response shape: every field required and no other field allowed, so the schema pins it down."""

    model_config = ConfigDict(extra="forbid")


class Cooperative(Shape):
    """The producer cooperative of a product."""

    code: str
    name: str


class Product(Shape):
    """A product of the public catalogue."""

    sku: str
    name: str
    cooperative: Cooperative
    unit: str
    price: int = Field(description="đồng per unit")
    stock: int | float
    certifications: list[str]
    ocop_stars: int | None


class Buyer(Shape):
    """Who receives the order, and where."""

    name: str
    phone: str
    address: str
    province: str | None
    ward: str | None


class OrderLine(Shape):
    """A snapshot of one product as ordered."""

    sku: str
    name: str
    quantity: int | float
    unit: str
    unit_price: int
    amount: int


class OrderPartner(Shape):
    """The partner trading cooperative delivering the order."""

    code: str
    name: str


class OrderEvent(Shape):
    """One status change of an order: when, from, to, by whom and why."""

    at: datetime
    from_: OrderStatus | None = Field(alias="from")
    to: OrderStatus
    by: str
    note: str


class Order(Shape):
    """An order. A partner sees only its own events, and an order it rejected or let expire as such."""

    code: str
    checkout_code: str
    status: OrderStatus
    payment_method: str
    payment_status: str
    buyer: Buyer
    lines: list[OrderLine]
    subtotal: int
    shipping_fee: int
    total: int
    partner: OrderPartner | None
    tracking_number: str | None
    created_at: datetime
    events: list[OrderEvent]


class Error(Shape):
    """What went wrong."""

    error: str


class StatusChange(BaseModel):
    """A partner moves its order on. A note is required to reject or to report a failed delivery."""

    # The two rules of `_consistent`, in the schema too (JSON Schema `if`/`then`), so clients and API tools see them.
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "allOf": [
                {
                    "if": {
                        "required": ["status"],
                        "properties": {"status": {"enum": [PartnerAction.REJECTED, PartnerAction.FAILED]}},
                    },
                    "then": {"required": ["note"], "properties": {"note": {"pattern": r"\S"}}},
                },
                {
                    "if": {"required": ["tracking_number"], "properties": {"tracking_number": {"type": "string"}}},
                    "then": {"properties": {"status": {"const": PartnerAction.SHIPPING}}},
                },
            ]
        },
    )

    status: PartnerAction
    note: str = Field("", max_length=NOTE_MAX, description="why; required for rejected and failed")
    tracking_number: str | None = Field(
        None, min_length=1, max_length=TRACKING_MAX, description="the carrier's number; only with shipping"
    )

    @model_validator(mode="after")
    def _consistent(self) -> StatusChange:
        if self.status in (PartnerAction.REJECTED, PartnerAction.FAILED) and not self.note:
            raise ValueError(f"a note is required for status {self.status}")
        if self.tracking_number is not None and self.status != PartnerAction.SHIPPING:
            raise ValueError("tracking_number goes with status shipping only")
        return self


class StatusChanged(Shape):
    """The order as the partner now sees it, and whether the request changed anything (retries do not)."""

    order: Order
    changed: bool


class TransitionRefused(Shape):
    """The order cannot move to the status asked: its status, and the statuses the partner may set from it."""

    error: str
    status: OrderStatus
    allowed: list[PartnerAction]


class OrdersQuery(BaseModel):
    """The query of `GET /api/v1/orders` (only its fields' schemas are used, as parameters)."""

    status: list[OrderStatus] = Field(
        default_factory=list,
        description="only orders in these statuses, comma-separated; a partner's default is the statuses it "
        "has to act on: " + ", ".join(sorted(st.AWAITING_PARTNER)),
    )
    limit: int = Field(100, ge=1, le=500, description="at most this many, newest first (clamped to 1-500)")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="skip this many (clamped to 0-2147483647)")


MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (Product, "serialization"),
    (Order, "serialization"),
    (Error, "serialization"),
    (StatusChanged, "serialization"),
    (TransitionRefused, "serialization"),
    (StatusChange, "validation"),
    (OrdersQuery, "validation"),
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMAS.format(model=model.__name__)}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "bad query or body",
        401: "missing, wrong or revoked bearer token",
        403: "this token may not do that",
        404: "no such thing (or not yours)",
    }
    return {str(code): _json(reasons[code], _ref(Error)) for code in codes}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


@functools.cache
def _document() -> dict[str, Any]:
    _, definitions = models_json_schema(MODELS, ref_template=SCHEMAS)
    schemas: dict[str, Any] = definitions["$defs"]
    query = schemas.pop(OrdersQuery.__name__)["properties"]
    parameters = [
        {"name": "status", "in": "query", "style": "form", "explode": False, "schema": query["status"]},
        {"name": "limit", "in": "query", "schema": query["limit"]},
        {"name": "offset", "in": "query", "schema": query["offset"]},
    ]
    for parameter in parameters:
        parameter["description"] = parameter["schema"].pop("description")
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    code = _path("code", "the order code, e.g. DH4K7Q2M (any case)")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "HTX Connect API",
            "version": "1",
            "description": "The public catalogue, and orders: all of them for the admin token, "
            "its own for a partner trading cooperative's token.",
        },
        "paths": {
            "/api/v1/products": {
                "get": {
                    "operationId": "listProducts",
                    "summary": "Every product of the catalogue (public)",
                    "security": [],
                    "responses": {"200": _json("the products", {"type": "array", "items": _ref(Product)})},
                }
            },
            "/api/v1/products/{sku}": {
                "get": {
                    "operationId": "getProduct",
                    "summary": "One product (public)",
                    "security": [],
                    "parameters": [_path("sku", "the product's SKU, e.g. TL-RD-HD")],
                    "responses": {"200": _json("the product", _ref(Product)), **_errors(404)},
                }
            },
            "/api/v1/orders": {
                "get": {
                    "operationId": "listOrders",
                    "summary": "Orders, newest first: all of them (admin) or the partner's own",
                    "parameters": parameters,
                    "responses": {
                        "200": _json("the orders", {"type": "array", "items": _ref(Order)}),
                        **_errors(400, 401),
                    },
                }
            },
            "/api/v1/orders/{code}": {
                "get": {
                    "operationId": "getOrder",
                    "summary": "One order; a partner gets 404 for any order that is not, and never was, its own",
                    "parameters": [code],
                    "responses": {"200": _json("the order", _ref(Order)), **_errors(401, 404)},
                }
            },
            "/api/v1/orders/{code}/status": {
                "post": {
                    "operationId": "changeOrderStatus",
                    "summary": "A partner moves its order on (the admin token gets 403); the same request "
                    "again changes nothing and answers 200 with changed false",
                    "parameters": [code],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(StatusChange)}},
                    },
                    "responses": {
                        "200": _json("the order after the change", _ref(StatusChanged)),
                        **_errors(400, 401, 403, 404),
                        "409": _json("the order's status does not allow that", _ref(TransitionRefused)),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document (public)",
                    "security": [],
                    "responses": {"200": _json("the OpenAPI document", {"type": "object"})},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the admin token (HTX_ADMIN_TOKEN), or a partner's token (htx partner token CODE)",
                }
            },
        },
        "security": bearer,
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every /api/v1 route (a copy: callers may change it)."""
    return copy.deepcopy(_document())
