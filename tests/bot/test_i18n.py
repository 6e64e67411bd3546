"""Every sentence the bot says is in the Vietnamese catalogue, and money reads the Vietnamese way."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot import i18n

ROOT = Path(__file__).resolve().parents[2]


def source_messages() -> set[str]:
    """Every msgid in the Python code and the page templates, extracted as `make messages` does (babel.cfg)."""
    methods = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found = extract_from_dir(str(ROOT / "bot"), method_map=methods, keywords={"_": None, "gettext": None})
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def test_every_user_facing_sentence_has_a_vietnamese_translation():
    with (ROOT / "locales/vi/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po, locale="vi")
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert source_messages() - translated == set()


def test_translations_load_and_fall_back_to_english():
    assert i18n.translations("vi").gettext("Check out") == "Đặt hàng"
    assert i18n.translations("en").gettext("Check out") == "Check out"
    assert i18n.translations("fr").gettext("Check out") == "Check out"


def test_money_and_quantities_follow_the_locale():
    assert i18n.money(150000, "vi") == "150.000\xa0₫"
    assert i18n.money(150000, "en") == "₫150,000"
    assert i18n.quantity(Decimal("1.500"), "vi") == "1,5"
    assert i18n.quantity(Decimal("20.000"), "vi") == "20"
