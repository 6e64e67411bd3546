"""The traceability page in headless Chromium on a phone-sized screen (390 x 844 CSS pixels): it fits the width,
and the screenshot shows the styled page with the order button above the fold."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_app
from catalog.models import Product
from tests.bot.test_trace_page import BATCH, SKU, add_traced_product
from tests.conftest import settings_for_tests

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)")

WIDTH, HEIGHT = 390, 844
GREEN, PINK = (0x1F, 0x7A, 0x4D), (0xC2, 0x18, 0x5B)  # the header and the "order it in chat" button (trace.css)
# A page for this test only: the traceability page in a phone-wide frame, and, once it has loaded, the width of
# its viewport and the right edge of its widest element written where --dump-dom shows them.
MEASURE = """<!doctype html>
<html lang="en"><head><title>measure</title></head><body style="margin:0">
<iframe id="page" src="{path}" title="page" style="border:0;width:{width}px;height:{height}px"></iframe>
<script>
document.getElementById("page").addEventListener("load", (event) => {{
  const page = event.target.contentDocument;
  const rights = [...page.querySelectorAll("body *")].map((e) => Math.ceil(e.getBoundingClientRect().right));
  document.body.dataset.viewport = page.documentElement.clientWidth;
  document.body.dataset.widest = Math.max(page.documentElement.scrollWidth, ...rights);
}});
</script></body></html>"""


@pytest.fixture
async def server(aiohttp_server: Any, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> TestServer:
    """The real app on a local port, with a traced product whose growing-area code is one long word, which the
    layout must wrap."""
    await add_traced_product(sessions)
    async with sessions.begin() as session:
        await session.execute(
            update(Product)
            .where(Product.sku == SKU)
            .values(growing_area_code="VNBTTL0123HAMMINHTHANHLONGRUOTDO20250601")
        )
    app = create_app(settings_for_tests(zalo_oa_id="4318287465", telegram_bot_username="htx_bot"), engine=engine)

    async def measure(request: web.Request) -> web.Response:
        html = MEASURE.format(path=request.query["path"], width=WIDTH, height=HEIGHT)
        return web.Response(text=html, content_type="text/html")

    app.router.add_get("/test/measure", measure)
    server: TestServer = await aiohttp_server(app)
    return server


async def chromium(profile: Path, *arguments: str) -> str:
    """Run headless Chromium at phone size with a fresh profile; its standard output."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


@pytest.mark.parametrize("path", [f"/p/{SKU}", f"/p/{BATCH}?lang=en", "/p/NOPE"])
async def test_the_page_fits_a_phone_screen_without_sideways_scrolling(server, tmp_path, path):
    url = str(server.make_url("/test/measure").with_query(path=path))
    dom = await chromium(tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", url)
    found = re.search(r'data-viewport="(\d+)" data-widest="(\d+)"', dom)
    assert found, dom
    viewport, widest = map(int, found.groups())
    assert viewport == WIDTH and widest <= viewport


async def test_the_phone_screenshot_shows_the_styled_page_with_the_order_button_above_the_fold(server, tmp_path):
    shot = tmp_path / "page.png"
    await chromium(tmp_path / "profile", f"--screenshot={shot}", str(server.make_url(f"/p/{SKU}")))
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    assert image.getpixel((5, 5)) == GREEN  # the stylesheet loaded: the header is the brand green
    colors = image.getcolors(maxcolors=WIDTH * HEIGHT)
    assert colors is not None and len(colors) > 100  # photo, text and cards, not a blank page
    pink = [xy for xy in ((x, y) for y in range(HEIGHT) for x in range(0, WIDTH, 4)) if image.getpixel(xy) == PINK]
    assert len(pink) > 2000  # the button (about 224 x 48 pixels, every 4th column sampled), in full on the first screen
