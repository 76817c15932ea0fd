"""Notes on contacts, accounts and deals (polymorphic: entity type and id).

A note has no owner of its own: whoever may read its parent record may read it, and, with the notes
permissions, write it. Lists show pinned notes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, case, false, or_, select
from sqlalchemy.orm import Session

from core.activities.service import PARENTS, camel, check_not_null, parse_list, record_page, require_parent
from core.actor import Actor
from core.errors import NotFound
from core.events.service import emit
from core.ids import new_id
from core.notes.models import Note
from core.notes.schemas import NoteBulkItem, NoteCreate, NoteRead, NoteReplace, NoteUpdate
from core.records import bulk
from core.records import query as q
from core.records.listing import RecordPage
from core.versioning import check_version

SPECS: dict[str, q.FieldSpec] = {
    "id": q.FieldSpec("id", Note.id, "uuid"),
    "entityType": q.FieldSpec("entityType", Note.entity_type, filterable=False, sortable=False),
    "entityId": q.FieldSpec("entityId", Note.entity_id, "uuid", filterable=False, sortable=False),
    "body": q.FieldSpec("body", Note.body, sortable=False),
    "isPinned": q.FieldSpec("isPinned", Note.is_pinned, "bool", sortable=False),
    "authorId": q.FieldSpec("authorId", Note.author_id, "uuid"),
    "createdAt": q.FieldSpec("createdAt", Note.created_at, "datetime"),
    "updatedAt": q.FieldSpec("updatedAt", Note.updated_at, "datetime"),
    "version": q.FieldSpec("version", Note.version, "int", filterable=False, sortable=False),
}

# Pinned first, whatever the sort. An integer rank, not the boolean: keyset cursors compare with < and >.
PINNED_FIRST = q.FieldSpec("pinnedRank", case((Note.is_pinned, 1), else_=0), "int")


# Exports read notes across records: the parent's type and id become filters there.
EXPORT_SPECS: dict[str, q.FieldSpec] = {
    **SPECS,
    "entityType": q.FieldSpec("entityType", Note.entity_type, sortable=False),
    "entityId": q.FieldSpec("entityId", Note.entity_id, "uuid", sortable=False),
}


def readable(actor: Actor) -> Select[Any]:
    """Every note the actor may read: those on contacts, accounts and deals it may read (read permission on
    the record type, then its record scope). No notes permission check."""
    on_readable = [
        and_(
            Note.entity_type == entity_type,
            Note.entity_id.in_(actor.readable(model).with_only_columns(model.id)),
        )
        for entity_type, (model, _) in PARENTS.items()
        if actor.can(entity_type, "read")
    ]
    return select(Note).where(
        Note.tenant_id == actor.tenant_id, Note.deleted_at.is_(None), or_(*on_readable) if on_readable else false()
    )


def to_read(note: Note) -> NoteRead:
    return NoteRead.model_validate(note)


def to_json(note: Note) -> dict[str, Any]:
    return to_read(note).model_dump(mode="json", by_alias=True)


def get(session: Session, actor: Actor, note_id: UUID) -> Note:
    """A note whose parent record the actor may read; otherwise `NotFound`."""
    actor.require("notes", "read")
    note = session.scalar(
        select(Note).where(Note.tenant_id == actor.tenant_id, Note.id == note_id, Note.deleted_at.is_(None))
    )
    if note is None:
        raise NotFound("Note not found")
    try:
        require_parent(session, actor, note.entity_type, note.entity_id)
    except NotFound:
        raise NotFound("Note not found") from None
    return note


def list_notes(
    session: Session, actor: Actor, entity_type: str, entity_id: UUID, params: Mapping[str, Sequence[str]]
) -> RecordPage:
    """A page of one record's notes: pinned first, then by the sort asked for (newest first by default)."""
    actor.require("notes", "read")
    listed = parse_list(params, SPECS, default_sort="-createdAt")
    listed.sort.insert(0, (PINNED_FIRST, True))
    require_parent(session, actor, entity_type, entity_id)
    statement = select(Note).where(
        Note.tenant_id == actor.tenant_id,
        Note.entity_type == entity_type,
        Note.entity_id == entity_id,
        Note.deleted_at.is_(None),
    )
    statement = q.apply(statement, listed, id_column=Note.id, search_column=Note.search)
    statement = statement.add_columns(PINNED_FIRST.expression.label(PINNED_FIRST.name))  # read by the cursor
    return record_page(session, statement, listed, id_spec=SPECS["id"], serialize=to_json)


def create(session: Session, actor: Actor, entity_type: str, entity_id: UUID, data: NoteCreate) -> Note:
    """Add a note to a record the actor may read."""
    actor.require("notes", "create")
    require_parent(session, actor, entity_type, entity_id)
    note = Note(
        id=new_id(),
        tenant_id=actor.tenant_id,
        entity_type=entity_type,
        entity_id=entity_id,
        author_id=actor.user_id,
        **data.model_dump(),
    )
    session.add(note)
    session.flush()
    emit(session, actor, "note.created", entity_type="notes", entity_id=note.id, payload=to_json(note))
    return note


def update(session: Session, actor: Actor, note_id: UUID, data: NoteUpdate) -> Note:
    """Edit or (un)pin a note; send `version` to be refused (409) when someone else changed it first."""
    actor.require("notes", "update")
    note = get(session, actor, note_id)
    check_version(note, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    check_not_null(changes, ("body", "is_pinned"), {"is_pinned": "isPinned"})
    changed = [name for name, value in changes.items() if getattr(note, name) != value]
    for name in changed:
        setattr(note, name, changes[name])
    if changed:
        session.flush()
        emit(
            session,
            actor,
            "note.updated",
            entity_type="notes",
            entity_id=note.id,
            payload={**to_json(note), "changes": [camel(n) for n in changed]},
        )
    return note


def delete(session: Session, actor: Actor, note_id: UUID) -> None:
    """Soft delete."""
    actor.require("notes", "delete")
    note = get(session, actor, note_id)
    note.deleted_at = datetime.now(UTC)
    session.flush()
    emit(session, actor, "note.deleted", entity_type="notes", entity_id=note.id)


def replace(session: Session, actor: Actor, note_id: UUID, data: NoteReplace) -> Note:
    """PUT: the whole note, as `update` with every field given (`is_pinned` not sent is false)."""
    return update(session, actor, note_id, NoteUpdate.model_validate(data.model_dump()))


# Bulk ----------------------------------------------------------------------------------------------------


def bulk_create(session: Session, actor: Actor, items: Sequence[Any]) -> bulk.BulkOutcome:
    """Add each note (`{entity_type, entity_id, body, is_pinned}`) in its own savepoint; a bad item, or one on
    a record the actor cannot read, becomes an error result."""
    actor.require("notes", "create")
    bulk.check_size(items, field="notes")

    def work(item: Any) -> UUID:
        data = NoteBulkItem.model_validate(item)
        note = NoteCreate.model_validate(data.model_dump(exclude={"entity_type", "entity_id"}))
        return create(session, actor, data.entity_type, data.entity_id, note).id

    return bulk.run_each(session, items, work)


def bulk_update(session: Session, actor: Actor, ids: Sequence[UUID], updates: NoteUpdate) -> bulk.BulkOutcome:
    """Apply the same PATCH to each note; one the actor cannot read is a per-item 404."""
    actor.require("notes", "update")
    bulk.check_size(ids, field="ids")
    return bulk.run_each(session, ids, lambda note_id: update(session, actor, note_id, updates).id, key=lambda i: i)


def bulk_delete(session: Session, actor: Actor, ids: Sequence[UUID]) -> bulk.BulkOutcome:
    """Soft-delete each note; one the actor cannot read is a per-item 404."""
    actor.require("notes", "delete")
    bulk.check_size(ids, field="ids")

    return bulk.delete_each(session, ids, lambda record_id: delete(session, actor, record_id))
