"""Loading origin facts from a JSON document: cooperatives' contacts, growing-area codes, certificates, batches.

The format is in docs/traceability.md. The whole document is checked first, against the schema and the
catalogue; a document with any problem changes nothing. Loading the same document twice adds nothing twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.harvests import HarvestRefused, check_harvest_day, record_batch
from catalog.models import Certificate, Cooperative, HarvestBatch, Product, vietnam_day

Code = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CooperativeFacts(_Strict):
    """A cooperative's public contact facts; a key left out keeps what is stored."""

    code: str = Field(min_length=1, max_length=32)
    address: str | None = Field(None, max_length=500)
    phone: str | None = Field(None, max_length=20, pattern=r"^\+?[0-9][0-9 .-]{6,18}[0-9]$")
    registration_code: str | None = Field(None, max_length=32)


class CertificateFacts(_Strict):
    """A certificate behind a certification label."""

    scheme: str = Field(min_length=1, max_length=40)
    number: str = Field(min_length=1, max_length=80)
    issuer: str = Field("", max_length=200)
    valid_from: date | None = None
    valid_until: date | None = None

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> CertificateFacts:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class BatchFacts(_Strict):
    """A harvest batch; without `code` it gets the readable code of its product and day."""

    harvested_on: date
    quantity: Decimal = Field(gt=0, max_digits=12, decimal_places=3)
    code: Code | None = None

    @field_validator("code")
    @classmethod
    def _upper(cls, code: str | None) -> str | None:
        return code.upper() if code else code


class ProductFacts(_Strict):
    """A product's origin facts; `certificates`, when given, replace the product's list ([] clears it)."""

    sku: str = Field(min_length=1, max_length=64)
    growing_area_code: str | None = Field(None, max_length=40)
    certificates: list[CertificateFacts] | None = None
    harvest_batches: list[BatchFacts] = Field(default_factory=list)


class OriginDocument(_Strict):
    """The whole file."""

    cooperatives: list[CooperativeFacts] = Field(default_factory=list)
    products: list[ProductFacts] = Field(default_factory=list)


class OriginFileError(ValueError):
    """A document that was not loaded, with every problem found, each naming its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadReport:
    """What one load changed."""

    cooperatives: int
    products: int
    certificates: int
    batches_added: int
    batches_kept: int


def parse_document(raw: bytes | str) -> OriginDocument:
    """The document read and checked against the schema; raises `OriginFileError` naming each bad place."""
    try:
        return OriginDocument.model_validate_json(raw)
    except ValidationError as error:
        raise OriginFileError(
            [f"{_place(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in error.errors()]
        ) from None


async def load_origin(session: AsyncSession, document: OriginDocument, actor: str) -> LoadReport:
    """Apply the document inside the caller's transaction, after checking it against the catalogue.

    Raises `OriginFileError` before changing anything when a cooperative or SKU is unknown, a batch is dated in
    the future, or an explicit batch code belongs to another batch.
    """
    coops = {c.code: c for c in await session.scalars(select(Cooperative))}
    products = {p.sku: p for p in await session.scalars(select(Product))}
    problems = [
        f"cooperatives[{i}].code: no cooperative with code {facts.code!r}"
        for i, facts in enumerate(document.cooperatives)
        if facts.code not in coops
    ]
    problems += await _product_problems(session, document, products)
    if problems:
        raise OriginFileError(problems)
    for coop_facts in document.cooperatives:
        coop = coops[coop_facts.code]
        if "address" in coop_facts.model_fields_set:
            coop.address = coop_facts.address or ""
        if "phone" in coop_facts.model_fields_set:
            coop.phone = coop_facts.phone or None
        if "registration_code" in coop_facts.model_fields_set:
            coop.registration_code = coop_facts.registration_code or None
    certificates = added = kept = 0
    for facts in document.products:
        product = products[facts.sku]
        if "growing_area_code" in facts.model_fields_set:
            product.growing_area_code = facts.growing_area_code or None
        if facts.certificates is not None:
            certificates += await _replace_certificates(session, product, facts.certificates)
        new, old = await _add_batches(session, product, facts.harvest_batches, actor)
        added, kept = added + new, kept + old
    return LoadReport(len(document.cooperatives), len(document.products), certificates, added, kept)


async def _product_problems(session: AsyncSession, document: OriginDocument, products: dict[str, Product]) -> list[str]:
    problems: list[str] = []
    today = vietnam_day()
    seen: dict[str, str] = {}
    for i, facts in enumerate(document.products):
        product = products.get(facts.sku)
        if product is None:
            problems.append(f"products[{i}].sku: no product with SKU {facts.sku!r}")
        for j, batch in enumerate(facts.harvest_batches):
            place = f"products[{i}].harvest_batches[{j}]"
            try:
                check_harvest_day(batch.harvested_on, today, max_age_days=None)
            except HarvestRefused as refused:
                problems.append(f"{place}.harvested_on: {refused}")
            if batch.code is None:
                continue
            if batch.code in seen:
                problems.append(f"{place}.code: {batch.code} is also given at {seen[batch.code]}")
            seen[batch.code] = place
            stored = await session.scalar(select(HarvestBatch).where(HarvestBatch.code == batch.code))
            if stored is not None and product is not None and not _same(stored, product, batch):
                problems.append(f"{place}.code: {batch.code} is already another batch")
    return problems


async def _replace_certificates(session: AsyncSession, product: Product, facts: list[CertificateFacts]) -> int:
    await session.execute(delete(Certificate).where(Certificate.product_id == product.id))
    session.add_all(Certificate(product_id=product.id, **certificate.model_dump()) for certificate in facts)
    return len(facts)


async def _add_batches(session: AsyncSession, product: Product, facts: list[BatchFacts], actor: str) -> tuple[int, int]:
    """Record the batches not yet stored; (added, already there). A batch with a code is there when its code is;
    one without is there while the product has other stored batches of that day and quantity left to match."""
    stored = list(await session.scalars(select(HarvestBatch).where(HarvestBatch.product_id == product.id)))
    codes = {b.code for b in stored}
    named = {b.code for b in facts if b.code}
    unmatched = Counter((b.harvested_on, b.quantity) for b in stored if b.code not in named)
    added = kept = 0
    for batch in facts:
        key = (batch.harvested_on, batch.quantity)
        if batch.code in codes:
            kept += 1
            continue
        if batch.code is None and unmatched[key] > 0:
            unmatched[key] -= 1
            kept += 1
            continue
        await record_batch(
            session, product, batch.harvested_on, batch.quantity, actor, code=batch.code, max_age_days=None
        )
        added += 1
    return added, kept


def _same(stored: HarvestBatch, product: Product, batch: BatchFacts) -> bool:
    return (stored.product_id, stored.harvested_on, stored.quantity) == (product.id, batch.harvested_on, batch.quantity)


def _place(location: tuple[int | str, ...]) -> str:
    """('products', 2, 'certificates', 0, 'valid_until') -> 'products[2].certificates[0].valid_until'."""
    place = ""
    for part in location:
        place += f"[{part}]" if isinstance(part, int) else f".{part}" if place else str(part)
    return place or "document"
