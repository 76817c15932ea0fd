from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import ConfigDict, Field

from core.activities.schemas import ExactText, RecordSchema
from core.schemas import ReadSchema

MAX_BODY = 50_000


class NoteCreate(RecordSchema):
    body: ExactText(MAX_BODY, min_length=1) = Field(description="Kept exactly as sent, up to 50,000 characters.")  # type: ignore[valid-type]
    is_pinned: bool = False


class NoteUpdate(RecordSchema):
    body: ExactText(MAX_BODY, min_length=1) | None = None  # type: ignore[valid-type]
    is_pinned: bool | None = None
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
