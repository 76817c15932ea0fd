"""Webhooks on the wire: endpoints (never their secret, except once at creation and rotation), the event-type
catalogue and the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from core.schemas import ReadSchema, Schema

Url = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Description = Annotated[str, StringConstraints(max_length=255)]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=100)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=100)]


class WebhookCreate(Schema):
    url: Url = Field(description="https:// endpoint (http://localhost only in development and tests).")
    description: Description | None = None
    event_types: EventTypes = Field(description="Types from /webhooks/event-types.")
    is_active: bool = True


class WebhookUpdate(Schema):
    """PATCH: only the fields sent change. Re-activating clears the failure count and the disabled reason."""

    url: Url | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    is_active: bool | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")


class WebhookRead(ReadSchema):
    id: UUID
    url: str
    description: str | None
    event_types: list[str]
    is_active: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int


class WebhookWithSecret(WebhookRead):
    """Returned by create and rotate-secret only: the signing secret is shown once."""

    secret: str = Field(description="The signing secret; shown only now, store it.")


class EventTypeRead(ReadSchema):
    type: str
    description: str


class WebhookDeliveryRead(ReadSchema):
    id: UUID
    webhook_id: UUID
    event_id: UUID
    event_type: str
    status: str
    attempts: int
    response_status: int | None
    response_excerpt: str | None
    error: str | None
    duration_ms: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
