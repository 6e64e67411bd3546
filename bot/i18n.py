"""Gettext catalogues (Vietnamese first, English second) and babel formatting of money, quantities, dates."""

from __future__ import annotations

import gettext
import io
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from catalog.models import VIETNAM

LOCALES = Path(__file__).resolve().parent.parent / "locales"
SUPPORTED = ("vi", "en")


def chat_locale(hint: str | None, default: str) -> str:
    """The language of a chat we have not talked with yet: the platform's hint when we speak it, else `default`."""
    return hint if hint in SUPPORTED else default


_BABEL_LOCALE = {"vi": "vi_VN", "en": "en_US"}


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalogue of a locale, compiled in memory from its `.po` file (no build step needed)."""
    path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    if locale not in SUPPORTED or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def money(amount: int, locale: str) -> str:
    """150000 -> '150.000 ₫' (vi) or '₫150,000' (en)."""
    return format_currency(amount, "VND", locale=_BABEL_LOCALE.get(locale, "vi_VN"))


def quantity(value: Decimal, locale: str) -> str:
    """Decimal(1.5) -> '1,5' (vi) or '1.5' (en); whole numbers without decimals."""
    return format_decimal(value.normalize(), locale=_BABEL_LOCALE.get(locale, "vi_VN"))


def when(moment: datetime, locale: str) -> str:
    """A timestamp shown in Vietnam's time zone."""
    return format_datetime(moment, "short", tzinfo=VIETNAM, locale=_BABEL_LOCALE.get(locale, "vi_VN"))
