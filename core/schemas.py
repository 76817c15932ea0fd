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
    """What the API returns: stored text exactly as stored (no stripping), extra attributes ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)
