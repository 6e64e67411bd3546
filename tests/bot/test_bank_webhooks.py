"""Bank webhooks end to end: a web chat order paid by transfer, confirmed through SePay or Casso, the buyer and the
partner told once; refused calls change nothing; what cannot be matched waits in `htx payments list`."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
from typing import Any

import pytest
from sqlalchemy import select

from bot import payments_cli
from bot.app import create_app
from bot.bank_webhooks import casso_signed
from bot.models import OutboundMessage
from bot.order_texts import partner_order_message
from orders import vietqr
from orders.models import BankTransaction, Order, Partner, PartnerAccount
from tests.bot.test_pay_by_transfer import CODE, ORDER, decoded
from tests.conftest import joined, settings_for_tests

SEPAY_KEY = "sepay-test-key-3f9a"
CASSO_KEY = "casso-test-key-8c1d"
ACCOUNT = "0101234567890"  # TM-PHANTHIET's receiving account, where a web chat order to Phan Thiết is paid
PARTNER_CHAT = "-100777"
TOTAL = 120_000  # 3 kg of red dragon fruit and the shipping fee, as ORDER gives them

# Casso's official Webhook V2 sample (CassoHQ/casso-webhook-v2-verify-signature, python.py): key, header, body.
CASSO_SAMPLE_KEY = "mgExMrjj4i7a1p8Cs6LmFbpCd8lbw4sSX4LZXPag7TKazeIogtR90tvWYTkwQbvs"
CASSO_SAMPLE_HEADER = (
    "t=1727948258788,v1=ed0a4bd2e826d5cb69988cdb141e6c1a080e21f3b57eb72cd78192220042b9e7dde0868fc667faea8e224900fa7904e7"
    "c88dfa098032fb2d6b6996856e8b7ff3"
)
CASSO_SAMPLE = {
    "error": 0,
    "data": {
        "id": 0,
        "reference": "MA_GIAO_DICH_THU_NGHIEM",
        "description": "giao dich thu nghiem",
        "amount": 599000,
        "runningBalance": 25000000,
        "transactionDateTime": "2024-10-03 15:06:37",
        "accountNumber": "88888888",
        "bankName": "VPBank",
        "bankAbbreviation": "VPB",
        "virtualAccountNumber": "",
        "virtualAccountName": "",
        "counterAccountName": "NGUYEN VAN A",
        "counterAccountNumber": "8888888888",
        "counterAccountBankId": "970415",
        "counterAccountBankName": "VietinBank",
    },
}


@pytest.fixture
async def client(aiohttp_client: Any, engine: Any, sessions: Any) -> Any:
    """The app with both bank webhooks on; the partner delivering to Phan Thiết has a linked chat."""
    async with sessions.begin() as session:
        partner = await session.scalar(select(Partner).where(Partner.code == "TM-PHANTHIET"))
        session.add(PartnerAccount(partner_id=partner.id, channel="telegram", chat_id=PARTNER_CHAT, linked_by="test"))
    settings = settings_for_tests(sepay_api_key=SEPAY_KEY, casso_webhook_key=CASSO_KEY)
    return await aiohttp_client(create_app(settings, engine=engine))


@pytest.fixture
def transfer_order(chat: Any) -> Any:
    """Place a web chat order to pay by transfer; returns its code."""

    async def place(session: str = "s1") -> str:
        await chat(session, text=ORDER)
        await chat(session, payload="pay:vietqr")
        found = CODE.search(joined(await chat(session, payload="confirm")))
        assert found
        return found.group(0)

    return place


def sepay_body(memo: str, amount: int, txn_id: int = 92704, **changes: Any) -> dict[str, Any]:
    """A SePay webhook body (vietnam.md §2.1) for money into the partner's account."""
    body = {
        "id": txn_id,
        "gateway": "Co-opBank",
        "transactionDate": "2026-05-14 14:02:37",
        "accountNumber": ACCOUNT,
        "code": None,
        "content": memo,
        "transferType": "in",
        "transferAmount": amount,
        "accumulated": 19077000,
        "subAccount": None,
        "referenceCode": "MBVCB.3278907687",
    }
    return {**body, **changes}


async def sepay(client: Any, body: Any, key: str | None = SEPAY_KEY) -> Any:
    headers = {"Authorization": f"Apikey {key}"} if key else {}
    return await client.post("/webhooks/bank/sepay", json=body, headers=headers)


def casso_body(memo: str, amount: int, txn_id: int = 1844887) -> dict[str, Any]:
    """A Casso Webhook V2 body (vietnam.md §2.2): `data` is one transaction."""
    data = {**CASSO_SAMPLE["data"], "id": txn_id, "reference": "FT24277", "description": memo, "amount": amount}
    return {"error": 0, "data": {**data, "accountNumber": ACCOUNT, "transactionDateTime": "2026-05-14 14:02:37"}}


def casso_header(body: dict[str, Any], key: str = CASSO_KEY, timestamp: int = 1778742157000) -> str:
    """Sign as Casso's Python sample does: HMAC-SHA512 of `t.` and the compact JSON, objects' keys sorted A→Z."""

    def sort(value: Any) -> Any:  # the sample's sort_obj_data_by_key: objects, not objects inside arrays
        return {k: sort(value[k]) for k in sorted(value)} if isinstance(value, dict) else value

    message = f"{timestamp}." + json.dumps(sort(body), separators=(",", ":"))
    return f"t={timestamp},v1=" + hmac.new(key.encode(), message.encode(), hashlib.sha512).hexdigest()


async def casso(client: Any, body: Any, header: str | None = None) -> Any:
    signature = header if header is not None else casso_header(body)
    return await client.post("/webhooks/bank/casso", json=body, headers={"X-Casso-Signature": signature})


async def order_of(sessions: Any, code: str) -> Order:
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.code == code))
        assert order is not None
        return order


async def told(sessions: Any, chat_id: str) -> list[dict[str, Any]]:
    """Proactive messages to one chat (not replies to its own messages), oldest first."""
    async with sessions() as session:
        query = select(OutboundMessage.body).where(
            OutboundMessage.chat_id == chat_id, OutboundMessage.proactive.is_(True)
        )
        return list((await session.scalars(query.order_by(OutboundMessage.id))).all())


async def buyer_notes(sessions: Any, chat_id: str = "s1") -> list[str]:
    """What the buyer was told after confirming."""
    return [body["text"] for body in await told(sessions, chat_id)]


async def payment_notes(sessions: Any) -> list[str]:
    """What the partner's chat was told about payments: plain texts, unlike the routed order with its buttons."""
    return [body["text"] for body in await told(sessions, PARTNER_CHAT) if body["type"] == "text"]


async def stored(sessions: Any) -> list[BankTransaction]:
    async with sessions() as session:
        return list((await session.scalars(select(BankTransaction).order_by(BankTransaction.id))).all())


async def htx_payments(engine: Any, capsys: Any, *argv: str) -> tuple[int, str]:
    """Run `htx payments ARGV` on the test database; (exit status, what it printed)."""
    parser = argparse.ArgumentParser(prog="htx")
    payments_cli.add_commands(parser.add_subparsers(dest="command", required=True))
    url = engine.url.render_as_string(hide_password=False)
    status = await payments_cli.run(settings_for_tests(database_url=url), parser.parse_args(["payments", *argv]))
    return status, capsys.readouterr().out


async def test_an_exact_sepay_transfer_pays_the_order_and_tells_buyer_and_partner(client, transfer_order, sessions):
    code = await transfer_order()
    memo = f"MBVCB.3278907687.{code.lower()}.CT tu 0123456789 NGUYEN VAN A toi {ACCOUNT}"
    response = await sepay(client, sepay_body(memo, TOTAL))
    assert response.status == 200 and await response.json() == {"success": True}
    order = await order_of(sessions, code)
    assert (order.payment_status, order.paid_amount) == ("paid", TOTAL)
    assert await buyer_notes(sessions) == [
        f"Đã nhận 120.000\xa0₫ cho đơn {code}: đơn đã được thanh toán đủ. Cảm ơn anh/chị!"
    ]
    assert await payment_notes(sessions) == [f"Đơn {code} đã thanh toán: đã nhận 120.000\xa0₫ qua chuyển khoản."]
    assert "Thanh toán: chuyển khoản, đã thanh toán" in partner_order_message(order, "vi").text
    assert (await client.get(f"/pay/{code}.png")).status == 404


async def test_a_casso_v2_transfer_pays_the_order(client, transfer_order, sessions):
    code = await transfer_order()
    response = await casso(client, casso_body(f"CT DEN:512345678901 {code}", TOTAL))
    assert response.status == 200
    order = await order_of(sessions, code)
    assert (order.payment_status, order.paid_amount) == ("paid", TOTAL)
    [txn] = await stored(sessions)
    assert (txn.provider, txn.txn_id, txn.reference, txn.outcome) == ("casso", "1844887", "FT24277", "paid")


async def test_a_partial_transfer_tells_the_buyer_what_is_missing_and_the_rest_completes_it(
    client, transfer_order, sessions
):
    code = await transfer_order()
    await sepay(client, sepay_body(f"dh {code[2:]}", 100_000, txn_id=1))
    order = await order_of(sessions, code)
    assert (order.payment_status, order.paid_amount) == ("partial", 100_000)
    [partial] = await buyer_notes(sessions)
    assert "còn thiếu 20.000\xa0₫" in partial and f"chuyển thêm 20.000\xa0₫ với nội dung {code}" in partial
    assert "đã chuyển 100.000\xa0₫, còn thiếu 20.000\xa0₫" in partner_order_message(order, "vi").text
    assert await decoded(client, code) == vietqr.payload("970446", "0101234567890", 20_000, memo=code)  # the rest
    await sepay(client, sepay_body(f"DH-{code[2:]}", 20_000, txn_id=2))
    order = await order_of(sessions, code)
    assert (order.payment_status, order.paid_amount) == ("paid", TOTAL)
    assert len(await buyer_notes(sessions)) == 2 and len(await payment_notes(sessions)) == 2
    assert "Thanh toán: chuyển khoản, đã thanh toán" in partner_order_message(order, "vi").text


async def test_paying_too_much_pays_the_order_and_flags_the_refund(client, transfer_order, sessions, engine, capsys):
    code = await transfer_order()
    await sepay(client, sepay_body(code, 150_000))
    order = await order_of(sessions, code)
    assert (order.payment_status, order.paid_amount) == ("overpaid", 150_000)
    [to_buyer] = await buyer_notes(sessions)
    assert "hoàn lại anh/chị 30.000\xa0₫" in to_buyer
    [note] = await payment_notes(sessions)
    assert "hoàn lại 30.000\xa0₫ cho khách (0912345678)" in note
    assert "dư 30.000\xa0₫" in partner_order_message(order, "vi").text
    status, listed = await htx_payments(engine, capsys, "list")
    assert status == 0 and f"over 150,000đ {code}" in listed


async def test_an_unknown_memo_is_kept_for_review_and_can_be_assigned_by_hand(
    client, transfer_order, sessions, engine, capsys
):
    code = await transfer_order()
    await sepay(client, sepay_body("chuyen tien mua thanh long", TOTAL))
    [txn] = await stored(sessions)
    assert (txn.outcome, txn.needs_review, txn.order_id) == ("unmatched", True, None)
    assert (await order_of(sessions, code)).payment_status == "unpaid" and await buyer_notes(sessions) == []
    status, listed = await htx_payments(engine, capsys, "list")
    assert status == 0 and f"#{txn.id} unmatched 120,000đ no order" in listed
    assert "'chuyen tien mua thanh long'" in listed
    status, assigned = await htx_payments(engine, capsys, "assign", str(txn.id), code.lower())
    assert status == 0 and f"applied to {code}" in assigned
    assert (await order_of(sessions, code)).payment_status == "paid"
    assert len(await buyer_notes(sessions)) == 1
    assert await htx_payments(engine, capsys, "list") == (0, "nothing to review\n")
    assert (await htx_payments(engine, capsys, "assign", str(txn.id), code))[0] == 1


async def test_transfers_of_billions_are_kept_and_an_order_overpaid_by_billions_flags_the_refund(
    client, transfer_order, sessions
):
    code = await transfer_order()
    assert (await sepay(client, sepay_body("thanh toan hop dong si", 3_000_000_000, txn_id=1))).status == 200
    assert (await sepay(client, sepay_body(code, 5_000_000_000, txn_id=2))).status == 200
    unmatched, over = await stored(sessions)
    assert (unmatched.outcome, unmatched.amount, over.outcome, over.amount) == (
        "unmatched",
        3_000_000_000,
        "over",
        5_000_000_000,
    )
    assert (await order_of(sessions, code)).paid_amount == 5_000_000_000


async def test_a_review_is_closed_with_a_note(client, transfer_order, sessions, engine, capsys):
    code = await transfer_order()
    await sepay(client, sepay_body(code, 150_000))
    [txn] = await stored(sessions)
    status, _ = await htx_payments(engine, capsys, "done", str(txn.id), "--note", "refunded 30.000 đ")
    assert status == 0
    assert await htx_payments(engine, capsys, "list") == (0, "nothing to review\n")
    _, everything = await htx_payments(engine, capsys, "list", "--all")
    assert "done — refunded 30.000 đ" in everything
    assert (await htx_payments(engine, capsys, "done", "999"))[0] == 1


async def test_a_redelivered_transaction_is_processed_once(client, transfer_order, sessions):
    code = await transfer_order()
    body = sepay_body(code, 100_000)
    for _ in range(3):
        response = await sepay(client, body)
        assert response.status == 200 and await response.json() == {"success": True}
    assert (await order_of(sessions, code)).paid_amount == 100_000
    assert len(await stored(sessions)) == 1
    assert len(await buyer_notes(sessions)) == 1 and len(await payment_notes(sessions)) == 1


async def test_deliveries_arriving_at_once_are_counted_once(client, transfer_order, sessions):
    codes = [await transfer_order(f"s{n}") for n in range(4)]
    bodies = [sepay_body(code, TOTAL, txn_id=n) for n, code in enumerate(codes)]
    answers = await asyncio.gather(*(sepay(client, body) for body in bodies for _ in range(3)))
    assert {answer.status for answer in answers} == {200}
    assert len(await stored(sessions)) == len(codes)
    for n, code in enumerate(codes):
        assert (await order_of(sessions, code)).paid_amount == TOTAL
        assert len(await buyer_notes(sessions, f"s{n}")) == 1


async def test_money_going_out_is_recorded_and_changes_no_order(client, transfer_order, sessions):
    code = await transfer_order()
    assert (await sepay(client, sepay_body(code, TOTAL, transferType="out"))).status == 200
    [txn] = await stored(sessions)
    assert (txn.outcome, txn.amount, txn.needs_review) == ("ignored", -TOTAL, False)
    assert (await order_of(sessions, code)).paid_amount == 0 and await buyer_notes(sessions) == []


async def test_the_partner_webhook_gets_an_order_payment_event(client, transfer_order, sessions):
    async with sessions.begin() as session:
        partner = await session.scalar(select(Partner).where(Partner.code == "TM-PHANTHIET"))
        partner.webhook_url, partner.webhook_secret = "https://partner.example/htx-events", "whsec_test"
    code = await transfer_order()
    await sepay(client, sepay_body(code, 100_000))
    [txn] = await stored(sessions)
    async with sessions() as session:
        bodies = (await session.scalars(select(OutboundMessage.body).where(OutboundMessage.channel == "partner"))).all()
    [event] = [body["data"] for body in bodies if body["name"] == "order.payment"]
    assert (event["id"], event["type"]) == (f"pay_{txn.id}", "order.payment")
    assert event["event"]["outcome"] == "partial" and event["event"]["missing"] == 20_000
    assert (event["event"]["amount"], event["event"]["paid_amount"], event["event"]["refund"]) == (100_000, 100_000, 0)
    assert event["order"]["code"] == code and event["order"]["payment_status"] == "partial"


@pytest.mark.parametrize("key", [None, "wrong-key", SEPAY_KEY.upper()])
async def test_a_sepay_call_without_the_right_api_key_is_refused_and_changes_nothing(
    client, transfer_order, sessions, key
):
    code = await transfer_order()
    response = await sepay(client, sepay_body(code, TOTAL), key=key)
    assert response.status == 401 and "error" in await response.json()
    await assert_nothing_changed(sessions, code)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1778742157000,v1=" + "0" * 128,
        "v1=abc",
        casso_header(casso_body("DH", 1), key="another-key"),
    ],
)
async def test_a_casso_call_without_a_valid_signature_is_refused_and_changes_nothing(
    client, transfer_order, sessions, header
):
    code = await transfer_order()
    response = await casso(client, casso_body(code, TOTAL), header=header)
    assert response.status == 401 and "error" in await response.json()
    await assert_nothing_changed(sessions, code)


async def test_a_casso_body_changed_after_signing_is_refused(client, transfer_order, sessions):
    code = await transfer_order()
    signed = casso_header(casso_body(code, 1_000))
    response = await casso(client, casso_body(code, TOTAL), header=signed)
    assert response.status == 401
    await assert_nothing_changed(sessions, code)


async def assert_nothing_changed(sessions: Any, code: str) -> None:
    order = await order_of(sessions, code)
    assert (order.payment_status, order.paid_amount) == ("unpaid", 0)
    assert await stored(sessions) == [] and await buyer_notes(sessions) == []
    assert await payment_notes(sessions) == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        json.dumps(sepay_body("DH7K2M9Q", "120000")).encode(),  # type: ignore[arg-type]
        json.dumps(sepay_body("DH7K2M9Q", 120000, transferType="sideways")).encode(),
        json.dumps(sepay_body("DH7K2M9Q", 120000, id=True)).encode(),
        json.dumps(sepay_body("DH7K2M9Q", 120000, transactionDate="yesterday")).encode(),
        json.dumps({"id": 1}).encode(),
    ],
)
async def test_a_malformed_sepay_body_is_a_400_and_stores_nothing(client, sessions, body):
    headers = {"Authorization": f"Apikey {SEPAY_KEY}", "Content-Type": "application/json"}
    response = await client.post("/webhooks/bank/sepay", data=body, headers=headers)
    assert response.status == 400 and "error" in await response.json()
    assert await stored(sessions) == []


async def test_a_malformed_casso_transaction_is_a_400_and_stores_nothing(client, sessions):
    body = {"error": 0, "data": {"id": "1", "amount": 1000, "transactionDateTime": "2026-05-14 14:02:37"}}
    response = await casso(client, body)
    assert response.status == 400 and "error" in await response.json()
    legacy = {"error": 0, "data": [casso_body("DH7K2M9Q", 1000)["data"]]}  # the older webhook's array
    assert (await casso(client, legacy)).status == 400
    assert await stored(sessions) == []


@pytest.mark.parametrize("body", [{"error": 0, "data": {}}, {"error": 0, "data": None}, {"error": 0}])
async def test_the_casso_dashboard_test_call_is_acknowledged_and_stores_nothing(client, sessions, body):
    response = await casso(client, body)
    assert response.status == 200 and await response.json() == {"success": True}
    assert await stored(sessions) == []


async def test_bank_webhooks_are_off_until_their_key_is_set(aiohttp_client, engine, sessions):
    client = await aiohttp_client(
        create_app(settings_for_tests(sepay_api_key="", casso_webhook_key=None), engine=engine)
    )
    assert (await sepay(client, sepay_body("DH7K2M9Q", TOTAL), key="")).status == 404
    body = casso_body("DH7K2M9Q", TOTAL)
    assert (await casso(client, body, header=casso_header(body, key=""))).status == 404
    assert await stored(sessions) == []


def test_the_official_casso_sample_signature_verifies_and_a_changed_body_does_not():
    assert casso_signed(CASSO_SAMPLE_KEY, CASSO_SAMPLE_HEADER, CASSO_SAMPLE)
    changed = {**CASSO_SAMPLE, "data": {**CASSO_SAMPLE["data"], "amount": 5990000}}
    assert not casso_signed(CASSO_SAMPLE_KEY, CASSO_SAMPLE_HEADER, changed)
    assert not casso_signed("another key", CASSO_SAMPLE_HEADER, CASSO_SAMPLE)
