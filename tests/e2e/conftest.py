"""The service with one platform channel pointed at that platform's fake, workers running."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

CODE = re.compile(r"\bDH[0-9A-Z]{6}\b")
FULL_ORDER = "mua 3kg thanh long ruột đỏ hàm đức, tên Lan, sđt 0912345678, giao 12 Nguyễn Tất Thành, Phan Thiết"


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy (background workers deliver asynchronously)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)
    return result
