"""Imports on the wire: the options of an upload, the preview, the import as it runs, and its row results."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, field_validator

from core.schemas import ReadSchema, Schema

EntityType = Literal["contacts", "accounts"]
DuplicatePolicy = Literal["skip", "update", "create"]
MAX_MAPPING_ENTRIES = 1_000


class ImportOptions(Schema):
    """How to import a file: into which record type, what to do with duplicates, and column overrides."""

    entity_type: EntityType
    duplicate_policy: DuplicatePolicy = "skip"
    mapping: dict[str, str | None] | None = Field(
        None,
        description='Header -> field name (`firstName`, `cf.<name>`); null or "" ignores the column. '
        "Overrides the automatic mapping for the headers it names.",
    )

    @field_validator("mapping", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        """A form field carries the mapping as JSON text."""
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError("must be a JSON object of header -> field name") from exc
        if isinstance(value, dict) and len(value) > MAX_MAPPING_ENTRIES:
            raise ValueError(f"at most {MAX_MAPPING_ENTRIES} entries")
        return value


class Detected(ReadSchema):
    format: Literal["csv", "xlsx"]
    encoding: str | None
    has_bom: bool | None
    delimiter: str | None


class ImportPreview(ReadSchema):
    """What an import of this file would do, before it runs: the UI shows it to confirm the mapping."""

    entity_type: EntityType
    file: Detected
    headers: list[str]
    mapping: dict[str, str] = Field(description="Header -> field for every mapped column.")
    unmapped: list[str] = Field(description="Headers no field takes (ignored on import).")
    missing_required: list[str] = Field(description="Required fields no column maps to.")
    total_rows: int
    rows: list[list[str]] = Field(description="The first data rows, cells in header order.")


class ImportProgress(ReadSchema):
    done: int
    total: int
    percent: int


class ImportCounts(ReadSchema):
    created: int
    updated: int
    skipped: int
    failed: int


class ImportRead(ReadSchema):
    id: UUID
    job_id: UUID | None
    entity_type: EntityType
    duplicate_policy: DuplicatePolicy
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    file_name: str | None
    file: Detected
    file_size: int
    mapping: dict[str, str]
    unmapped: list[str]
    progress: ImportProgress
    counts: ImportCounts
    error: str | None
    created_by: UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class ImportRowRead(ReadSchema):
    """A row that was not imported: failed (one entry per problem) or skipped (a duplicate)."""

    row: int = Field(description="The row in the file as a spreadsheet shows it (the header is row 1).")
    field: str | None = Field(description="The field at fault (`email`, `cf.tier`), when one is.")
    column: str | None = Field(description="The file's column of that field.")
    message: str
    values: dict[str, str] | None = Field(description="The row's cells by header.")
    existing_id: UUID | None = Field(None, description="Skipped duplicates: the record that already exists.")
