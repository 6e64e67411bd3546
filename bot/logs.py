"""Structured log lines: the message followed by the ids a record carries (channel, chat, order ...)."""

from __future__ import annotations

import logging

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_OURS = ("bot", "channels", "catalog", "orders")


class KeyValueFormatter(logging.Formatter):
    """`time level logger message key=value ...`: the extras our own calls passed as `extra={...}`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if not record.name.startswith(_OURS):
            return line
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        return f"{line} {extras}" if extras else line


def setup(level: str) -> None:
    """Send structured lines to stderr at the given level."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
