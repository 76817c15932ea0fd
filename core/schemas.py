"""Base for every pydantic schema: camelCase on the wire (the seed's contract), snake_case in Python,
unknown fields refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        from_attributes=True,
        str_strip_whitespace=True,
    )


class ReadSchema(Schema):
    model_config = ConfigDict(extra="ignore")
