"""A cooperative manager runs the shop from Telegram; buyers see the changes in their next message."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import create_app
from catalog.accounts import create_invite
from catalog.models import InviteCode, Product, ProductChange, utcnow
from catalog.queries import get_cooperative
from tests.e2e.conftest import TELEGRAM_SECRET as SECRET
from tests.e2e.conftest import eventually, telegram_settings
from tests.fakes.telegram import FakeTelegram

MANAGER, BUYER, OTHER = 500_001, 600_001, 700_001


@pytest.fixture
async def service(aiohttp_client, engine, telegram):
    settings = telegram_settings(telegram, public_url="https://shop.example")
    return await aiohttp_client(create_app(settings, engine=engine))


async def invite(sessions, coop: str = "HAMDUC", role: str = "owner") -> str:
    async with sessions.begin() as session:
        return await create_invite(session, await get_cooperative(session, coop), role, "test")


class Chat:
    """One Telegram account talking to the service; `say` returns the bot's answers to that message."""

    def __init__(self, telegram: FakeTelegram, service, chat_id: int) -> None:
        self.telegram, self.service, self.chat_id = telegram, service, chat_id

    def texts(self) -> list[str]:
        """Messages and photo captions sent to this chat, in order."""
        return [
            call.params.get("text") or call.params.get("caption", "")
            for call in self.telegram.calls
            if call.method in ("sendMessage", "sendPhoto")
            and call.status == 200
            and str(call.params["chat_id"]) == str(self.chat_id)
        ]

    async def say(self, text: str) -> str:
        before = len(self.texts())
        update = self.telegram.text_update(text, chat_id=self.chat_id)
        url = str(self.service.make_url("/webhooks/telegram"))
        assert await self.telegram.deliver(update, url=url, secret=SECRET) == 200
        await eventually(lambda: len(self.texts()) > before)
        settled = -1
        while settled != len(self.texts()):  # a turn may send several messages: wait until they stop coming
            settled = len(self.texts())
            await asyncio.sleep(0.3)
        return "\n".join(self.texts()[before:])


async def stock(sessions, sku: str) -> tuple:
    async with sessions() as session:
        product = await session.scalar(select(Product).where(Product.sku == sku))
        return product.stock, product.price, product.hidden


async def test_a_manager_links_and_updates_stock_price_and_visibility(telegram, service, sessions):
    manager, buyer = Chat(telegram, service, MANAGER), Chat(telegram, service, BUYER)
    code = await invite(sessions)
    assert "Đã liên kết" in await manager.say(f"/lienket {code.lower()}")
    listing = await manager.say("/kho")
    assert "Thanh long ruột đỏ Hàm Đức: bán được 800 kg" in listing and "Cà chua" not in listing

    assert "đang có 500 kg" in await manager.say("thanh long ruột đỏ còn 500 ký")
    assert (await stock(sessions, "TL-RD-HD"))[0] == 500
    assert "Đã nhập thêm 200 kg" in await manager.say("nhap them 200kg ruot trang hom nay")
    assert (await stock(sessions, "TL-RT-HD"))[0] == 1400
    assert "Giá mới của Thanh long ruột đỏ Hàm Đức: 38.000" in await manager.say("giá ruột đỏ 38k")
    assert "/kg" in await buyer.say("thanh long ruột đỏ hàm đức giá bao nhiêu")
    assert "38.000" in buyer.texts()[-1]

    assert "Đã ẩn" in await manager.say("/an thanh long ruot trang")
    assert "Thanh long ruột trắng Hàm Đức" not in await buyer.say("có thanh long ruột trắng không")
    assert "Đã hiện lại" in await manager.say("/hien thanh long ruot trang")
    assert "Thanh long ruột trắng Hàm Đức" in await buyer.say("có thanh long ruột trắng không")

    history = await manager.say("/kho lichsu thanh long ruot do")
    assert "stock 800 → 500" in history and "price 35000 → 38000" in history and "telegram:500001" in history


async def test_a_change_that_looks_like_a_typo_is_confirmed_first(telegram, service, sessions):
    manager = Chat(telegram, service, MANAGER)
    await manager.say(f"/lienket {await invite(sessions)}")
    assert "xác nhận" in await manager.say("/gia thanh long ruot do ham duc 350k")
    assert "Chưa thay đổi" in await manager.say("không")
    assert (await stock(sessions, "TL-RD-HD"))[1] == 35000
    await manager.say("/kho thanh long ruot do 9000")
    assert "đang có 9.000 kg" in await manager.say("có")
    assert (await stock(sessions, "TL-RD-HD"))[0] == 9000


async def test_stock_on_hand_cannot_go_below_what_open_orders_hold(telegram, service, sessions):
    manager, buyer = Chat(telegram, service, MANAGER), Chat(telegram, service, BUYER)
    await buyer.say("mua 30 kg thanh long ruột đỏ hàm đức, tên Lan, sđt 0912345678, giao 12 Trần Phú, Phan Thiết")
    await buyer.say("tiền mặt")
    assert "DH" in await buyer.say("xác nhận")
    await manager.say(f"/lienket {await invite(sessions)}")
    assert "đã giữ 30 kg" in await manager.say("/kho thanh long ruột đỏ 20")
    assert "hết" not in await manager.say("/kho thanh long ruột đỏ 100")
    assert (await stock(sessions, "TL-RD-HD"))[0] == 70
    assert "đang có 0 kg" not in await manager.say("hết thanh long ruột đỏ rồi")  # 30 kg are still held


async def test_refusals_buyers_other_cooperatives_used_and_expired_codes_and_guessing(telegram, service, sessions):
    buyer, other, manager = (
        Chat(telegram, service, BUYER),
        Chat(telegram, service, OTHER),
        Chat(telegram, service, MANAGER),
    )
    assert "Chỉ tài khoản đã liên kết" in await buyer.say("/kho")
    assert "còn 500" not in await buyer.say("thanh long ruột đỏ còn 500 ký không")  # a buyer's question stays one
    code = await invite(sessions, "TIENPHAT")
    await other.say(f"/lienket {code}")
    assert "đã được dùng" in await manager.say(f"/lienket {code}")
    assert "Không tìm thấy sản phẩm đó" in await other.say("/kho thanh long ruot do ham duc 5")
    assert (await stock(sessions, "TL-RD-HD"))[0] == 800
    expired = await invite(sessions)
    async with sessions.begin() as session:
        await session.execute(update(InviteCode).values(expires_at=utcnow() - timedelta(hours=1)))
    assert "hết hạn" in await manager.say(f"/lienket {expired}")
    answers = [await manager.say(f"/lienket WRONG{n:03d}") for n in range(20)]
    assert "không đúng" in answers[0]
    assert all("quá nhiều lần" in a for a in answers[5:])
    assert "quá nhiều lần" in await manager.say(f"/lienket {await invite(sessions)}")
    async with sessions() as session:
        assert (await session.scalars(select(ProductChange))).all() == []


async def test_an_owner_invites_staff_from_chat(telegram, service, sessions):
    owner, newcomer = Chat(telegram, service, MANAGER), Chat(telegram, service, OTHER)
    await owner.say(f"/lienket {await invite(sessions)}")
    answer = await owner.say("/moi")
    code = answer.split("/lienket ")[-1].strip()
    assert "nhân viên" in await newcomer.say(f"/lienket {code}")
    assert "Chỉ chủ nhiệm" in await newcomer.say("/moi")
    assert "nhân viên" in await owner.say("/nhanvien")


async def test_the_cooperative_is_told_once_when_stock_falls_below_its_alert_level(telegram, service, sessions):
    manager, buyer = Chat(telegram, service, MANAGER), Chat(telegram, service, BUYER)
    await manager.say(f"/lienket {await invite(sessions)}")
    assert "790 kg" in await manager.say("/canhbao thanh long ruot do ham duc 790")
    for quantity in (20, 1):
        await buyer.say(
            f"mua {quantity} kg thanh long ruột đỏ hàm đức, tên Lan, sđt 0912345678, giao 12 Trần Phú, Phan Thiết"
        )
        await buyer.say("tiền mặt")
        assert "DH" in await buyer.say("xác nhận")
    await eventually(lambda: any("Sắp hết hàng" in t for t in manager.texts()))
    await asyncio.sleep(0.5)
    assert sum("Sắp hết hàng" in t for t in manager.texts()) == 1
    assert "bán được 779 kg, đơn giữ 21, 35.000 ₫/kg (sắp hết)" in (await manager.say("/kho")).replace("\xa0", " ")
    assert not any("Sắp hết hàng" in t for t in buyer.texts())
    orders = await manager.say("/donhang")
    assert "Thanh long ruột đỏ Hàm Đức 20 kg" in orders and "HTX Thương mại Dịch vụ Phan Thiết" in orders
    report = await manager.say("/baocao")
    assert "Thanh long ruột đỏ Hàm Đức: 21 kg – 735.000" in report and "7 ngày" in report
    [chart] = [c.params["photo"] for c in telegram.calls if c.method == "sendPhoto"]
    assert chart.startswith("https://shop.example/charts/") and chart.endswith(".png")
    served = await service.get(chart.removeprefix("https://shop.example"))
    assert served.status == 200 and served.content_type == "image/png"
    assert (await served.read()).startswith(b"\x89PNG")


async def test_a_product_added_step_by_step_with_a_photo_is_found_by_buyers(telegram, service, sessions):
    manager, buyer = Chat(telegram, service, MANAGER), Chat(telegram, service, BUYER)
    await manager.say(f"/lienket {await invite(sessions)}")
    assert "Tên sản phẩm" in await manager.say("/them")
    await manager.say("Thanh long ruột tím loại 1")
    await manager.say("kg")
    await manager.say("42k")
    await manager.say("150")
    await manager.say("VietGAP, Hữu cơ")
    photo = telegram.text_update("", chat_id=MANAGER)
    photo["message"].pop("text")
    photo["message"]["photo"] = [
        {"file_id": "AgACAgUAAxk-small", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "AgACAgUAAxk-large", "file_unique_id": "l", "width": 800, "height": 800},
    ]
    before = len(manager.texts())
    await telegram.deliver(photo, url=str(service.make_url("/webhooks/telegram")), secret=SECRET)
    added = await eventually(lambda: next((t for t in manager.texts()[before:] if "HAMDUC-" in t), None))
    assert "42.000" in added and "150 kg" in added
    async with sessions() as session:
        product = await session.scalar(select(Product).where(Product.name == "Thanh long ruột tím loại 1"))
        assert product.image_url == "tg-file:AgACAgUAAxk-large"
        assert product.certifications == ["VietGAP", "Hữu cơ"]
    assert "Thanh long ruột tím loại 1" in await buyer.say("có thanh long ruột tím không")
    assert "chưa có đơn" in await manager.say("/donhang")
