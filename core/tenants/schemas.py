from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, EmailStr, Field, field_validator

from core.config import Plan
from core.pipelines.schemas import Currency
from core.schemas import ReadSchema, Schema


class TenantCreate(Schema):
    name: str = Field(min_length=1, max_length=255)
    slug: str = Field(min_length=2, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    plan: Plan = "starter"
    max_users: int | None = Field(None, gt=0, le=100000)
    max_storage_gb: int = Field(10, gt=0, le=100000)
    timezone: str = Field("UTC", max_length=64)
    admin_email: EmailStr
    admin_first_name: str = Field("Admin", min_length=1, max_length=100)
    admin_last_name: str = Field("User", min_length=1, max_length=100)
    admin_password: str | None = None

    @field_validator("slug", "admin_email", mode="before")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower() if isinstance(value, str) else value


class TenantUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=255)
    timezone: str | None = Field(None, max_length=64)
    settings: dict | None = None
    version: int | None = None

    @field_validator("name", "timezone", "settings")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """May be left out (unchanged), never null: these always have a value."""
        if value is None:
            raise ValueError("cannot be null: leave the field out to keep its value")
        return value


class TenantRead(ReadSchema):
    id: UUID
    name: str
    slug: str
    plan: str
    max_users: int
    max_storage_gb: int
    is_active: bool
    timezone: str
    settings: dict
    trial_ends_at: datetime | None
    subscription_ends_at: datetime | None
    created_at: datetime
    version: int


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not a known time zone (an IANA name such as Europe/Paris or America/New_York)") from exc
    return value


class WorkspaceSettings(ReadSchema):
    """The workspace settings people change (the rest of `settings` belongs to the platform, e.g. `demo`)."""

    name: str
    timezone: str
    currency: str = "USD"
    fiscal_year_start_month: int = 1
    plan: str
    max_users: int
    version: int


class WorkspaceSettingsUpdate(Schema):
    """Only the fields sent change; the currency and fiscal year start are merged into `settings`, whose
    other keys are kept."""

    name: str | None = Field(None, min_length=1, max_length=255)
    timezone: Annotated[str, AfterValidator(_known_zone)] | None = Field(None, max_length=64)
    currency: Currency | None = Field(None, description="Default currency of the workspace (ISO 4217).")
    fiscal_year_start_month: int | None = Field(None, ge=1, le=12, description="1 = January.")
    version: int | None = None

    @field_validator("name", "timezone", "currency", "fiscal_year_start_month")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null: leave the field out to keep its value")
        return value
