"""Asking where produce comes from in chat, and a cooperative recording a harvest batch with /nhap.

Conversations run in English, so the wording checked is the msgids themselves; Vietnamese ones check data only.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import create_app
from catalog.accounts import create_invite
from catalog.models import HarvestBatch, Product, vietnam_day
from catalog.queries import get_cooperative
from tests.conftest import joined, payloads, settings_for_tests


@pytest.fixture
async def client(aiohttp_client, engine):
    """The app with English conversations."""
    return await aiohttp_client(create_app(settings_for_tests(default_locale="en"), engine=engine))


def _day(value) -> str:
    return value.strftime("%d/%m/%Y")


async def _latest_batch(sessions, sku: str) -> HarvestBatch:
    async with sessions() as session:
        return await session.scalar(
            select(HarvestBatch).join(Product).where(Product.sku == sku).order_by(HarvestBatch.id.desc()).limit(1)
        )


async def test_asking_the_origin_of_a_product_without_diacritics_shows_its_facts_and_page(chat, sessions):
    text = joined(await chat("s1", text="nguon goc thanh long ruot do ham duc"))
    assert "Thanh long ruột đỏ Hàm Đức" in text and "HTX Thanh long Hàm Đức" in text
    assert "Xã Hàm Thuận, tỉnh Lâm Đồng" in text and "VN-BTDR-0112" in text
    assert "VietGAP-TT-24-05-60-0318" in text and "valid until" in text
    latest = await _latest_batch(sessions, "TL-RD-HD")
    assert _day(latest.harvested_on) in text
    assert "/p/TL-RD-HD" in text


async def test_a_buyer_arriving_from_a_pages_telegram_link_gets_that_batchs_origin(chat, sessions):
    latest = await _latest_batch(sessions, "TL-RD-HD")
    text = joined(await chat("s1", text=f"/start p_{latest.code}"))
    assert f"Harvest batch {latest.code}" in text and f"/p/{latest.code}" in text


async def test_an_expired_certificate_is_said_to_be_expired(chat):
    text = joined(await chat("s1", text="xuất xứ thanh long ruột trắng Hàm Đức"))
    assert "VietGAP-TT-22-10-60-0117" in text and "EXPIRED on" in text


async def test_the_ocop_product_shows_its_stars_and_certificate(chat):
    text = joined(await chat("s1", text="truy xuất hộp quà thanh long Hòa Lễ"))
    assert "OCOP: 4 stars" in text and "OCOP-4S-BTH-2024-017" in text


async def test_a_name_that_fits_several_products_asks_which_one(chat):
    replies = await chat("s1", text="nguồn gốc thanh long Hàm Đức")
    assert {"origin:TL-RD-HD", "origin:TL-RT-HD"} == set(payloads(replies))
    assert "Thanh long ruột trắng Hàm Đức" in joined(await chat("s1", payload="origin:TL-RT-HD"))


async def test_a_batch_code_shows_that_batch(chat, sessions):
    batch = await _latest_batch(sessions, "TL-RD-HD")
    text = joined(await chat("s1", text=f"nguồn gốc {batch.code.lower()}"))
    assert f"Harvest batch {batch.code}" in text and _day(batch.harvested_on) in text
    assert f"/p/{batch.code}" in text
    assert "could not find" in joined(await chat("s1", text="nguồn gốc TL-XX-999999"))


async def test_product_cards_offer_the_origin_button_even_when_sold_out(chat):
    cards = await chat("s1", payload="coop:HAMDUC")
    red = next(r for r in cards if r["text"].startswith("Thanh long ruột đỏ Hàm Đức"))
    assert payloads([red]) == ["add:TL-RD-HD:1", "pick:TL-RD-HD", "origin:TL-RD-HD"]
    assert "Origin" in [b["title"] for b in red["buttons"]]
    assert "VN-BTDR-0112" in joined(await chat("s1", payload="origin:TL-RD-HD"))


async def test_the_link_is_absolute_when_the_public_url_is_set(aiohttp_client, engine):
    settings = settings_for_tests(public_url="https://htx.example/shop/")  # Vietnamese conversations
    client = await aiohttp_client(create_app(settings, engine=engine))
    response = await client.post("/web/chat", json={"session": "s1", "text": "rau muống xuất xứ ở đâu"})
    text = joined((await response.json())["replies"])
    assert "https://htx.example/shop/p/RAU-MUONG-TP" in text and "VietGAP-TT-24-03-60-0112" in text


@pytest.fixture
async def coop(chat, sessions):
    """A web chat account linked to HTX Thanh long Hàm Đức; returns its session name."""
    async with sessions.begin() as session:
        code = await create_invite(session, await get_cooperative(session, "HAMDUC"), "owner", "test")
    assert "Linked" in joined(await chat("coop", text=f"/lienket {code}"))
    return "coop"


async def _stock(sessions, sku: str):
    async with sessions() as session:
        return (await session.scalar(select(Product).where(Product.sku == sku))).stock


async def test_nhap_with_a_date_records_the_batch_and_adds_the_stock(chat, sessions, coop):
    day = vietnam_day() - timedelta(days=6)
    text = joined(await chat(coop, text=f"/nhap thanh long ruot do 200 ngay {day:%d/%m}"))
    code = f"TL-RD-HD-{day:%y%m%d}"
    assert "Added 200 kg" in text and code in text and f"/p/{code}" in text
    assert await _stock(sessions, "TL-RD-HD") == 1000
    batch = await _latest_batch(sessions, "TL-RD-HD")
    assert (batch.code, batch.harvested_on, batch.quantity, batch.recorded_by) == (code, day, 200, "web:coop")


async def test_nhap_yesterday_in_words(chat, sessions, coop):
    text = joined(await chat(coop, text="/nhap ruột trắng 50 hôm qua"))
    assert f"TL-RT-HD-{vietnam_day() - timedelta(days=1):%y%m%d}" in text
    assert await _stock(sessions, "TL-RT-HD") == 1250


async def test_nhap_without_a_date_asks_for_it_then_records_it(chat, sessions, coop):
    asked = await chat(coop, text="nhập thêm 30 ký ruột đỏ")
    assert "which day was it harvested" in joined(asked) and payloads(asked) == ["harvestday:0", "harvestday:1"]
    assert await _stock(sessions, "TL-RD-HD") == 800  # nothing added before the day is known
    assert "choose the harvest day" in joined(await chat(coop, text="sáng nay hái"))
    text = joined(await chat(coop, payload="harvestday:0"))
    assert f"TL-RD-HD-{vietnam_day():%y%m%d}" in text and "Added 30 kg" in text
    assert await _stock(sessions, "TL-RD-HD") == 830


async def test_nhap_without_a_date_takes_a_typed_date(chat, sessions, coop):
    day = vietnam_day() - timedelta(days=2)
    await chat(coop, text="/nhap thanh long ruot do 10")
    assert f"TL-RD-HD-{day:%y%m%d}" in joined(await chat(coop, text=f"{day:%d-%m-%Y}"))


async def test_nhap_refuses_a_future_or_old_date_and_changes_nothing(chat, sessions, coop):
    tomorrow, old = vietnam_day() + timedelta(days=1), vietnam_day() - timedelta(days=90)
    assert "in the future" in joined(await chat(coop, text=f"/nhap thanh long ruot do 10 {tomorrow:%d/%m/%Y}"))
    assert "more than 60 days" in joined(await chat(coop, text=f"/nhap thanh long ruot do 10 {old:%d/%m/%Y}"))
    assert "does not exist" in joined(await chat(coop, text="/nhap thanh long ruot do 10 ngay 31/02"))
    assert await _stock(sessions, "TL-RD-HD") == 800
