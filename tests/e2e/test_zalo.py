"""A buyer on Zalo OA: numbered menus instead of buttons, and an access token that expires mid-conversation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.models import ChannelToken
from catalog.accounts import create_invite
from catalog.queries import get_cooperative, get_product
from tests.e2e.conftest import CODE, FULL_ORDER, eventually, zalo_settings
from tests.fakes.zalo import FakeZalo, follow_event, text_event

USER = "2468013579111213"


@pytest.fixture
async def service(aiohttp_client, engine, zalo):
    return await aiohttp_client(create_app(zalo_settings(zalo), engine=engine))


async def say(zalo: FakeZalo, service, event) -> None:
    assert await zalo.deliver(str(service.make_url("/webhooks/zalo")), event) == 200


async def test_a_whole_order_on_zalo_answering_numbered_menus(zalo, service):
    await say(zalo, service, follow_event(USER))
    await eventually(lambda: any("Xin chào" in t for t in zalo.texts))
    await say(zalo, service, text_event(USER, FULL_ORDER))
    asked = await eventually(lambda: next((t for t in zalo.texts if "thanh toán thế nào" in t), None))
    assert "1. Tiền mặt khi nhận hàng (COD)" in asked
    await say(zalo, service, text_event(USER, "1"))
    summary = await eventually(lambda: next((t for t in zalo.texts if "kiểm tra lại đơn hàng" in t), None))
    assert "1. Xác nhận đặt hàng" in summary
    await say(zalo, service, text_event(USER, "1"))
    confirmation = await eventually(lambda: next((t for t in zalo.texts if CODE.search(t)), None))
    assert "120.000" in confirmation  # 105.000 of fruit + 15.000 shipping in Lâm Đồng


async def test_a_number_answering_how_many_is_a_quantity_not_a_menu_choice(zalo, service):
    await say(zalo, service, text_event(USER, "mua cà chua"))
    await eventually(lambda: any("bao nhiêu kg" in t for t in zalo.texts))
    await say(zalo, service, text_event(USER, "3"))
    await eventually(lambda: any("Cà chua, 3 kg" in t for t in zalo.texts))


async def test_an_expired_access_token_is_refreshed_once_and_the_reply_goes_through(zalo, service, sessions):
    await say(zalo, service, text_event(USER, "xin chào"))
    await eventually(lambda: zalo.texts)
    zalo.expire_access_token()
    await say(zalo, service, text_event(USER, "cảm ơn"))
    await eventually(lambda: any("không có gì" in t for t in zalo.texts))
    assert zalo.refreshes == 1 and zalo.refused_refreshes == 0
    async with sessions() as session:
        stored = await session.scalar(select(ChannelToken).where(ChannelToken.channel == "zalo"))
        assert stored is not None and stored.access_token == zalo.access_token
    health = await (await service.get("/healthz")).json()
    assert health["channels"] == {"zalo": "ok"}


async def test_a_rate_limited_send_is_retried(zalo, service):
    zalo.fail_next("rate_limited")
    await say(zalo, service, text_event(USER, "xin chào"))
    await eventually(lambda: any("Xin chào" in t for t in zalo.texts), timeout=30)
    assert sum("Xin chào" in t for t in zalo.texts) == 1


async def link_manager(zalo: FakeZalo, service, sessions, coop: str, role: str, user: str, command: str) -> None:
    """A Zalo account linked to a cooperative with a fresh code, sent as `command` ("/lienket" or "lien ket")."""
    async with sessions.begin() as session:
        code = await create_invite(session, await get_cooperative(session, coop), role, "test")
    linked = sum("Đã liên kết" in t for t in zalo.texts)
    await say(zalo, service, text_event(user, f"{command} {code}"))
    await eventually(lambda: sum("Đã liên kết" in t for t in zalo.texts) > linked)


async def test_a_cooperative_manages_stock_from_zalo_and_confirms_by_number(zalo, service, sessions):
    manager = "1357924680111213"
    await link_manager(zalo, service, sessions, "TIENPHAT", "owner", manager, "lien ket")
    await say(zalo, service, text_event(manager, "ca chua con 120 ky"))
    await eventually(lambda: any("Cà chua: đang có 120 kg" in t for t in zalo.texts))
    await say(zalo, service, text_event(manager, "gia ca chua 300k"))
    asked = await eventually(lambda: next((t for t in zalo.texts if "xác nhận" in t and "300.000" in t), None))
    assert "1. Đúng, cập nhật" in asked
    await say(zalo, service, text_event(manager, "1"))
    await eventually(lambda: any("Giá mới của Cà chua: 300.000" in t for t in zalo.texts))
    async with sessions() as session:
        tomato = await get_product(session, "RAU-CACHUA-TP")
        assert (tomato.stock, tomato.price) == (120, 300000)


async def test_when_a_name_fits_several_of_its_products_the_cooperative_picks_one_by_number(zalo, service, sessions):
    manager = "1357924680111214"
    await link_manager(zalo, service, sessions, "HAMDUC", "staff", manager, "/lienket")
    await say(zalo, service, text_event(manager, "/nhap thanh long ham duc 100"))
    asked = await eventually(lambda: next((t for t in zalo.texts if "Sản phẩm nào" in t), None))
    assert "1. Thanh long ruột đỏ Hàm Đức" in asked and "2. Thanh long ruột trắng Hàm Đức" in asked
    await say(zalo, service, text_event(manager, "2"))
    # A harvest without a day asks it: "1" is today in the new numbered menu.
    await eventually(lambda: any("Thanh long ruột trắng Hàm Đức, 100 kg" in t and "\n2. " in t for t in zalo.texts))
    await say(zalo, service, text_event(manager, "1"))
    await eventually(lambda: any("Đã nhập thêm 100 kg Thanh long ruột trắng Hàm Đức" in t for t in zalo.texts))
    async with sessions() as session:
        assert (await get_product(session, "TL-RT-HD")).stock == 1300
