"""Routing as a table: addresses × carts × partner rules give the parcels, fees and undeliverable lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.models import Partner
from orders.routing import Line, Plan, carries, covers, has_capacity, plan, shipping_fee

DAY = date(2025, 7, 1)
YESTERDAY = DAY - timedelta(days=1)
HCM, HANOI, LAM_DONG = "Hồ Chí Minh", "Hà Nội", "Lâm Đồng"

FRUIT = Line(1, "thanh long", 200_000)
VEG = Line(2, "rau", 60_000)
HERBS = Line(3, "rau", 30_000)
SMALL_FRUIT = Line(4, "thanh long", 80_000)


def partner(pid: int, code: str, fee: int = 30_000, **rules: Any) -> Partner:
    """A transient partner with every rule spelled out (column defaults only apply on insert)."""
    values: dict[str, Any] = {
        "provinces": [],
        "wards": [],
        "categories": [],
        "min_order": 0,
        "daily_capacity": None,
        "free_shipping_from": None,
        "accept_timeout_minutes": 120,
        "by_carrier": False,
        "active": True,
        "load_day": None,
        "load": 0,
    }
    values.update(rules)
    return Partner(id=pid, code=code, name=code, shipping_fee=fee, **values)


# The first issue's rules: fresh vegetables only within the region, dragon fruit anywhere by carrier.
VEG_HCM: dict[str, Any] = {"provinces": [HCM], "categories": ["rau"]}
FRUIT_NATIONWIDE: dict[str, Any] = {"categories": ["thanh long"], "by_carrier": True}


@dataclass(frozen=True)
class Case:
    lines: list[Line]
    partners: list[Partner]
    province: str | None = HCM
    ward: str | None = None
    exclude: frozenset[int] = frozenset()
    parcels: list[list[object]] = field(default_factory=list)  # Plan.signature(): [code, product ids, fee]
    undeliverable: tuple[int, ...] = ()


CASES = [
    pytest.param(
        Case([FRUIT, VEG], [partner(1, "A", 25_000)], parcels=[["A", [1, 2], 25_000]]),
        id="a single partner takes the whole cart",
    ),
    pytest.param(
        Case([FRUIT], [partner(1, "DEAR", 40_000), partner(2, "CHEAP", 25_000)], parcels=[["CHEAP", [1], 25_000]]),
        id="the cheapest fee wins",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "FLAT", 20_000), partner(2, "FREE", 30_000, free_shipping_from=150_000)],
            parcels=[["FREE", [1], 0]],
        ),
        id="a free-shipping threshold reached makes its partner the cheapest",
    ),
    pytest.param(
        Case(
            [SMALL_FRUIT],
            [partner(1, "FLAT", 20_000), partner(2, "FREE", 30_000, free_shipping_from=150_000)],
            parcels=[["FLAT", [4], 20_000]],
        ),
        id="below the free-shipping threshold the flat fee wins",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "BUSY", load_day=DAY, load=5), partner(2, "IDLE", load_day=DAY, load=2)],
            parcels=[["IDLE", [1], 30_000]],
        ),
        id="on equal fees the least loaded partner wins",
    ),
    pytest.param(
        Case([FRUIT], [partner(2, "B"), partner(1, "A")], parcels=[["A", [1], 30_000]]),
        id="on equal fees and loads the code decides, whatever the order partners come in",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "FULL", 10_000, daily_capacity=3, load_day=DAY, load=3), partner(2, "NEXT", 20_000)],
            parcels=[["NEXT", [1], 20_000]],
        ),
        id="a partner whose capacity is used up today gives way to the next",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "RESTED", 10_000, daily_capacity=3, load_day=YESTERDAY, load=3), partner(2, "NEXT", 20_000)],
            parcels=[["RESTED", [1], 10_000]],
        ),
        id="yesterday's load does not count today",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "BIGONLY", 10_000, min_order=300_000), partner(2, "ANY", 20_000)],
            parcels=[["ANY", [1], 20_000]],
        ),
        id="a partner whose minimum order is not reached is skipped",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "EXACT", 10_000, min_order=200_000), partner(2, "ANY", 20_000)],
            parcels=[["EXACT", [1], 10_000]],
        ),
        id="a minimum order reached exactly counts",
    ),
    pytest.param(
        Case(
            [FRUIT, VEG],
            [partner(1, "RAU-HCM", 20_000, **VEG_HCM), partner(2, "TL-VN", 45_000, **FRUIT_NATIONWIDE)],
            parcels=[["RAU-HCM", [2], 20_000], ["TL-VN", [1], 45_000]],
        ),
        id="a mixed cart to Ho Chi Minh splits into a local vegetable and a nationwide fruit parcel",
    ),
    pytest.param(
        Case(
            [FRUIT, VEG],
            [partner(1, "RAU-HCM", 20_000, **VEG_HCM), partner(2, "TL-VN", 45_000, **FRUIT_NATIONWIDE)],
            province=HANOI,
            parcels=[["TL-VN", [1], 45_000]],
            undeliverable=(2,),
        ),
        id="vegetables to Ha Noi are undeliverable while the fruit goes by carrier",
    ),
    pytest.param(
        Case(
            [FRUIT, VEG],
            [
                partner(1, "RAU-HCM", 20_000, min_order=100_000, **VEG_HCM),
                partner(2, "TL-VN", 45_000, **FRUIT_NATIONWIDE),
            ],
            parcels=[["TL-VN", [1], 45_000]],
            undeliverable=(2,),
        ),
        id="in a split a parcel below its partner's minimum order is not offered",
    ),
    pytest.param(
        Case(
            [FRUIT, VEG, HERBS],
            [
                partner(1, "TL-VN", 10_000, **FRUIT_NATIONWIDE),
                partner(2, "RAU-HCM", 30_000, **VEG_HCM),
                partner(3, "RAU-HCM2", 20_000, **VEG_HCM),
            ],
            parcels=[["RAU-HCM2", [2, 3], 20_000], ["TL-VN", [1], 10_000]],
        ),
        id="in a split the partner taking the most lines goes first, the cheapest among equals",
    ),
    pytest.param(
        Case(
            [FRUIT, VEG],
            [partner(1, "TL-VN", 10_000, **FRUIT_NATIONWIDE), partner(2, "ALL-HCM", 40_000, provinces=[HCM])],
            parcels=[["ALL-HCM", [1, 2], 40_000]],
        ),
        id="a partner taking every line beats a cheaper split",
    ),
    pytest.param(
        Case([VEG], [partner(1, "RAU-HCM", **VEG_HCM)], province=HANOI, undeliverable=(2,)),
        id="nothing deliverable",
    ),
    pytest.param(
        Case([VEG, FRUIT], [], undeliverable=(2, 1)),
        id="no partner at all",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "BENTHANH", 10_000, provinces=[HCM], wards=["Phường Bến Thành"]), partner(2, "HCM", 20_000)],
            ward="Phường Bến Thành",
            parcels=[["BENTHANH", [1], 10_000]],
        ),
        id="a ward-restricted partner delivers in its ward",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "BENTHANH", 10_000, provinces=[HCM], wards=["Phường Bến Thành"]), partner(2, "HCM", 20_000)],
            ward="Phường Sài Gòn",
            parcels=[["HCM", [1], 20_000]],
        ),
        id="a ward-restricted partner does not deliver to another ward",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "BENTHANH", 10_000, provinces=[HCM], wards=["Phường Bến Thành"]), partner(2, "HCM", 20_000)],
            ward=None,
            parcels=[["HCM", [1], 20_000]],
        ),
        id="a ward-restricted partner does not deliver when the ward is unknown",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "LAMDONG", 10_000, provinces=[LAM_DONG]), partner(2, "VN", 20_000)],
            province=None,
            parcels=[["VN", [1], 20_000]],
        ),
        id="an unknown province is served only by nationwide partners",
    ),
    pytest.param(
        Case(
            [FRUIT], [partner(1, "OFF", 10_000, active=False), partner(2, "ON", 20_000)], parcels=[["ON", [1], 20_000]]
        ),
        id="an inactive partner is skipped",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "REJECTED", 10_000), partner(2, "NEXT", 20_000)],
            exclude=frozenset({1}),
            parcels=[["NEXT", [1], 20_000]],
        ),
        id="an excluded partner is skipped",
    ),
    pytest.param(
        Case([FRUIT], [partner(1, "ONLY")], exclude=frozenset({1}), undeliverable=(1,)),
        id="excluding the only partner leaves nothing deliverable",
    ),
    pytest.param(
        Case([VEG], [partner(1, "RAU-HCM", **VEG_HCM)], province="ho chi minh", parcels=[["RAU-HCM", [2], 30_000]]),
        id="a province without diacritics matches",
    ),
    pytest.param(
        Case([VEG], [partner(1, "RAU-HCM", **VEG_HCM)], province="HỒ CHÍ MINH", parcels=[["RAU-HCM", [2], 30_000]]),
        id="a province in capitals matches",
    ),
    pytest.param(
        Case(
            [FRUIT],
            [partner(1, "BENTHANH", provinces=["ho chi minh"], wards=["phuong ben thanh"], categories=["Thanh Long"])],
            ward="PHƯỜNG BẾN THÀNH",
            parcels=[["BENTHANH", [1], 30_000]],
        ),
        id="wards and categories written without diacritics or in another case match",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_plan_routes_each_case_as_the_rules_say(case: Case) -> None:
    chosen = plan(case.lines, case.province, case.ward, case.partners, DAY, exclude=case.exclude)
    assert chosen.signature() == case.parcels
    assert chosen.undeliverable == case.undeliverable
    amounts = {line.product_id: line.amount for line in case.lines}
    for parcel in chosen.parcels:
        assert parcel.subtotal == sum(amounts[pid] for pid in parcel.product_ids)


# Property checks: whatever the rules, every line lands exactly once and no partner gets two parcels.
PROVINCES = [HCM, HANOI, LAM_DONG, "ho chi minh", None]
CATEGORIES = ["rau", "thanh long", "ca phe"]

partner_rules = st.fixed_dictionaries(
    {
        "provinces": st.lists(st.sampled_from([HCM, HANOI, LAM_DONG]), max_size=2, unique=True),
        "categories": st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True),
        "min_order": st.sampled_from([0, 50_000, 100_000, 300_000]),
        "fee": st.sampled_from([0, 15_000, 30_000, 45_000]),
        "free_shipping_from": st.sampled_from([None, 100_000, 300_000]),
        "daily_capacity": st.sampled_from([None, 1, 3]),
        "load": st.integers(0, 4),
        "load_day": st.sampled_from([None, DAY, YESTERDAY]),
        "active": st.booleans(),
    }
)
carts = st.lists(st.tuples(st.sampled_from(CATEGORIES), st.integers(1_000, 400_000)), min_size=1, max_size=6).map(
    lambda items: [Line(pid, category, amount) for pid, (category, amount) in enumerate(items, start=1)]
)


def build(rules: list[dict[str, Any]]) -> list[Partner]:
    return [partner(pid, f"P{pid}", **rule) for pid, rule in enumerate(rules, start=1)]


@settings(max_examples=200, deadline=None)
@given(
    lines=carts,
    rules=st.lists(partner_rules, max_size=5),
    province=st.sampled_from(PROVINCES),
    exclude=st.sets(st.integers(1, 5), max_size=2),
)
def test_every_line_lands_once_and_every_parcel_keeps_its_partner_rules(
    lines: list[Line], rules: list[dict[str, Any]], province: str | None, exclude: set[int]
) -> None:
    partners = build(rules)
    chosen: Plan = plan(lines, province, None, partners, DAY, exclude=exclude)

    placed = [pid for parcel in chosen.parcels for pid in parcel.product_ids]
    assert sorted(placed + list(chosen.undeliverable)) == [line.product_id for line in lines]
    assert len({parcel.partner.id for parcel in chosen.parcels}) == len(chosen.parcels)
    by_id = {line.product_id: line for line in lines}
    for parcel in chosen.parcels:
        p = parcel.partner
        assert p.active and p.id not in exclude and covers(p, province, None) and has_capacity(p, DAY)
        assert all(carries(p, by_id[pid].category) for pid in parcel.product_ids)
        assert parcel.subtotal == sum(by_id[pid].amount for pid in parcel.product_ids) >= p.min_order
        assert parcel.fee == shipping_fee(p, parcel.subtotal)


@settings(max_examples=150, deadline=None)
@given(lines=carts, rules=st.lists(partner_rules, max_size=5), province=st.sampled_from(PROVINCES))
def test_when_one_partner_can_take_everything_the_cheapest_such_partner_gets_one_parcel(
    lines: list[Line], rules: list[dict[str, Any]], province: str | None
) -> None:
    partners = build(rules)
    total = sum(line.amount for line in lines)
    whole = [
        p
        for p in partners
        if p.active
        and covers(p, province, None)
        and has_capacity(p, DAY)
        and all(carries(p, line.category) for line in lines)
        and total >= p.min_order
    ]
    chosen = plan(lines, province, None, partners, DAY)
    if whole:
        assert len(chosen.parcels) == 1 and chosen.undeliverable == ()
        assert chosen.parcels[0].fee == min(shipping_fee(p, total) for p in whole)
    else:
        assert len(chosen.parcels) != 1 or chosen.undeliverable
