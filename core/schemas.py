"""Base for every pydantic schema: camelCase on the wire (the seed's contract), snake_case in Python,
unknown fields refused, no NUL characters in what comes in."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

NUL_MESSAGE = "must not contain NUL characters"


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


def _refuse_nul(value: Any) -> None:
    """PostgreSQL stores no NUL character, in text or in JSON: one anywhere in the input (a dict key included)
    would fail at the database, a 500, instead of being refused as invalid input, a 400."""
    if isinstance(value, str):
        no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_nul(item)


# For values that are not in a Schema (query parameters): text PostgreSQL can store.
PlainText = Annotated[str, AfterValidator(no_nul)]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class Schema(_Model):
    """What the API accepts."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _schema_refuses_nul(cls, value: Any) -> Any:  # a name of its own: subclasses' validators add to it
        _refuse_nul(value)
        return value


class ReadSchema(_Model):
    """What the API returns: stored text exactly as stored (no stripping), extra attributes ignored. (Not a
    Schema: what was stored holds no NUL, so reads skip that check, on every field of every row listed.)"""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)
