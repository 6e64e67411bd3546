"""Conversation flows, one module each, ending in a `Flow` table (entry intents, states, button payloads)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.context import Step


@dataclass(frozen=True)
class Flow:
    """A flow as a table: which intents enter it, which step handles each state, which payloads it owns."""

    name: str
    entry: dict[str, Step] = field(default_factory=dict)
    states: dict[str, Step] = field(default_factory=dict)
    payloads: dict[str, Step] = field(default_factory=dict)
