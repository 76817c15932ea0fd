"""Imports of contacts and accounts from CSV/XLSX: `/api/v1/imports` (upload, preview, progress, row results)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, File, Form, Response, UploadFile, status
from pydantic import ValidationError

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from core.errors import ValidationFailed
from core.imports import service as imports
from core.imports.schemas import ImportOptions, ImportPreview, ImportRead, ImportRowRead
from core.records.bulk import item_error

router = APIRouter(prefix="/imports", tags=["imports"])

ERRORS = error_responses(400, 401, 403, 404)
UPLOAD_ERRORS = error_responses(400, 401, 403, 413)

FileField = Annotated[UploadFile, File(description="The CSV or XLSX file (at most `import_max_bytes`, 50 MB).")]
EntityField = Annotated[Literal["contacts", "accounts"], Form(alias="entityType")]
PolicyField = Annotated[
    Literal["skip", "update", "create"],
    Form(
        alias="duplicatePolicy",
        description="A row matching a live record (contacts: email; accounts: domain, else name), or an earlier "
        "row: skip it, update the record with its non-empty values, or create another record anyway.",
    ),
]
MappingField = Annotated[
    str | None,
    Form(description='JSON object header -> field (`{"E-mail": "email", "Tier": "cf.tier", "Notes": null}`).'),
]


def _options(entity_type: str, duplicate_policy: str, mapping: str | None) -> ImportOptions:
    try:
        return ImportOptions.model_validate(
            {"entityType": entity_type, "duplicatePolicy": duplicate_policy, "mapping": mapping}
        )
    except ValidationError as exc:
        error = item_error(exc) or {}
        raise ValidationFailed(error.get("message", "Invalid import options"), details=error.get("details")) from exc


def _read(session: SessionDep, record) -> dict:  # noqa: ANN001
    return imports.to_read(session, record).model_dump(mode="json", by_alias=True)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[ImportRead],
    dependencies=[requires("imports", "create")],
    responses=UPLOAD_ERRORS,
)
def create_import(
    actor: CurrentActor,
    session: SessionDep,
    response: Response,
    file: FileField,
    entity_type: EntityField,
    duplicate_policy: PolicyField = "skip",
    mapping: MappingField = None,
) -> dict:
    """Upload a file to import as contacts or accounts; answers 202 with the import (detected encoding and
    delimiter, the column mapping, unmapped columns) while a job imports it. Poll `GET /imports/{id}` for
    progress and counts, `GET /imports/{id}/errors` for the rows that failed. Needs `<entityType>:import` and
    `<entityType>:create` (and `:update` with `duplicatePolicy=update`)."""
    options = _options(entity_type, duplicate_policy, mapping)
    imports.check_size(file.size or 0)
    record = imports.create(session, actor, file.file.read(), options, file_name=file.filename)
    response.headers["Location"] = f"/api/v1/imports/{record.id}"
    return ok(_read(session, record))


@router.post(
    "/preview",
    response_model=Envelope[ImportPreview],
    dependencies=[requires("imports", "create")],
    responses=UPLOAD_ERRORS,
)
def preview_import(
    actor: CurrentActor,
    session: SessionDep,
    file: FileField,
    entity_type: EntityField,
    duplicate_policy: PolicyField = "skip",
    mapping: MappingField = None,
) -> dict:
    """What an import of this file would do: detected format, encoding and delimiter, headers, the suggested
    mapping (with the unmapped headers and required fields no column maps to) and the first 5 rows. Stores
    nothing."""
    options = _options(entity_type, duplicate_policy, mapping)
    imports.check_size(file.size or 0)
    result = imports.preview(session, actor, file.file.read(), options)
    return ok(result.model_dump(mode="json", by_alias=True))


@router.get("", response_model=PagedEnvelope[ImportRead], dependencies=[requires("imports", "read")], responses=ERRORS)
def list_imports(actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The imports you may see (yours; your team's for managers; all for admins), newest first."""
    records, total = imports.list_imports(session, actor, limit=paging.limit, offset=paging.offset)
    items = [r.model_dump(mode="json", by_alias=True) for r in imports.to_reads(session, records)]
    return paged(items, page=paging.page, limit=paging.limit, total=total)


@router.get(
    "/{import_id}", response_model=Envelope[ImportRead], dependencies=[requires("imports", "read")], responses=ERRORS
)
def get_import(import_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Status (queued, running, completed, failed, cancelled), progress (rows done of total), counts
    (created, updated, skipped, failed) and timestamps."""
    return ok(_read(session, imports.get(session, actor, import_id)))


def _rows(session: SessionDep, actor: CurrentActor, import_id: UUID, paging: Paging, outcome: str) -> dict:
    rows, total = imports.list_rows(
        session, actor, import_id, outcome=outcome, limit=paging.limit, offset=paging.offset
    )
    items = [r.model_dump(mode="json", by_alias=True) for r in rows]
    return paged(items, page=paging.page, limit=paging.limit, total=total)


@router.get(
    "/{import_id}/errors",
    response_model=PagedEnvelope[ImportRowRead],
    dependencies=[requires("imports", "read")],
    responses=ERRORS,
)
def list_import_errors(import_id: UUID, actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The rows that failed, in file order: `{row, field, column, message, values}`, one entry per problem
    (`row` counts the header as row 1, as a spreadsheet shows it)."""
    return _rows(session, actor, import_id, paging, "failed")


@router.get(
    "/{import_id}/skipped",
    response_model=PagedEnvelope[ImportRowRead],
    dependencies=[requires("imports", "read")],
    responses=ERRORS,
)
def list_import_skipped(import_id: UUID, actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The rows skipped as duplicates (policy `skip`), with `existingId`: the record they duplicate."""
    return _rows(session, actor, import_id, paging, "skipped")
