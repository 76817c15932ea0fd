from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from core.activities.schemas import ExactText, RecordSchema, UtcDatetime
from core.schemas import ReadSchema

Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["open", "in_progress", "done", "cancelled"]


class TaskCreate(RecordSchema):
    title: str = Field(min_length=1, max_length=255)
    description: ExactText(50_000) | None = None  # type: ignore[valid-type]
    due_at: UtcDatetime | None = None
    priority: Priority = "normal"
    status: Status = "open"
    assignee_id: UUID | None = Field(None, description="An active user; defaults to the caller.")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    deal_id: UUID | None = None


class TaskUpdate(RecordSchema):
    """Complete with `status: done`; reopen with `open` or `in_progress`; reschedule with a new `dueAt`."""

    title: str | None = Field(None, min_length=1, max_length=255)
    description: ExactText(50_000) | None = None  # type: ignore[valid-type]
    due_at: UtcDatetime | None = None
    priority: Priority | None = None
    status: Status | None = None
    assignee_id: UUID | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None
    deal_id: UUID | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")


class TaskRead(ReadSchema):
    model_config = ConfigDict(str_strip_whitespace=False)  # return text exactly as stored

    id: UUID
    title: str
    description: str | None
    due_at: datetime | None
    priority: str
    status: str
    assignee_id: UUID
    created_by: UUID | None
    completed_at: datetime | None
    contact_id: UUID | None
    account_id: UUID | None
    deal_id: UUID | None
    is_overdue: bool = Field(description="Open or in progress and due in the past.")
    created_at: datetime
    updated_at: datetime
    version: int
