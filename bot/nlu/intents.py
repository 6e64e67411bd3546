"""What a buyer wants, from keyword rules over the folded, abbreviation-expanded words of a message."""

from __future__ import annotations

import re

INTENTS = (
    "greet",
    "help",
    "browse",
    "search",
    "price",
    "order",
    "cart",
    "checkout",
    "order_status",
    "cancel",
    "handoff",
    "origin",
    "thanks",
    "unknown",
)

# Each rule is a regex over " word word ... " (single spaces, padded); first match in this order wins,
# except that a message naming products is an order, price or search question before anything social.
_RULES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
        "cancel": r"^ (?:huy|thoi|cancel|bo qua|khong mua nua|khong dat nua)\b| huy don ",
        # Where a product comes from (bot/flows/origin.py): asked of a product, or of a batch code on a label;
        # "/start p_CODE" is a buyer arriving from a traceability page's Telegram link (bot/trace_page.py).
        "origin": r" (?:nguon goc|xuat xu|truy xuat|truy suat|origin|traceability|trace) |^ start p ",
        "order_status": r" (?:don (?:hang )?cua (?:toi|minh|em|anh|chi)|kiem tra don|tinh trang don|theo doi don"
        r"|xem don|don toi|don hang toi|don (?:hang )?den dau) "
        r"| (?:hang|don)\b.* (?:dau roi|toi dau|den dau|giao chua|sao chua|chua giao|chua toi|chua den|chua nhan) ",
        "handoff": r" (?:gap|noi chuyen voi|goi|can) (?:nhan vien|nguoi that|tu van vien|admin|chu shop)"
        r"| nhan vien | tu van vien | nguoi that ",
        "checkout": r" (?:thanh toan|dat hang|chot don|chot|checkout|dat luon|len don|xac nhan) ",
        "cart": r" (?:gio hang|xem gio|gio cua|gio do|cart|bo khoi gio|xoa khoi gio) ",
        "help": r"^ (?:help|huong dan|tro giup|giup (?:em|toi|minh))\b| (?:cach|lam sao|lam the nao|khong biet|xai sao"
        r"|dung sao) | (?:dat|mua) (?:hang )?(?:sao|nhu nao|the nao) ",
        "thanks": r" (?:cam on|camon|cmon|thanks?|thank you|tks) ",
        "greet": r"^ (?:xin chao|chao|hello|hi|alo|menu|start|bat dau|shop oi|ad oi)\b",
        "browse": r" (?:san pham|danh sach|xem hang|cua hang|hop tac xa|htx|catalog|mat hang"
        r"|(?:co|ban) (?:nhung )?gi) ",
    }.items()
}
_PRICE = re.compile(r" (?:gia|bao nhieu tien|bao nhieu|nhieu tien|bang gia) | nhieu (?:\d|mot )")
_PRICE_LIST = re.compile(r" (?:bang gia|gia ca|gia cac) ")
_ORDER_VERB = re.compile(r"^ (?:mua|lay|cho(?! hoi)|dat|them|order|ship)\b| (?:mua|lay|dat|them|order) ")
_REMOVE = re.compile(r"^ (?:bo|xoa|bot|khong lay) ")
_SET = re.compile(r"^ (?:sua|doi) ")


def classify(words: list[str], has_items: bool, mentions_money: bool, has_quantity: bool, has_order_code: bool) -> str:
    """One intent of `INTENTS` for a message."""
    text = f" {' '.join(words)} "
    if not words:
        return "order_status" if has_order_code else "unknown"
    if _RULES["cancel"].search(text):
        return "cancel"
    if _RULES["origin"].search(text):
        return "origin"
    if _RULES["order_status"].search(text) or (has_order_code and not has_items):
        return "order_status"
    if has_items:
        if _PRICE.search(text) or (mentions_money and not _ORDER_VERB.search(text)):
            return "price"
        if _REMOVE.search(text) or _SET.search(text):
            return "cart"
        if has_quantity or _ORDER_VERB.search(text):
            return "order"
        return "search"
    if _PRICE_LIST.search(text):
        return "price"
    for name in ("handoff", "help", "checkout", "cart", "thanks", "greet", "browse"):
        if _RULES[name].search(text):
            return name
    return "unknown"


def cart_action(words: list[str]) -> str | None:
    """ "remove" for "bỏ/xóa ...", "set" for "sửa/đổi ...", else None."""
    text = f" {' '.join(words)} "
    if _REMOVE.search(text):
        return "remove"
    if _SET.search(text):
        return "set"
    return None
