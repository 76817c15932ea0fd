from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema, Schema


class RoleCreate(Schema):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_ -]*$")
    description: str | None = Field(None, max_length=2000)
    record_scope: Literal["own", "team", "all"] = "own"
    permissions: list[str] = Field(default_factory=list, max_length=500)


class RoleUpdate(Schema):
    description: str | None = Field(None, max_length=2000)
    record_scope: Literal["own", "team", "all"] | None = None
    permissions: list[str] | None = Field(None, max_length=500)
    version: int | None = None


class RoleRead(ReadSchema):
    id: UUID
    name: str
    description: str | None
    is_system_role: bool
    record_scope: str
    permissions: list[str]
    created_at: datetime
    version: int
