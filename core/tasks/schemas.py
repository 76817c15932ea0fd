from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field

from core.activities.schemas import MAX_BULK, ExactText, RecordSchema, UtcDatetime, no_version
from core.schemas import ReadSchema, Schema

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


class TaskReplace(TaskCreate):
    """PUT: the whole task. Fields left out are cleared or return to their defaults (priority `normal`, status
    `open`: a done task is reopened); the assignee stays when not sent."""

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


# Bulk ----------------------------------------------------------------------------------------------------


class TaskBulkCreate(Schema):
    tasks: list[Any] = Field(
        min_length=1,
        max_length=MAX_BULK,
        description=f"Up to {MAX_BULK} tasks, each as for POST /tasks; each is validated and created on its own, "
        "so a bad one never stops the others.",
    )


class TaskBulkUpdate(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
    updates: Annotated[TaskUpdate, AfterValidator(no_version)]


class TaskBulkDelete(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
