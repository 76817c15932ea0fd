"""Duplicate suggestions and merge results on the wire."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema, Schema


class DuplicateRef(ReadSchema):
    id: UUID
    name: str
    email: str | None = None
    phone: str | None = None
    domain: str | None = None
    account_id: UUID | None = None


class DuplicatePair(ReadSchema):
    """Two records that are probably the same, why, and how sure (0-1)."""

    records: list[DuplicateRef]
    reasons: list[str] = Field(
        description="same_email, similar_name_same_account, similar_name_same_phone (contacts); "
        "same_domain, similar_name (accounts)."
    )
    score: float


class DuplicateMatch(ReadSchema):
    """A probable duplicate of one given record."""

    record: DuplicateRef
    reasons: list[str]
    score: float


class MergeRequest(Schema):
    other_id: UUID = Field(description="The record merged into this one (soft-deleted, marked merged into it).")


class MergeResult(ReadSchema):
    merge_id: UUID
    survivor: dict[str, Any]
    merged_id: UUID
    moved: dict[str, int] = Field(description="How many of each related record moved to the survivor.")
    filled: list[str] = Field(description="Fields the survivor took from the merged record.")


class UnmergeResult(ReadSchema):
    merge_id: UUID
    restored: dict[str, Any]
    survivor_id: UUID
    moved_back: dict[str, int]
