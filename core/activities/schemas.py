from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, field_validator

from core.records.bulk import MAX_ITEMS as MAX_BULK
from core.schemas import ReadSchema, Schema

ActivityType = Literal["call", "meeting", "email", "note", "other"]
Direction = Literal["inbound", "outbound"]


def _utc(value: datetime) -> datetime:
    """In UTC; a time without a zone is taken as UTC (the API speaks UTC). Years 1900 to 2999."""
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date out of range") from exc
    if not 1900 <= value.year <= 2999:
        raise ValueError("year must be between 1900 and 2999")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def ExactText(max_length: int, min_length: int = 0) -> Any:  # noqa: N802  (a type factory)
    """Free text kept exactly as sent (no whitespace stripping): bodies, descriptions."""
    return Annotated[str, StringConstraints(strip_whitespace=False, min_length=min_length, max_length=max_length)]


class RecordSchema(Schema):
    """Input of a CRM record: no NUL characters anywhere (PostgreSQL text cannot hold them)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class ActivityCreate(RecordSchema):
    type: ActivityType
    subject: str = Field(min_length=1, max_length=255)
    body: ExactText(50_000) | None = None  # type: ignore[valid-type]
    direction: Direction | None = None
    outcome: str | None = Field(None, max_length=100)
    duration_seconds: int | None = Field(None, ge=0, le=1_000_000)
    occurred_at: UtcDatetime | None = Field(None, description="When it happened; now when omitted.")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    deal_id: UUID | None = None
    owner_id: UUID | None = Field(None, description="Defaults to the caller.")


class ActivityUpdate(RecordSchema):
    type: ActivityType | None = None
    subject: str | None = Field(None, min_length=1, max_length=255)
    body: ExactText(50_000) | None = None  # type: ignore[valid-type]
    direction: Direction | None = None
    outcome: str | None = Field(None, max_length=100)
    duration_seconds: int | None = Field(None, ge=0, le=1_000_000)
    occurred_at: UtcDatetime | None = None
    contact_id: UUID | None = None
    account_id: UUID | None = None
    deal_id: UUID | None = None
    owner_id: UUID | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")


class ActivityReplace(ActivityCreate):
    """PUT: the whole activity. Fields left out are cleared (or return to their defaults); the owner and
    `occurredAt` stay when not sent."""

    version: int | None = Field(None, description="Current version for optimistic locking.")


class ActivityRead(ReadSchema):
    model_config = ConfigDict(str_strip_whitespace=False)  # return text exactly as stored

    id: UUID
    type: str
    subject: str
    body: str | None
    direction: str | None
    outcome: str | None
    duration_seconds: int | None
    occurred_at: datetime
    contact_id: UUID | None
    account_id: UUID | None
    deal_id: UUID | None
    owner_id: UUID
    created_at: datetime
    updated_at: datetime
    version: int


# Bulk ----------------------------------------------------------------------------------------------------


def no_version(value: Any) -> Any:
    """Bulk updates change many records: a single record's version makes no sense there."""
    if value.version is not None:
        raise ValueError("version applies to one record; send it with PATCH or PUT on that record")
    return value


class ActivityBulkCreate(Schema):
    activities: list[Any] = Field(
        min_length=1,
        max_length=MAX_BULK,
        description=f"Up to {MAX_BULK} activities, each as for POST /activities; each is validated and logged on "
        "its own, so a bad one never stops the others.",
    )


class ActivityBulkUpdate(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
    updates: Annotated[ActivityUpdate, AfterValidator(no_version)]


class ActivityBulkDelete(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)
