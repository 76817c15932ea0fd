"""Albedo's conversations and messages as the API and the pages exchange them (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema, Schema

Title = Field(None, min_length=1, max_length=255, description="Shown in the conversation list.")


class RecordContext(Schema):
    """The record a conversation was opened from ("Ask Albedo" on a record page)."""

    entity_type: Literal["contacts", "accounts", "deals"]
    entity_id: UUID


class ConversationCreate(Schema):
    title: str | None = Title
    context: RecordContext | None = None


class ConversationRename(Schema):
    title: str = Field(min_length=1, max_length=255)


class ConversationRead(ReadSchema):
    id: UUID
    title: str | None
    context: dict[str, Any] | None
    started_at: datetime
    ended_at: datetime | None
    last_message_at: datetime


class MessageRead(ReadSchema):
    id: UUID
    conversation_id: UUID
    role: Literal["user", "assistant", "system"]
    content: str
    intent: str | None
    entities: dict[str, Any] | None
    action_taken: dict[str, Any] | None
    data: dict[str, Any] | None
    engine: Literal["offline", "claude"] | None
    created_at: datetime


# Proposals ----------------------------------------------------------------------------------------------


class ProposalRecord(ReadSchema):
    """A record a change is about (the shape of ai.albedo.contract.RecordRef)."""

    type: Literal["contact", "account", "deal", "task", "activity", "note", "user"]
    id: str
    label: str


class ProposalChange(ReadSchema):
    """One field of one record, old -> new (old is None for a new record; `record` is None before it exists)."""

    record: ProposalRecord | None
    field: str
    old: Any = None
    new: Any = None


class ProposalRead(ReadSchema):
    """A proposal as users see it: what Albedo would do (or did), and what became of it. Its first five fields are
    those of ai.albedo.contract.ProposalView."""

    id: UUID
    action: str
    summary: str
    changes: list[ProposalChange]
    status: Literal["pending", "confirmed", "cancelled", "failed", "undone"]
    conversation_id: UUID
    message_id: UUID | None
    arguments: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    undoable: bool = Field(False, description="Whether `POST .../undo` can take the change back now.")
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    undone_at: datetime | None
