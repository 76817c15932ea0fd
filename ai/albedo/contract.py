"""What both engines return, and what a tool returns to them: one structured reply, whichever engine answered.

A `Reply` is the text shown to the user plus everything behind it: what was understood (`intent`, `entities`),
the tool calls made (each with its arguments and the records behind its figures), the data shown (a value, a
table, a chart spec), a `proposal` when the request was a write (nothing changes until it is confirmed), and
`options` when Albedo asks which record was meant. The API returns it as JSON, the page renders it, and the
assistant message stored in `ai_messages` keeps it (intent, entities, action_taken, data).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EngineName = Literal["offline", "claude"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordRef(Model):
    """A record a figure or row came from, so a reply can link to it."""

    type: Literal["contact", "account", "deal", "task", "activity", "note", "user"]
    id: str
    label: str


class Table(Model):
    """Rows to show: `columns` are display names, `keys` the field each column holds (same order)."""

    columns: list[str]
    keys: list[str]
    rows: list[list[Any]]
    total: int | None = Field(None, description="How many matched in all, when more than the rows shown.")
    records: list[RecordRef] = Field(default_factory=list, description="One per row, when rows are records.")


class Chart(Model):
    """A chart of `table`: `x` and `y` are keys of its columns."""

    type: Literal["bar", "line", "pie"]
    x: str
    y: str
    title: str | None = None


class Change(Model):
    """One field of one record as a proposal would change it (old is None for a new record)."""

    record: RecordRef | None
    field: str
    old: Any = None
    new: Any = None


class ProposalView(Model):
    id: str
    action: str
    summary: str
    changes: list[Change]
    status: Literal["pending", "confirmed", "cancelled", "failed", "undone"] = "pending"


class Option(Model):
    """One answer to a clarifying question: choosing it sends `reply` as the user's next message."""

    label: str
    reply: str
    record: RecordRef | None = None


class ToolResult(Model):
    """What a tool hands back: facts for the reply's words, and the data to show."""

    ok: bool = True
    error: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict, description="Named figures and words a reply may use.")
    value: Any = None
    table: Table | None = None
    chart: Chart | None = None
    records: list[RecordRef] = Field(default_factory=list)
    proposal: ProposalView | None = None


class ToolCall(Model):
    name: str
    arguments: dict[str, Any]
    ok: bool = True
    error: str | None = None
    records: list[RecordRef] = Field(default_factory=list)


class Reply(Model):
    text: str
    engine: EngineName = "offline"
    intent: str | None = None
    entities: dict[str, Any] = Field(default_factory=dict)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    value: Any = None
    table: Table | None = None
    chart: Chart | None = None
    proposal: ProposalView | None = None
    options: list[Option] = Field(default_factory=list)
    notice: str | None = Field(None, description="Why the offline engine answered instead of Claude, etc.")
    suggestions: list[str] = Field(default_factory=list, description="Questions the user might ask next.")
