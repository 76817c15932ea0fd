from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import EmailStr, Field, field_validator

from core.schemas import ReadSchema, Schema


class UserCreate(Schema):
    email: EmailStr
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    password: str | None = Field(None, max_length=256, description="Omit to generate one (returned once).")
    role: str = Field("rep", min_length=1, max_length=100, description="Role name, e.g. admin, manager, rep.")
    team_id: UUID | None = None
    timezone: str = Field("UTC", max_length=64)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class UserUpdate(Schema):
    first_name: str | None = Field(None, min_length=1, max_length=100)
    last_name: str | None = Field(None, min_length=1, max_length=100)
    role: str | None = Field(None, min_length=1, max_length=100)
    team_id: UUID | None = None
    timezone: str | None = Field(None, max_length=64)
    is_active: bool | None = None
    version: int | None = Field(None, description="Current version for optimistic locking.")

    @field_validator("first_name", "last_name", "role", "timezone", "is_active")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """May be left out (unchanged), never null: these always have a value."""
        if value is None:
            raise ValueError("cannot be null: leave the field out to keep its value")
        return value


class UserRead(ReadSchema):
    id: UUID
    email: str
    first_name: str
    last_name: str
    role: str
    team_id: UUID | None
    timezone: str
    is_active: bool
    is_verified: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class TeamCreate(Schema):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    manager_id: UUID | None = None


class TeamUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    manager_id: UUID | None = None
    version: int | None = None


class TeamRead(ReadSchema):
    id: UUID
    name: str
    description: str | None
    manager_id: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
