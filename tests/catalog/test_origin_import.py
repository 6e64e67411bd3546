"""Loading origin facts from JSON: a good file, loading it again, and a bad file that changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalog.models import Certificate, Cooperative, HarvestBatch, Product, vietnam_day
from catalog.origin import origin_of
from catalog.origin_import import OriginFileError, load_origin, parse_document

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "origin-sample.json"


def _document(**overrides) -> dict:
    today = vietnam_day()
    document = {
        "cooperatives": [{"code": "PHUHOI", "address": "Thôn Phú Hội, Xã Hàm Liêm, tỉnh Lâm Đồng", "phone": None}],
        "products": [
            {
                "sku": "TL-HC-PH",
                "growing_area_code": "VN-BTDR-9999",
                "certificates": [
                    {"scheme": "Hữu cơ", "number": "HC-1", "valid_from": "2026-01-01", "valid_until": "2028-12-31"},
                    {"scheme": "VietGAP", "number": "VG-2", "issuer": "Trung tâm X"},
                ],
                "harvest_batches": [
                    {"harvested_on": str(today - timedelta(days=100)), "quantity": 80},
                    {"harvested_on": str(today - timedelta(days=100)), "quantity": 80},
                    {"harvested_on": str(today - timedelta(days=3)), "quantity": 12.5, "code": "ph-lo-7"},
                ],
            }
        ],
    }
    document.update(overrides)
    return document


async def _batches(session, sku: str) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(HarvestBatch.code, HarvestBatch.quantity)
        .join(Product)
        .where(Product.sku == sku)
        .order_by(HarvestBatch.code)
    )
    return [(code, format(quantity.normalize(), "f")) for code, quantity in rows]


async def test_a_good_file_sets_contacts_area_code_certificates_and_batches(session):
    report = await load_origin(session, parse_document(json.dumps(_document())), "test")
    assert (report.cooperatives, report.products, report.certificates, report.batches_added) == (1, 1, 2, 3)
    coop = await session.scalar(select(Cooperative).where(Cooperative.code == "PHUHOI"))
    assert coop.address == "Thôn Phú Hội, Xã Hàm Liêm, tỉnh Lâm Đồng" and coop.phone is None
    assert coop.registration_code == "3401000303"  # not in the file: kept
    origin = await origin_of(session, "TL-HC-PH")
    assert origin.product.growing_area_code == "VN-BTDR-9999"
    assert [(c.scheme, c.number, c.issuer) for c in origin.certificates] == [
        ("Hữu cơ", "HC-1", ""),
        ("VietGAP", "VG-2", "Trung tâm X"),
    ]
    old = f"TL-HC-PH-{vietnam_day() - timedelta(days=100):%y%m%d}"
    assert {(old, "80"), (f"{old}-2", "80"), ("PH-LO-7", "12.5")} <= set(await _batches(session, "TL-HC-PH"))


async def test_loading_the_same_file_twice_adds_nothing_twice(session):
    document = parse_document(json.dumps(_document()))
    await load_origin(session, document, "test")
    before = await _batches(session, "TL-HC-PH")
    report = await load_origin(session, document, "test")
    assert (report.batches_added, report.batches_kept) == (0, 3)
    assert await _batches(session, "TL-HC-PH") == before
    count = select(func.count()).select_from(Certificate).join(Product).where(Product.sku == "TL-HC-PH")
    assert await session.scalar(count) == 2


async def test_a_bad_file_names_each_problem_and_changes_nothing(session):
    raw = _document()
    raw["products"][0]["certificates"][0]["valid_until"] = "2025-01-01"
    raw["products"][0]["harvest_batches"][1]["quantity"] = 0
    raw["products"].append({"sku": "TL-RD-HD", "growing_area_code": "X", "colour": "red"})
    with pytest.raises(OriginFileError) as error:
        parse_document(json.dumps(raw))
    assert error.value.problems == [
        "products[0].certificates[0]: valid_until is before valid_from",
        "products[0].harvest_batches[1].quantity: Input should be greater than 0",
        "products[1].colour: Extra inputs are not permitted",
    ]


async def test_a_file_naming_unknown_things_or_a_future_harvest_changes_nothing(session):
    tomorrow = str(vietnam_day() + timedelta(days=1))
    raw = _document(cooperatives=[{"code": "PHUHOI", "phone": "0252 1"}, {"code": "NOWHERE", "address": "x"}])
    raw["products"][0]["harvest_batches"].append({"harvested_on": tomorrow, "quantity": 1})
    raw["products"].append({"sku": "NO-SUCH-SKU", "growing_area_code": "X"})
    before = (await origin_of(session, "TL-HC-PH")).certificates
    with pytest.raises(OriginFileError) as error:
        parse_document(json.dumps(raw))
    assert error.value.problems == [
        "cooperatives[0].phone: String should match pattern '^\\+?[0-9][0-9 .-]{6,18}[0-9]$'"
    ]
    raw["cooperatives"][0]["phone"] = "0252 3865 303"
    with pytest.raises(OriginFileError) as error:
        await load_origin(session, parse_document(json.dumps(raw)), "test")
    assert error.value.problems == [
        "cooperatives[1].code: no cooperative with code 'NOWHERE'",
        f"products[0].harvest_batches[3].harvested_on: harvest date {tomorrow} is in the future",
        "products[1].sku: no product with SKU 'NO-SUCH-SKU'",
    ]
    origin = await origin_of(session, "TL-HC-PH")
    assert origin.product.growing_area_code == "VN-BTDR-0315"
    assert [c.number for c in origin.certificates] == [c.number for c in before]
    assert origin.cooperative.phone == "0252 3865 303" and not any(b.code == "PH-LO-7" for b in origin.recent_batches)


async def test_an_explicit_code_of_another_batch_is_refused(session):
    taken = (await origin_of(session, "TL-RD-HD")).recent_batches[0].code
    raw = _document()
    raw["products"][0]["harvest_batches"][2]["code"] = taken
    with pytest.raises(OriginFileError) as error:
        await load_origin(session, parse_document(json.dumps(raw)), "test")
    assert error.value.problems == [f"products[0].harvest_batches[2].code: {taken} is already another batch"]


async def test_the_sample_file_loads_onto_the_demo_catalogue(session):
    report = await load_origin(session, parse_document(SAMPLE.read_bytes()), "test")
    assert report.batches_added == 3
    origin = await origin_of(session, "HL-LO-1119A")
    assert origin.product.sku == "TL-HOP-HL" and {c.scheme for c in origin.certificates} == {"VietGAP", "OCOP"}
