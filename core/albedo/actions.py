"""The writes Albedo may propose: each kind validates its arguments, previews exactly what it would change
(record, field, old -> new) and applies itself through the same core services as the UI and the API; most can
be undone the same way.

A kind's `preview` only reads (the actor's permission and record scope included: a proposal is never offered for
what the user could not do), then `proposals.propose` runs `apply` once in a savepoint that is rolled back, so
whatever the services would refuse (a custom field value, an owner outside the actor's team) is refused before the
user is asked. `apply` and `undo` run in the confirming request's transaction; they raise `DomainError`s.
Field names in changes are the API's (camelCase), custom fields as `customFields.<name>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate, AccountUpdate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate, UtcDatetime
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate, ContactUpdate
from core.custom_fields import service as custom_fields
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.errors import Conflict, DomainError, ValidationFailed
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from core.pipelines import service as pipelines
from core.pipelines.models import Stage
from core.schemas import Schema
from core.tasks import service as tasks
from core.tasks.schemas import Priority, TaskCreate, TaskUpdate
from core.users.models import User
from core.versioning import check_version

MAX_RECORDS = 200
EntityName = Literal["contact", "account", "deal", "task"]
CreatableEntity = Literal["contact", "account", "deal"]


# Arguments ----------------------------------------------------------------------------------------------


class CreateTaskArgs(Schema):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(None, max_length=50_000)
    due_at: UtcDatetime | None = Field(None, description="When it is due (UTC).")
    priority: Priority = "normal"
    assignee_id: UUID | None = Field(None, description="An active user; default: you.")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    deal_id: UUID | None = None


class LogActivityArgs(Schema):
    type: Literal["call", "meeting", "email", "note"]
    subject: str = Field(min_length=1, max_length=255)
    body: str | None = Field(None, max_length=50_000)
    direction: Literal["inbound", "outbound"] | None = None
    outcome: str | None = Field(None, max_length=100)
    duration_seconds: int | None = Field(None, ge=0, le=1_000_000)
    occurred_at: UtcDatetime | None = Field(None, description="When it happened; default: now.")
    contact_id: UUID | None = None
    account_id: UUID | None = None
    deal_id: UUID | None = None


class MoveDealStageArgs(Schema):
    deal_id: UUID
    stage: str = Field(min_length=1, max_length=100, description="A stage id, or a stage name of the deal's pipeline.")
    lost_reason: str | None = Field(None, min_length=1, max_length=255, description="Required for a lost stage.")


Ids = Field(min_length=1, max_length=MAX_RECORDS, description=f"1 to {MAX_RECORDS} records.")


class UpdateFieldsArgs(Schema):
    entity: EntityName
    ids: list[UUID] = Ids
    changes: dict[str, Any] = Field(
        min_length=1, description="Field -> new value, with the API's field names (customFields for custom fields)."
    )


class AssignOwnerArgs(Schema):
    entity: EntityName
    ids: list[UUID] = Ids
    owner_id: UUID = Field(description="The new owner (for tasks: the assignee).")


class CreateRecordArgs(Schema):
    entity: CreatableEntity
    fields: dict[str, Any] = Field(min_length=1, description="As for POST /contacts, /accounts or /deals.")


class DeleteRecordsArgs(Schema):
    entity: EntityName
    ids: list[UUID] = Ids


# Records ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    """One record type as the actions see it: its service, schemas and how a user names one."""

    name: str
    resource: str
    get: Callable[[Session, Actor, UUID], Any]
    label: Callable[[Any], str]
    update_schema: type[Schema]
    create_schema: type[Schema] | None
    owner_field: str
    update: Callable[[Session, Actor, UUID, Any], Any]
    create: Callable[[Session, Actor, Any], Any] | None
    delete: Callable[[Session, Actor, UUID], None]


def _person(contact: Any) -> str:
    return f"{contact.first_name} {contact.last_name}".strip()


ENTITIES: dict[str, Entity] = {
    "contact": Entity(
        "contact", "contacts", contacts.get, _person, ContactUpdate, ContactCreate, "owner_id",
        contacts.update, contacts.create, contacts.delete,
    ),
    "account": Entity(
        "account", "accounts", accounts.get, lambda a: a.name, AccountUpdate, AccountCreate, "owner_id",
        accounts.update, accounts.create, accounts.delete,
    ),
    "deal": Entity(
        "deal", "deals", deals.get, lambda d: d.name, DealPatch, DealCreate, "owner_id",
        deals.update, deals.create, lambda s, a, i: deals.delete(s, a, i),
    ),
    "task": Entity(
        "task", "tasks", tasks.get, lambda t: t.title, TaskUpdate, None, "assignee_id",
        tasks.update, None, tasks.delete,
    ),
}  # fmt: skip

# Fields that name other records or users: shown by name in a preview.
_REFERENCES = {"contact_id": "contact", "account_id": "account", "deal_id": "deal"}
_USERS = ("owner_id", "assignee_id")
# Deal fields that move the deal: one action does that, with its own preview and undo.
_STAGE_FIELDS = ("stage_id", "pipeline_id", "lost_reason")


def ref(entity: str, record: Any, label: str | None = None) -> dict[str, str]:
    return {"type": entity, "id": str(record.id), "label": label or ENTITIES[entity].label(record)}


def change(record: dict[str, str] | None, name: str, old: Any, new: Any) -> dict[str, Any]:
    return {"record": record, "field": name, "old": to_jsonable_python(old), "new": to_jsonable_python(new)}


def user_name(session: Session, actor: Actor, user_id: UUID | None) -> str | None:
    if user_id is None:
        return None
    row = session.execute(
        select(User.first_name, User.last_name, User.email).where(User.tenant_id == actor.tenant_id, User.id == user_id)
    ).first()
    if row is None:
        return str(user_id)
    return f"{row.first_name or ''} {row.last_name or ''}".strip() or row.email


def _shown(session: Session, actor: Actor, name: str, value: Any) -> Any:
    """A value as a user reads it: users and related records by name (a record they cannot see: its id)."""
    if value is None:
        return None
    if name in _USERS:
        return user_name(session, actor, value)
    if name in _REFERENCES:
        entity = ENTITIES[_REFERENCES[name]]
        try:
            return entity.label(entity.get(session, actor, value))
        except DomainError:
            return str(value)
    return value


def _invalid(exc: ValidationError, what: str) -> ValidationFailed:
    details = [
        {"field": ".".join(to_camel(str(p)) if isinstance(p, str) else str(p) for p in e["loc"]), "message": e["msg"]}
        for e in exc.errors()[:10]
    ]
    fields = ", ".join(dict.fromkeys(d["field"] or what for d in details))
    return ValidationFailed(f"Invalid {what}: check {fields}", details=details)


def _validate(schema: type[Schema], values: Mapping[str, Any], what: str) -> Any:
    try:
        return schema.model_validate(dict(values))
    except ValidationError as exc:
        raise _invalid(exc, what) from None


def _records(session: Session, actor: Actor, entity: Entity, ids: Sequence[UUID]) -> list[Any]:
    """Each record, visible to the actor (a missing one is a NotFound naming it)."""
    found = []
    for record_id in dict.fromkeys(ids):
        try:
            found.append(entity.get(session, actor, record_id))
        except DomainError as exc:
            exc.message = f"{exc.message}: {record_id} (no {entity.name} you can see has this id)"
            raise
    return found


def _names(labels: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(labels[:limit])
    return shown if len(labels) <= limit else f"{shown} and {len(labels) - limit} more"


def _stale(label: str) -> Conflict:
    return Conflict(f"{label} changed since this was proposed; ask again", code="VERSION_CONFLICT")


# The kinds ----------------------------------------------------------------------------------------------


@dataclass
class Preview:
    summary: str
    changes: list[dict[str, Any]]
    versions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionKind:
    name: str
    args: type[Schema]
    preview: Callable[[Session, Actor, Any], Preview]
    apply: Callable[[Session, Actor, Any, dict[str, int]], dict[str, Any]]
    undo: Callable[[Session, Actor, Any, dict[str, Any]], None] | None = None
    cannot_undo: str = "This cannot be undone"


# create_task


def _task_data(args: CreateTaskArgs) -> TaskCreate:
    return TaskCreate.model_validate(args.model_dump(exclude_unset=True))


def _preview_create_task(session: Session, actor: Actor, args: CreateTaskArgs) -> Preview:
    actor.require("tasks", "create")
    data = _task_data(args)
    values = data.model_dump()
    activities.check_related(session, actor, values)
    assignee = activities.check_user(session, actor, data.assignee_id or actor.user_id, "assigneeId")
    values["assignee_id"] = assignee
    changes = [
        change(None, to_camel(name), None, _shown(session, actor, name, value))
        for name, value in values.items()
        if value is not None and value != "" and name != "status"
    ]
    due = f" due {data.due_at:%Y-%m-%d %H:%M} UTC" if data.due_at else ""
    who = user_name(session, actor, assignee)
    return Preview(f"Create task '{data.title}'{due} for {who}", changes)


def _apply_create_task(session: Session, actor: Actor, args: CreateTaskArgs, versions: dict[str, int]) -> dict:
    task = tasks.create(session, actor, _task_data(args))
    return {"records": [ref("task", task)], "created": [{"type": "task", "id": str(task.id)}]}


def _undo_created(session: Session, actor: Actor, args: Any, result: dict[str, Any]) -> None:
    for created in result.get("created", []):
        kind, record_id = created["type"], UUID(created["id"])
        if kind == "activity":
            activities.delete(session, actor, record_id)
        elif kind == "note":
            notes.delete(session, actor, record_id)
        else:
            ENTITIES[kind].delete(session, actor, record_id)


# log_activity


def _note_parent(args: LogActivityArgs) -> tuple[str, UUID]:
    for entity_type, value in (("deals", args.deal_id), ("contacts", args.contact_id), ("accounts", args.account_id)):
        if value is not None:
            return entity_type, value
    raise ValidationFailed(
        "A note is on a contact, an account or a deal: name one",
        details=[
            {"field": f, "message": "one of contactId, accountId, dealId is required"}
            for f in ("contactId", "accountId", "dealId")
        ],
    )


def _note_body(args: LogActivityArgs) -> str:
    """The note's text: its body, headed by the subject unless the body already says it."""
    if not args.body:
        return args.subject
    return args.body if args.body.startswith(args.subject) else f"{args.subject}\n\n{args.body}"


def _activity_data(args: LogActivityArgs) -> ActivityCreate:
    return ActivityCreate.model_validate(args.model_dump(exclude_unset=True))


def _preview_log_activity(session: Session, actor: Actor, args: LogActivityArgs) -> Preview:
    values = args.model_dump()
    if args.type == "note":
        actor.require("notes", "create")
        entity_type, entity_id = _note_parent(args)
        activities.require_parent(session, actor, entity_type, entity_id)
        on = _shown(session, actor, f"{entity_type[:-1]}_id", entity_id)
        changes = [change(None, "body", None, _note_body(args)), change(None, entity_type[:-1], None, on)]
        return Preview(f"Add a note to {entity_type[:-1]} {on}: '{args.subject}'", changes)
    actor.require("activities", "create")
    data = _activity_data(args)
    if not any(values.get(name) for name in _REFERENCES):
        raise ValidationFailed(
            f"A {args.type} is logged on a contact, an account or a deal: name one",
            details=[
                {"field": to_camel(n), "message": "one of contactId, accountId, dealId is required"}
                for n in _REFERENCES
            ],
        )
    activities.check_related(session, actor, values)
    changes = [
        change(None, to_camel(name), None, _shown(session, actor, name, value))
        for name, value in data.model_dump(exclude_none=True).items()
    ]
    about = [str(_shown(session, actor, name, values[name])) for name in _REFERENCES if values.get(name)]
    return Preview(f"Log {args.type} '{args.subject}' with {', '.join(about)}", changes)


def _apply_log_activity(session: Session, actor: Actor, args: LogActivityArgs, versions: dict[str, int]) -> dict:
    if args.type == "note":
        entity_type, entity_id = _note_parent(args)
        note = notes.create(session, actor, entity_type, entity_id, NoteCreate(body=_note_body(args)))
        record = {"type": "note", "id": str(note.id), "label": args.subject}
        return {"records": [record], "created": [{"type": "note", "id": str(note.id)}]}
    activity = activities.create(session, actor, _activity_data(args))
    record = {"type": "activity", "id": str(activity.id), "label": args.subject}
    return {"records": [record], "created": [{"type": "activity", "id": str(activity.id)}]}


# move_deal_stage


def _stages(session: Session, actor: Actor, pipeline_id: UUID) -> list[Stage]:
    return pipelines.stages_by_pipeline(session, actor, [pipeline_id]).get(pipeline_id, [])


def _resolve_stage(session: Session, actor: Actor, deal: Any, wanted: str) -> Stage:
    stages = _stages(session, actor, deal.pipeline_id)
    try:
        wanted_id: UUID | None = UUID(wanted)
    except ValueError:
        wanted_id = None
    for stage in stages:
        if stage.id == wanted_id or stage.name.casefold() == wanted.strip().casefold():
            return stage
    names = ", ".join(s.name for s in stages)
    raise ValidationFailed(
        f"No stage {wanted!r} in this deal's pipeline; its stages are: {names}",
        details=[{"field": "stage", "message": "unknown stage", "stages": [s.name for s in stages]}],
    )


def _stage_name(session: Session, actor: Actor, stage_id: UUID) -> str:
    stage = session.get(Stage, stage_id)
    return stage.name if stage is not None else str(stage_id)


def _preview_move(session: Session, actor: Actor, args: MoveDealStageArgs) -> Preview:
    actor.require("deals", "update")
    deal = deals.get(session, actor, args.deal_id)
    stage = _resolve_stage(session, actor, deal, args.stage)
    current = _stage_name(session, actor, deal.stage_id)
    if stage.id == deal.stage_id:
        raise ValidationFailed(f"Deal {deal.name} is already in {stage.name}", details=[{"field": "stage"}])
    lost = stage.is_closed_stage and not stage.is_won_stage
    if lost and not args.lost_reason:
        raise ValidationFailed(
            f"Moving {deal.name} to {stage.name} marks it lost: say why (lost reason)",
            details=[{"field": "lostReason", "message": "required when the deal is lost"}],
        )
    if args.lost_reason and not lost:
        raise ValidationFailed(
            f"A lost reason is only for a lost stage, and {stage.name} is not one",
            details=[{"field": "lostReason", "message": "only for a move to a lost stage"}],
        )
    record = ref("deal", deal)
    changes = [change(record, "stage", current, stage.name)]
    if stage.probability != deal.probability:
        changes.append(change(record, "probability", deal.probability, stage.probability))
    if stage.is_closed_stage or deal.is_closed:
        status = "won" if stage.is_won_stage else "lost" if stage.is_closed_stage else "open"
        was = "open" if not deal.is_closed else "won" if deal.is_won else "lost"
        changes.append(change(record, "status", was, status))
    if lost:
        changes.append(change(record, "lostReason", deal.lost_reason, args.lost_reason))
    return Preview(f"Move deal {deal.name} from {current} to {stage.name}", changes, {str(deal.id): deal.version})


def _apply_move(session: Session, actor: Actor, args: MoveDealStageArgs, versions: dict[str, int]) -> dict:
    deal = deals.get(session, actor, args.deal_id)
    stage = _resolve_stage(session, actor, deal, args.stage)
    before = {
        "stageId": str(deal.stage_id),
        "lostReason": deal.lost_reason,
        "actualCloseDate": to_jsonable_python(deal.actual_close_date),
    }
    try:
        check_version(deal, versions.get(str(deal.id)))
    except Conflict:
        raise Conflict("The deal changed since; ask again", code="VERSION_CONFLICT") from None
    deals.move_stage(
        session, actor, deal.id, stage.id, version=versions.get(str(deal.id)), lost_reason=args.lost_reason
    )
    return {"records": [ref("deal", deal)], "before": before, "versions": {str(deal.id): deal.version}}


def _undo_move(session: Session, actor: Actor, args: MoveDealStageArgs, result: dict[str, Any]) -> None:
    deal_id = UUID(result["records"][0]["id"])
    before = result["before"]
    deal = deals.get(session, actor, deal_id)
    if deal.version != result["versions"][str(deal_id)]:
        raise Conflict(f"Deal {deal.name} changed since; it was not moved back", code="VERSION_CONFLICT")
    stage = session.get(Stage, UUID(before["stageId"]))
    closed = stage is not None and stage.is_closed_stage
    close_date = (
        datetime.fromisoformat(before["actualCloseDate"]).date() if closed and before["actualCloseDate"] else None
    )
    lost_reason = before["lostReason"] if closed and stage is not None and not stage.is_won_stage else None
    deals.move_stage(
        session,
        actor,
        deal_id,
        UUID(before["stageId"]),
        version=deal.version,
        lost_reason=lost_reason,
        close_date=close_date,
    )


# update_fields and assign_owner


def _field_name(name: str) -> str:
    return to_camel(name)


def _update_values(entity: Entity, changes: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The changes validated by the entity's PATCH schema: (model, {snake_name: value} of what was given)."""
    if any(key in ("version",) for key in changes):
        raise ValidationFailed("version is not a field to change", details=[{"field": "version"}])
    data = _validate(entity.update_schema, changes, f"changes to a {entity.name}")
    values = data.model_dump(exclude_unset=True)
    if entity.name == "deal" and any(name in values for name in _STAGE_FIELDS):
        raise ValidationFailed(
            "Move a deal between stages with move_deal_stage (it previews and undoes the move)",
            details=[{"field": to_camel(n), "message": "use move_deal_stage"} for n in _STAGE_FIELDS if n in values],
        )
    return data, values


def _preview_update(
    session: Session,
    actor: Actor,
    entity_name: str,
    ids: Sequence[UUID],
    changes: Mapping[str, Any],
    verb: str | None = None,
) -> Preview:
    entity = ENTITIES[entity_name]
    actor.require(entity.resource, "update")
    _, values = _update_values(entity, changes)
    records = _records(session, actor, entity, ids)
    custom = values.pop("custom_fields", None) or {}
    current = custom_fields.values_for(session, actor, entity.resource, [r.id for r in records]) if custom else {}
    out: list[dict[str, Any]] = []
    labels = []
    for record in records:
        record_ref = ref(entity_name, record)
        labels.append(record_ref["label"])
        for name, value in values.items():
            old = getattr(record, name)
            out.append(
                change(
                    record_ref,
                    _field_name(name),
                    _shown(session, actor, name, old),
                    _shown(session, actor, name, value),
                )
            )
        for name, value in custom.items():
            out.append(change(record_ref, f"customFields.{name}", current.get(record.id, {}).get(name), value))
    what = verb or "Change " + ", ".join([_field_name(n) for n in values] + [f"customFields.{n}" for n in custom])
    plural = entity_name if len(records) == 1 else f"{len(records)} {entity_name}s"
    return Preview(f"{what} on {plural}: {_names(labels)}", out, {str(r.id): r.version for r in records})


def _restore_values(session: Session, actor: Actor, entity: Entity, record: Any, values: Mapping[str, Any]) -> dict:
    """The PATCH that puts back what `values` would change on `record` (JSON, API names)."""
    restore: dict[str, Any] = {}
    for name in values:
        if name == "custom_fields":
            current = custom_fields.values_for(session, actor, entity.resource, [record.id]).get(record.id, {})
            restore["customFields"] = {k: current.get(k) for k in values[name]}
        else:
            restore[_field_name(name)] = to_jsonable_python(getattr(record, name))
    return restore


def _apply_update(
    session: Session,
    actor: Actor,
    entity_name: str,
    ids: Sequence[UUID],
    changes: Mapping[str, Any],
    versions: dict[str, int],
) -> dict:
    entity = ENTITIES[entity_name]
    data, values = _update_values(entity, changes)
    records = _records(session, actor, entity, ids)
    restore: dict[str, dict[str, Any]] = {}
    after: dict[str, int] = {}
    for record in records:
        label = entity.label(record)
        if str(record.id) in versions and record.version != versions[str(record.id)]:
            raise _stale(f"{entity.name.title()} {label}")
        restore[str(record.id)] = _restore_values(session, actor, entity, record, values)
        entity.update(session, actor, record.id, data)
        after[str(record.id)] = record.version
    return {
        "records": [ref(entity_name, r) for r in records],
        "entity": entity_name,
        "restore": restore,
        "versions": after,
    }


def _undo_update(session: Session, actor: Actor, args: Any, result: dict[str, Any]) -> None:
    entity = ENTITIES[result["entity"]]
    for record_id, patch in result["restore"].items():
        record = entity.get(session, actor, UUID(record_id))
        if record.version != result["versions"][record_id]:
            raise Conflict(
                f"{entity.name.title()} {entity.label(record)} changed since; nothing was undone",
                code="VERSION_CONFLICT",
            )
        entity.update(session, actor, record.id, entity.update_schema.model_validate(patch))


def _preview_update_fields(session: Session, actor: Actor, args: UpdateFieldsArgs) -> Preview:
    return _preview_update(session, actor, args.entity, args.ids, args.changes)


def _apply_update_fields(session: Session, actor: Actor, args: UpdateFieldsArgs, versions: dict[str, int]) -> dict:
    return _apply_update(session, actor, args.entity, args.ids, args.changes, versions)


def _owner_changes(args: AssignOwnerArgs) -> dict[str, Any]:
    return {ENTITIES[args.entity].owner_field: args.owner_id}


def _preview_assign(session: Session, actor: Actor, args: AssignOwnerArgs) -> Preview:
    who = user_name(session, actor, args.owner_id)
    verb = f"{'Assign' if args.entity == 'task' else 'Give'} to {who}"
    return _preview_update(session, actor, args.entity, args.ids, _owner_changes(args), verb)


def _apply_assign(session: Session, actor: Actor, args: AssignOwnerArgs, versions: dict[str, int]) -> dict:
    return _apply_update(session, actor, args.entity, args.ids, _owner_changes(args), versions)


# create_record


def _create_data(args: CreateRecordArgs) -> Any:
    entity = ENTITIES[args.entity]
    assert entity.create_schema is not None
    return _validate(entity.create_schema, args.fields, f"new {args.entity}")


def _preview_create_record(session: Session, actor: Actor, args: CreateRecordArgs) -> Preview:
    entity = ENTITIES[args.entity]
    actor.require(entity.resource, "create")
    data = _create_data(args)
    given = data.model_dump(exclude_unset=True)
    custom = given.pop("custom_fields", None) or {}
    changes = [change(None, _field_name(n), None, _shown(session, actor, n, v)) for n, v in given.items()]
    changes += [change(None, f"customFields.{n}", None, v) for n, v in custom.items()]
    name = _person(data) if args.entity == "contact" else data.name
    return Preview(f"Create {args.entity} {name}", changes)


def _apply_create_record(session: Session, actor: Actor, args: CreateRecordArgs, versions: dict[str, int]) -> dict:
    entity = ENTITIES[args.entity]
    assert entity.create is not None
    record = entity.create(session, actor, _create_data(args))
    return {"records": [ref(args.entity, record)], "created": [{"type": args.entity, "id": str(record.id)}]}


# delete_records


def _preview_delete(session: Session, actor: Actor, args: DeleteRecordsArgs) -> Preview:
    entity = ENTITIES[args.entity]
    actor.require(entity.resource, "delete")
    records = _records(session, actor, entity, args.ids)
    refs = [ref(args.entity, r) for r in records]
    changes = [change(r, "deleted", False, True) for r in refs]
    plural = args.entity if len(records) == 1 else f"{len(records)} {args.entity}s"
    return Preview(
        f"Delete {plural}: {_names([r['label'] for r in refs])}", changes, {str(r.id): r.version for r in records}
    )


def _apply_delete(session: Session, actor: Actor, args: DeleteRecordsArgs, versions: dict[str, int]) -> dict:
    entity = ENTITIES[args.entity]
    records = _records(session, actor, entity, args.ids)
    refs = [ref(args.entity, r) for r in records]
    for record, record_ref in zip(records, refs, strict=True):
        if str(record.id) in versions and record.version != versions[str(record.id)]:
            raise _stale(f"{entity.name.title()} {record_ref['label']}")
        entity.delete(session, actor, record.id)
    return {"records": refs, "deleted": [r["id"] for r in refs]}


KINDS: dict[str, ActionKind] = {
    kind.name: kind
    for kind in (
        ActionKind("create_task", CreateTaskArgs, _preview_create_task, _apply_create_task, _undo_created),
        ActionKind("log_activity", LogActivityArgs, _preview_log_activity, _apply_log_activity, _undo_created),
        ActionKind("move_deal_stage", MoveDealStageArgs, _preview_move, _apply_move, _undo_move),
        ActionKind("update_fields", UpdateFieldsArgs, _preview_update_fields, _apply_update_fields, _undo_update),
        ActionKind("assign_owner", AssignOwnerArgs, _preview_assign, _apply_assign, _undo_update),
        ActionKind("create_record", CreateRecordArgs, _preview_create_record, _apply_create_record, _undo_created),
        ActionKind(
            "delete_records",
            DeleteRecordsArgs,
            _preview_delete,
            _apply_delete,
            None,
            "A delete cannot be undone: there is no service that restores deleted records",
        ),
    )
}


def kind(action: str) -> ActionKind:
    found = KINDS.get(action)
    if found is None:
        raise ValidationFailed(
            f"Unknown action {action!r}; one of {', '.join(KINDS)}", details=[{"field": "action", "message": "unknown"}]
        )
    return found


def parse(action: str, arguments: Mapping[str, Any]) -> Any:
    """The action's arguments, validated (a ValidationFailed naming each bad field otherwise)."""
    return _validate(kind(action).args, arguments, f"arguments for {action}")
