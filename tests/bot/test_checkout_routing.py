"""Checkout shows who delivers what, for which fee, before the buyer confirms: splits, no coverage, changes."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from catalog.models import vietnam_day
from orders.models import CartLine, Order, Partner
from tests.conftest import joined, payloads

CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")
BUYER = "tên Lan, sđt 0912345678"


async def summary_for(chat, session: str, order: str, address: str) -> str:
    """Order by text with the buyer's details, choose cash on delivery, and return the summary to confirm."""
    await chat(session, text=f"{order}, {BUYER}, giao {address}")
    return joined(await chat(session, payload="pay:cod"))


async def set_partner(sessions, code: str, **values) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Partner).where(Partner.code == code).values(**values))


async def test_one_partner_delivers_to_lam_dong_with_its_fee_shown_before_confirming(chat):
    summary = await summary_for(chat, "s1", "mua 2 kg cà chua", "12 Nguyễn Tất Thành, Phan Thiết")
    assert "Do HTX Thương mại Dịch vụ Phan Thiết giao:" in summary
    assert "Phí giao: 15.000\xa0₫" in summary and "Tổng thanh toán: 75.000\xa0₫" in summary


async def test_free_shipping_from_the_partners_threshold(chat):
    summary = await summary_for(chat, "s1", "mua 10 kg thanh long ruột đỏ hàm đức", "12 Nguyễn Tất Thành, Phan Thiết")
    assert "Phí giao: miễn phí" in summary and "Tổng thanh toán: 350.000\xa0₫" in summary


async def test_a_cart_no_single_partner_takes_is_split_and_each_part_gets_its_own_order(chat, sessions):
    await set_partner(sessions, "TM-SAIGON", categories=["rau"])  # vegetables only: fruit goes by carrier
    await chat("s1", text="mua 5 kg thanh long ruột đỏ hàm đức")
    summary = await summary_for(chat, "s1", "mua 3 kg cà chua", "45 Lê Lợi, Phường Sài Gòn, TP Hồ Chí Minh")
    assert "Phần 1/2, do HTX Thương mại Nông sản Sài Gòn giao:" in summary
    assert "Phần 2/2, do HTX Thương mại Nông sản Việt giao:" in summary
    assert "Phí giao: 30.000\xa0₫" in summary and "Phí giao: 45.000\xa0₫" in summary
    assert "Tổng thanh toán: 340.000\xa0₫" in summary  # 90.000 + 30.000 + 175.000 + 45.000
    done = joined(await chat("s1", payload="confirm"))
    codes = CODE.findall(done)
    assert len(set(codes)) == 2, done
    async with sessions() as session:
        orders = (await session.scalars(select(Order).where(Order.code.in_(codes)).order_by(Order.id))).all()
        assert [(o.partner.code, o.subtotal, o.shipping_fee) for o in orders] == [
            ("TM-SAIGON", 90000, 30000),
            ("TM-TOANQUOC", 175000, 45000),
        ]
        assert {o.checkout_code for o in orders} == {orders[0].code}
        assert {o.province for o in orders} == {"Hồ Chí Minh"}
    status = joined(await chat("s1", text=f"kiểm tra đơn {orders[1].code}"))
    assert f"Đặt cùng với: {orders[0].code}" in status and "Giao bởi: HTX Thương mại Nông sản Việt" in status


async def test_vegetables_to_ha_noi_are_refused_before_confirming(chat):
    summary = await summary_for(chat, "s1", "mua 2 bó rau muống", "số 5 Tràng Tiền, Phường Hoàn Kiếm, Hà Nội")
    assert "chưa HTX thương mại nào giao Rau muống tới Hà Nội" in summary
    assert "confirm" not in payloads(await chat("s1", payload="pay:cod"))


async def test_what_cannot_go_to_ha_noi_stays_in_the_cart_and_the_rest_is_ordered(chat, sessions):
    await chat("s1", text="mua 2 bó rau muống")
    summary = await summary_for(chat, "s1", "mua 5 kg thanh long ruột đỏ hàm đức", "số 5 Tràng Tiền, Hoàn Kiếm, Hà Nội")
    assert "Không giao được tới Hà Nội: Rau muống (vẫn để trong giỏ hàng)." in summary
    assert "Do HTX Thương mại Nông sản Việt giao:" in summary and "Phí giao: 45.000\xa0₫" in summary
    [code] = set(CODE.findall(joined(await chat("s1", payload="confirm"))))
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.code == code))
        assert [line.sku for line in order.lines] == ["TL-RD-HD"]
        left = (await session.scalars(select(CartLine))).all()
        assert [line.product.sku for line in left] == ["RAU-MUONG-TP"]


async def test_below_the_carriers_minimum_nothing_can_go_far(chat):
    summary = await summary_for(chat, "s1", "mua 1 kg thanh long ruột trắng hàm đức", "số 5 Tràng Tiền, Hà Nội")
    assert "chưa HTX thương mại nào giao Thanh long ruột trắng Hàm Đức tới Hà Nội" in summary


async def test_an_address_without_a_known_province_asks_which_province(chat):
    await chat("s1", text="mua 2 kg cà chua, tên Lan, sđt 0912345678")
    asked = joined(await chat("s1", text="12 đường số 7, khu phố 3"))
    assert "thuộc tỉnh/thành phố nào" in asked
    again = joined(await chat("s1", text="không biết"))
    assert "chưa nhận ra tỉnh/thành" in again
    await chat("s1", text="Lâm Đồng")
    summary = joined(await chat("s1", payload="pay:cod"))
    assert "Do HTX Thương mại Dịch vụ Phan Thiết giao:" in summary


async def test_a_partner_filling_up_between_summary_and_confirm_shows_the_new_delivery(chat, sessions):
    summary = await summary_for(chat, "s1", "mua 5 kg thanh long ruột đỏ hàm đức", "12 Nguyễn Tất Thành, Phan Thiết")
    assert "Phan Thiết giao" in summary
    await set_partner(sessions, "TM-PHANTHIET", daily_capacity=3, load=3, load_day=vietnam_day())
    changed = joined(await chat("s1", payload="confirm"))
    assert "Việc giao hàng vừa thay đổi" in changed and not CODE.search(changed)
    assert "Do HTX Thương mại Nông sản Việt giao:" in changed and "Phí giao: 45.000\xa0₫" in changed
    assert CODE.search(joined(await chat("s1", payload="confirm")))
