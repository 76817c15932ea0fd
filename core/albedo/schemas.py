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
