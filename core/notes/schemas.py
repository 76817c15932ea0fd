from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field

from core.activities.schemas import MAX_BULK, ExactText, RecordSchema, no_version
from core.schemas import ReadSchema, Schema

MAX_BODY = 50_000


class NoteCreate(RecordSchema):
    body: ExactText(MAX_BODY, min_length=1) = Field(description="Kept exactly as sent, up to 50,000 characters.")  # type: ignore[valid-type]
    is_pinned: bool = False


class NoteUpdate(RecordSchema):
    body: ExactText(MAX_BODY, min_length=1) | None = None  # type: ignore[valid-type]
    is_pinned: bool | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")


class NoteReplace(NoteCreate):
    """PUT: the whole note. `isPinned` left out returns to false; the record it is on never changes."""

    version: int | None = Field(None, description="Current version for optimistic locking.")


class NoteRead(ReadSchema):
    model_config = ConfigDict(str_strip_whitespace=False)  # return text exactly as stored

    id: UUID
    entity_type: str
    entity_id: UUID
    body: str
    is_pinned: bool
    author_id: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


# Bulk ----------------------------------------------------------------------------------------------------


class NoteBulkItem(NoteCreate):
    """One note of a bulk create: the record it goes on, and the note."""

    entity_type: Literal["contacts", "accounts", "deals"]
    entity_id: UUID


class NoteBulkCreate(Schema):
    notes: list[Any] = Field(
        min_length=1,
        max_length=MAX_BULK,
        description=f"Up to {MAX_BULK} notes, each `{{entityType, entityId, body, isPinned}}`; each is validated and "
        "added on its own, so a bad one never stops the others.",
    )


class NoteBulkUpdate(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
    updates: Annotated[NoteUpdate, AfterValidator(no_version)]


class NoteBulkDelete(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
