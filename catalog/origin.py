"""Where a product comes from: the facts a traceability page and the chat show for a product or a harvest batch.

One lookup serves every reader (the public page `/p/{code}`, its QR labels, "nguồn gốc …" in chat): a code is
a harvest batch code ("TL-RD-HD-261126") or a product SKU ("TL-RD-HD").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Certificate, Cooperative, HarvestBatch, Product, vietnam_day

# Harvest batches listed under a product.
RECENT_BATCHES = 5


@dataclass(frozen=True)
class Origin:
    """A product's origin facts, and the batch when a batch code was looked up."""

    code: str
    product: Product
    certificates: Sequence[Certificate]
    batch: HarvestBatch | None
    recent_batches: Sequence[HarvestBatch]

    @property
    def cooperative(self) -> Cooperative:
        """The producer cooperative."""
        return self.product.cooperative

    @property
    def harvested_on(self) -> date | None:
        """The batch's harvest day, else the product's latest recorded harvest."""
        if self.batch is not None:
            return self.batch.harvested_on
        return self.recent_batches[0].harvested_on if self.recent_batches else None

    def undocumented_labels(self) -> list[str]:
        """Certification labels the cooperative declares without a recorded certificate number."""
        documented = {certificate.scheme.casefold() for certificate in self.certificates}
        return [label for label in self.product.certifications if label.casefold() not in documented]


def is_expired(certificate: Certificate, today: date | None = None) -> bool:
    """Has the certificate's validity ended (by Vietnam's calendar)?"""
    return certificate.valid_until is not None and certificate.valid_until < (today or vietnam_day())


async def origin_of(session: AsyncSession, code: str) -> Origin | None:
    """The origin of a harvest batch or a product by its code (case-insensitive); None when neither exists.

    Hidden products still answer: a label printed on a box outlives the product's place in the catalogue.
    """
    wanted = code.strip().upper()
    batch = await session.scalar(select(HarvestBatch).where(HarvestBatch.code == wanted))
    product = batch.product if batch else await session.scalar(select(Product).where(Product.sku == wanted))
    if product is None:
        return None
    certificates = await session.scalars(
        select(Certificate).where(Certificate.product_id == product.id).order_by(Certificate.scheme, Certificate.id)
    )
    recent = await session.scalars(
        select(HarvestBatch)
        .where(HarvestBatch.product_id == product.id)
        .order_by(HarvestBatch.harvested_on.desc(), HarvestBatch.id.desc())
        .limit(RECENT_BATCHES)
    )
    return Origin(wanted, product, certificates.all(), batch, recent.all())
