"""Search hits on the wire."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from core.schemas import ReadSchema

# Full-text search covers these; semantic search (ai/nlp/search.py) covers activities (calls, meetings, emails) too.
SEARCH_TYPES = ("contacts", "accounts", "deals", "notes")
SEMANTIC_TYPES = (*SEARCH_TYPES, "activities")
SearchType = Literal["contacts", "accounts", "deals", "notes", "activities"]
MAX_QUERY_LENGTH = 200
MAX_LIMIT = 50


class SearchHit(ReadSchema):
    type: SearchType
    id: UUID
    title: str
    subtitle: str | None = None
    score: float = Field(description="Higher is better; comparable across types within one search.")
    matched: list[str] = Field(
        description="How the record matched: `fulltext` (words and prefixes), `fuzzy` (names) or `semantic` (meaning)."
    )
