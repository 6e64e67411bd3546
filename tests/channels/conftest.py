"""What the platform modules' webhook tests share: a store that records instead of writing the inbox."""

from __future__ import annotations

import pytest

from channels.types import Incoming


class RecordingStore:
    """Stands in for the inbox: records each batch the webhook stored; `new=False` plays a redelivery."""

    def __init__(self, new: bool = True) -> None:
        self.batches: list[list[Incoming]] = []
        self.new = new

    async def __call__(self, incoming: list[Incoming]) -> int:
        self.batches.append(incoming)
        return len(incoming) if self.new else 0

    @property
    def incoming(self) -> list[Incoming]:
        """Every message stored, batches run together."""
        return [message for batch in self.batches for message in batch]


@pytest.fixture
def store() -> RecordingStore:
    """A fresh recording store."""
    return RecordingStore()
