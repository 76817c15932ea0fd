"""Notes: `/api/v1/contacts|accounts|deals/{id}/notes` to list and add, `/api/v1/notes/{id}` for one note."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from api.exports import ExportQuery, export_options, export_response
from api.lists import ListParams, list_doc, list_response, partial_of
from core.contacts.schemas import BulkCreated, BulkDeleted, BulkUpdated
from core.notes import service as notes
from core.notes.models import Note
from core.notes.schemas import (
    NoteBulkCreate,
    NoteBulkDelete,
    NoteBulkUpdate,
    NoteCreate,
    NoteRead,
    NoteReplace,
    NoteUpdate,
)
from core.records import export

router = APIRouter(tags=["notes"])

ERRORS = error_responses(400, 401, 403, 404, 409)
LIST_OPTIONS: dict[str, Any] = {
    "response_model": None,
    "dependencies": [requires("notes", "read")],
    "responses": {**ERRORS, **list_doc(partial_of(NoteRead, "NoteListItem"), "A page of notes")},
    "description": (
        "Pinned notes first, then newest first (or by `sort=createdAt|updatedAt`). Filter by `isPinned`, "
        "`authorId`, `createdAt[gte]=...`, `body[contains]=...`; `search=`; select `fields=`; offset pages "
        "(`page`, `limit`) or cursor pages (`cursor=`). Unknown fields are a 400 naming them."
    ),
}
CREATE_OPTIONS: dict[str, Any] = {
    "status_code": status.HTTP_201_CREATED,
    "response_model": Envelope[NoteRead],
    "dependencies": [requires("notes", "create")],
    "responses": ERRORS,
}
EXPORT = export.RecordExport(
    entity_type="notes",
    event="note.exported",
    model=Note,
    statement=notes.readable,
    specs=export.fixed_specs(notes.EXPORT_SPECS),
    columns=export.columns_of(NoteRead),
    serialize=export.each(notes.to_json),
    search_column=Note.search,
    leading_sort=((notes.PINNED_FIRST, True),),
)


def _created(note: Note, response: Response) -> dict[str, Any]:
    response.headers["Location"] = f"/api/v1/notes/{note.id}"
    return ok(notes.to_json(note))


@router.get("/contacts/{contact_id}/notes", summary="List a contact's notes", **LIST_OPTIONS)
def list_contact_notes(contact_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(notes.list_notes(session, actor, "contacts", contact_id, params))


@router.get("/accounts/{account_id}/notes", summary="List an account's notes", **LIST_OPTIONS)
def list_account_notes(account_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(notes.list_notes(session, actor, "accounts", account_id, params))


@router.get("/deals/{deal_id}/notes", summary="List a deal's notes", **LIST_OPTIONS)
def list_deal_notes(deal_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(notes.list_notes(session, actor, "deals", deal_id, params))


@router.post("/contacts/{contact_id}/notes", summary="Add a note to a contact", **CREATE_OPTIONS)
def create_contact_note(
    contact_id: UUID, body: NoteCreate, actor: CurrentActor, session: SessionDep, response: Response
) -> dict:
    return _created(notes.create(session, actor, "contacts", contact_id, body), response)


@router.post("/accounts/{account_id}/notes", summary="Add a note to an account", **CREATE_OPTIONS)
def create_account_note(
    account_id: UUID, body: NoteCreate, actor: CurrentActor, session: SessionDep, response: Response
) -> dict:
    return _created(notes.create(session, actor, "accounts", account_id, body), response)


@router.post("/deals/{deal_id}/notes", summary="Add a note to a deal", **CREATE_OPTIONS)
def create_deal_note(
    deal_id: UUID, body: NoteCreate, actor: CurrentActor, session: SessionDep, response: Response
) -> dict:
    return _created(notes.create(session, actor, "deals", deal_id, body), response)


# Fixed paths come before /notes/{note_id}, which would otherwise claim "export" and "bulk".


@router.get("/notes/export", **export_options("notes"))
def export_notes(actor: CurrentActor, query: ExportQuery) -> Response:
    """Every note you may read (those on contacts, accounts and deals you can see) as a CSV or XLSX download
    (`format=csv|xlsx`), pinned first as in the lists, then by `sort` (newest first by default). Filter as the
    lists do, plus `entityType=contacts|accounts|deals` and `entityId=...` (one record's notes); `search=`,
    `fields=`. Columns: `id, entityType, entityId, body, isPinned, ...`."""
    return export_response(actor, EXPORT, query)


@router.post(
    "/notes/bulk",
    response_model=Envelope[BulkCreated],
    dependencies=[requires("notes", "create")],
    responses=ERRORS,
)
def bulk_create_notes(body: NoteBulkCreate, actor: CurrentActor, session: SessionDep) -> dict:
    """Add up to 100 notes, each `{entityType, entityId, body, isPinned}` on a record you can read; each is
    validated and added on its own (a bad one never stops the others) and has its own result."""
    return ok(notes.bulk_create(session, actor, body.notes).summary("created"))


@router.patch(
    "/notes/bulk",
    response_model=Envelope[BulkUpdated],
    dependencies=[requires("notes", "update")],
    responses=ERRORS,
)
def bulk_update_notes(body: NoteBulkUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Apply the same changes (e.g. `{"isPinned": false}`) to up to 100 notes, each with its own result."""
    return ok(notes.bulk_update(session, actor, body.ids, body.updates).summary("updated"))


@router.delete(
    "/notes/bulk",
    response_model=Envelope[BulkDeleted],
    dependencies=[requires("notes", "delete")],
    responses=ERRORS,
)
def bulk_delete_notes(body: NoteBulkDelete, actor: CurrentActor, session: SessionDep) -> dict:
    """Soft-delete up to 100 notes, each with its own result (a note you cannot read is 404)."""
    return ok(notes.bulk_delete(session, actor, body.ids).summary("deleted"))


@router.get(
    "/notes/{note_id}", response_model=Envelope[NoteRead], dependencies=[requires("notes", "read")], responses=ERRORS
)
def get_note(note_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(notes.to_json(notes.get(session, actor, note_id)))


@router.put(
    "/notes/{note_id}", response_model=Envelope[NoteRead], dependencies=[requires("notes", "update")], responses=ERRORS
)
def replace_note(note_id: UUID, body: NoteReplace, actor: CurrentActor, session: SessionDep) -> dict:
    """Replace the note's body and pin (`isPinned` left out is false); `version` -> 409 when stale."""
    return ok(notes.to_json(notes.replace(session, actor, note_id, body)))


@router.patch(
    "/notes/{note_id}", response_model=Envelope[NoteRead], dependencies=[requires("notes", "update")], responses=ERRORS
)
def update_note(note_id: UUID, body: NoteUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Edit or (un)pin a note; send `version` to guard against lost updates (409 when stale)."""
    return ok(notes.to_json(notes.update(session, actor, note_id, body)))


@router.delete("/notes/{note_id}", status_code=204, dependencies=[requires("notes", "delete")], responses=ERRORS)
def delete_note(note_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    notes.delete(session, actor, note_id)
    return Response(status_code=204)
