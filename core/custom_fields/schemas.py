from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from core.schemas import ReadSchema, Schema

EntityType = Literal["contacts", "accounts", "deals"]
FieldType = Literal["text", "number", "date", "boolean", "select", "multi_select"]


class CustomFieldCreate(Schema):
    entity_type: EntityType
    field_name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="Lower-case letters, digits and underscores, starting with a letter; fixed once created.",
    )
    field_label: str = Field(min_length=1, max_length=100)
    field_type: FieldType
    field_options: list[str] | None = Field(
        None, max_length=200, description="The allowed values; required for select and multi_select only."
    )
    is_required: bool = False
    display_order: int = Field(0, ge=0, le=100_000)
    description: str | None = Field(None, max_length=2000)


class CustomFieldUpdate(Schema):
    field_name: str | None = Field(None, max_length=63, description="Cannot change; accepted only if unchanged.")
    field_label: str | None = Field(None, min_length=1, max_length=100)
    field_type: FieldType | None = Field(None, description="Can change only while no record has a value.")
    field_options: list[str] | None = Field(None, max_length=200)
    is_required: bool | None = None
    display_order: int | None = Field(None, ge=0, le=100_000)
    description: str | None = Field(None, max_length=2000)
    version: int | None = Field(None, description="Current version for optimistic locking.")


class CustomFieldRead(ReadSchema):
    model_config = ConfigDict(str_strip_whitespace=False)  # return text exactly as stored

    id: UUID
    entity_type: str
    field_name: str
    field_label: str
    field_type: str
    field_options: list[str] | None
    is_required: bool
    display_order: int
    description: str | None
    created_at: datetime
    updated_at: datetime
    version: int
