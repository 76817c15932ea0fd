"""The contract between a conversation and an engine: a `Turn` in, a `Reply` out.

An engine reads the user's words with the conversation so far (`history`, oldest first, as stored in
ai_messages, so the offline engine can resolve "those" and "it", and the Claude engine can rebuild its memory),
calls tools through `ai.albedo.tools.call` only, and returns one `Reply`. `on_text` receives the reply's text
as it is produced (the Claude engine streams it; the offline engine sends it whole).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ai.albedo.contract import Reply
from ai.albedo.tools import ToolContext


@dataclass(frozen=True)
class PastMessage:
    role: str  # "user" or "assistant"
    content: str
    intent: str | None = None
    entities: dict[str, Any] | None = None
    data: dict[str, Any] | None = None  # the stored Reply fields (table, records, proposal, ...)


@dataclass
class Turn:
    text: str
    history: list[PastMessage] = field(default_factory=list)
    context: dict[str, Any] | None = None  # the record the conversation was opened from: {"type", "id", "label"}
    on_text: Callable[[str], None] | None = None


class EngineUnavailable(Exception):
    """The engine cannot answer now (no key, budget spent, rate limited, timeout, API error): the conversation
    falls back to the offline engine and says why (`notice`)."""

    def __init__(self, notice: str) -> None:
        super().__init__(notice)
        self.notice = notice


class Engine(Protocol):
    name: str

    def respond(self, ctx: ToolContext, turn: Turn) -> Reply: ...
