"""A calendar day in a message: "hôm nay", "hôm qua", "hôm kia", "20/11", "ngày 20-11", "20/11/2026"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

# On folded text. "." is not a separator: "1.5" is a quantity, not the 1st of May.
_NUMERIC = re.compile(r"(?:\bngay\s+)?(?<![\w.,/-])(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}|\d{2}))?(?![\w/-])")
_RELATIVE = re.compile(r"(?:\bngay\s+)?\bhom (nay|qua|kia)\b")
_DAYS_BACK = {"nay": 0, "qua": 1, "kia": 2}


@dataclass(frozen=True)
class SaidDay:
    """A day found in the text and where it stood; `value` is None for a day the calendar lacks ("31/02")."""

    value: date | None
    start: int
    end: int


def find_day(folded: str, today: date) -> SaidDay | None:
    """The first day written in the folded text. Without a year, the day and month nearest to `today` is meant
    ("30/12" written on 2 January is last year's, "27/11" written on 26 November is tomorrow)."""
    found = [m for m in (_NUMERIC.search(folded), _RELATIVE.search(folded)) if m]
    if not found:
        return None
    match = min(found, key=lambda m: m.start())
    if match.re is _RELATIVE:
        return SaidDay(today - timedelta(days=_DAYS_BACK[match.group(1)]), match.start(), match.end())
    day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
    if year is not None:
        value = _day(int(year) + (2000 if len(year) == 2 else 0), month, day)
    else:
        near = [d for d in (_day(today.year + shift, month, day) for shift in (-1, 0, 1)) if d]
        value = min(near, key=lambda d: abs(d - today)) if near else None
    return SaidDay(value, match.start(), match.end())


def without(text: str, said: SaidDay | None) -> str:
    """The text with the day's span blanked out, so the rest reads as product and quantity alone."""
    return text if said is None else text[: said.start] + " " * (said.end - said.start) + text[said.end :]


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
