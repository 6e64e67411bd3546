"""QR label sheets (`htx qr labels`): one label per visible product or per batch, 21 to an A4 page, each QR decoding
to its page address, the Vietnamese names in an embedded font. The PDF is rendered with poppler, as a printer would."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from bot.labels import LabelError, label_sheet, labels_for
from bot.trace_page import page_url
from catalog.models import HarvestBatch, Product
from catalog.queries import get_product, list_products
from tests.bot.test_cli import htx

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="needs poppler's pdftoppm and pdftotext (Debian: apt-get install poppler-utils)",
)

BASE = "https://htx.example.vn"


def printed(pdf: bytes, folder: Path) -> list[Image.Image]:
    """The PDF's pages as a 150 dpi printer would see them."""
    (folder / "labels.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", folder / "labels.pdf", folder / "page"], check=True)
    return [Image.open(page) for page in sorted(folder.glob("page-*.png"))]


def decoded(pages: list[Image.Image]) -> list[str]:
    return [found.text for page in pages for found in zxingcpp.read_barcodes(page)]


def text_of(pdf: Path) -> str:
    """The PDF's text with line breaks and spaces folded (long names wrap on a label)."""
    result = subprocess.run(["pdftotext", pdf, "-"], check=True, capture_output=True, text=True)
    return " ".join(result.stdout.split())


def embedded_fonts(pdf: Path) -> str:
    return subprocess.run(["pdffonts", pdf], check=True, capture_output=True, text=True).stdout


async def test_a_sheet_for_the_demo_cooperative_has_one_label_per_visible_product_and_each_qr_opens_its_page(
    session: AsyncSession, tmp_path: Path
):
    hamduc = (await list_products(session, "HAMDUC"))[0].cooperative
    session.add(Product(sku="TL-CU-HD", cooperative=hamduc, name="Thanh long cũ", category="thanh long", unit="kg",
                        price=1000, stock=Decimal(0), hidden=True))  # fmt: skip
    await session.flush()
    visible = await list_products(session, "HAMDUC")
    pages = printed(label_sheet(await labels_for(session, "HAMDUC"), BASE), tmp_path)
    assert len(pages) == 1 and pages[0].size == (1241, 1754)  # one A4 page
    found = decoded(pages)
    assert sorted(found) == sorted(page_url(BASE, product.sku) for product in visible)
    assert len(found) == len(visible) >= 2 and page_url(BASE, "TL-CU-HD") not in found
    text = text_of(tmp_path / "labels.pdf")
    assert "Thanh long ruột đỏ Hàm Đức" in text and "HTX Thanh long Hàm Đức" in text and "TL-RD-HD" in text
    assert "Thanh long cũ" not in text
    assert "DejaVuSans" in embedded_fonts(tmp_path / "labels.pdf")


async def test_batch_labels_show_the_harvest_day_and_continue_on_a_second_page(session: AsyncSession, tmp_path: Path):
    product = await get_product(session, "TL-RD-HD")
    assert product is not None
    days = [date(2025, 6, 1) - timedelta(days=n) for n in range(23)]
    codes = [f"TL-RD-HD-{day:%y%m%d}" for day in days]
    session.add_all(
        HarvestBatch(code=code, product_id=product.id, harvested_on=day, quantity=Decimal(100), recorded_by="test")
        for code, day in zip(codes, days, strict=True)
    )
    await session.flush()
    labels = await labels_for(session, "HAMDUC", [code.lower() for code in codes])
    pages = printed(label_sheet(labels, BASE), tmp_path)
    assert len(pages) == 2
    assert [len(zxingcpp.read_barcodes(page)) for page in pages] == [21, 2]
    assert sorted(decoded(pages)) == sorted(page_url(BASE, code) for code in codes)
    text = text_of(tmp_path / "labels.pdf")
    assert "Thu hoạch 01/06/2025" in text and "TL-RD-HD-250601" in text and "Thu hoạch 10/05/2025" in text


async def test_labels_refuse_an_unknown_cooperative_an_unknown_batch_and_another_cooperatives_batch(
    session: AsyncSession,
):
    product = await get_product(session, "TL-RD-HD")
    assert product is not None
    session.add(HarvestBatch(code="TL-RD-HD-250601", product_id=product.id, harvested_on=date(2025, 6, 1),
                             quantity=Decimal(100), recorded_by="test"))  # fmt: skip
    await session.flush()
    with pytest.raises(LabelError, match="no cooperative with code NOWHERE"):
        await labels_for(session, "NOWHERE")
    with pytest.raises(LabelError, match="no harvest batch with code TL-RD-HD"):
        await labels_for(session, "HAMDUC", ["TL-RD-HD"])  # a product code, not a batch
    with pytest.raises(LabelError, match="batch TL-RD-HD-250601 is of HAMDUC, not PHUHOI"):
        await labels_for(session, "PHUHOI", ["TL-RD-HD-250601"])


def test_htx_qr_labels_needs_a_base_url_and_writes_the_sheet_with_one(tmp_path: Path):
    assert htx(tmp_path, "demo").returncode == 0
    refused = htx(tmp_path, "qr", "labels", "--coop", "HAMDUC", "labels.pdf")
    assert refused.returncode == 1 and "set HTX_PUBLIC_URL or pass --base" in refused.stdout
    assert not (tmp_path / "labels.pdf").exists()
    result = htx(tmp_path, "qr", "labels", "--coop", "hamduc", "labels.pdf", "--base", f"{BASE}/")
    assert result.returncode == 0, result.stderr
    assert "labels for https://htx.example.vn/p/... written to labels.pdf" in result.stdout
    found = decoded(printed((tmp_path / "labels.pdf").read_bytes(), tmp_path))
    assert page_url(BASE, "TL-RD-HD") in found and page_url(BASE, "TL-RT-HD") in found
