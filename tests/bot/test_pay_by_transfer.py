"""Paying by VietQR transfer: the choice at checkout, the QR and details after confirming, `GET /pay/{code}.png`."""

from __future__ import annotations

import asyncio
import io
import re

import zxingcpp
from PIL import Image
from sqlalchemy import select, update

from bot.models import OutboundMessage
from orders import vietqr
from orders.models import Order, Partner, PartnerAccount
from tests.conftest import joined, payloads

CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")
ORDER = "mua 3 kg thanh long ruột đỏ hàm đức, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết"


async def decoded(client, code: str) -> str:
    response = await client.get(f"/pay/{code}.png")
    assert response.status == 200 and response.content_type == "image/png"
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(await response.read())))
    return str(found.text)


async def test_a_transfer_order_gets_its_qr_and_the_same_details_as_text(chat, client, sessions):
    asked = await chat("s1", text=ORDER)
    assert {"pay:cod", "pay:vietqr"} <= set(payloads(asked))
    summary = joined(await chat("s1", payload="pay:vietqr"))
    assert "Thanh toán: chuyển khoản (VietQR)" in summary
    replies = await chat("s1", payload="confirm")
    code = CODE.search(joined(replies)).group(0)
    [qr] = [r for r in replies if r["image_url"]]
    assert qr["image_url"] == f"/pay/{code}.png"
    assert "120.000\xa0₫" in qr["text"] and "Co-op Bank" in qr["text"] and "0101234567890" in qr["text"]
    assert f"Nội dung chuyển khoản: {code}" in qr["text"]
    expected = vietqr.payload("970446", "0101234567890", 120000, memo=code)
    assert await decoded(client, code) == expected
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.code == code))
        assert (order.payment_method, order.payment_status) == ("vietqr", "unpaid")


async def test_no_qr_for_cash_orders_paid_or_cancelled_ones_or_unknown_codes(chat, client, sessions):
    await chat("s1", text=ORDER)
    await chat("s1", payload="pay:cod")
    cash = CODE.search(joined(await chat("s1", payload="confirm"))).group(0)
    await chat("s2", text=ORDER)
    await chat("s2", payload="pay:vietqr")
    transfer = CODE.search(joined(await chat("s2", payload="confirm"))).group(0)
    await decoded(client, transfer)
    await chat("s2", text=f"hủy đơn {transfer}")
    for code in (cash, transfer, "DH000000"):
        response = await client.get(f"/pay/{code}.png")
        assert response.status == 404 and "error" in await response.json()


async def test_a_partner_without_a_bank_account_takes_cash_only(chat, sessions):
    async with sessions.begin() as session:
        await session.execute(update(Partner).values(bank_bin=None, bank_account=None, bank_account_name=None))
    asked = await chat("s1", text=ORDER)
    assert "pay:vietqr" not in payloads(asked)
    refused = joined(await chat("s1", text="chuyển khoản"))
    assert "chỉ nhận tiền mặt" in refused


async def test_the_partner_is_told_not_to_collect_cash_for_a_transfer_order(chat, sessions):
    async with sessions.begin() as session:
        partner = await session.scalar(select(Partner).where(Partner.code == "TM-PHANTHIET"))
        session.add(PartnerAccount(partner_id=partner.id, channel="telegram", chat_id="-100777", linked_by="test"))
    await chat("s1", text=ORDER)
    await chat("s1", payload="pay:vietqr")
    await chat("s1", payload="confirm")
    for _ in range(100):  # the app's news worker announces the routed order
        async with sessions() as session:
            body = await session.scalar(select(OutboundMessage.body).where(OutboundMessage.chat_id == "-100777"))
        if body:
            break
        await asyncio.sleep(0.05)
    assert body is not None
    assert "không thu tiền: khách chuyển khoản" in body["text"]
    assert "Thanh toán: chuyển khoản, chưa thanh toán" in body["text"]


async def test_moving_the_address_to_a_cash_only_partner_asks_how_to_pay_again(chat, sessions):
    await chat("s1", text=ORDER)
    await chat("s1", payload="pay:vietqr")
    async with sessions.begin() as session:
        await session.execute(update(Partner).values(bank_bin=None, bank_account=None, bank_account_name=None))
    replies = await chat("s1", payload="confirm")
    assert "chỉ nhận tiền mặt" in joined(replies) and payloads(replies)[-1:] == ["pay:cod"]
    assert not CODE.search(joined(replies))
