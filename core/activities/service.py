"""Activities: calls, meetings, emails (and notes, other) logged against contacts, accounts and deals.

Activities are owned records (the own/team/all scope applies to their owner). Logging, changing or deleting
one keeps the contact's `last_contacted_at` at the latest call, meeting or email. The helpers for records
that hang off contacts, accounts and deals (`require_parent`, `check_related`, `check_user`, `parse_list`)
serve tasks and notes too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from core.accounts.models import Account
from core.activities.models import Activity
from core.activities.schemas import ActivityCreate, ActivityRead, ActivityReplace, ActivityUpdate
from core.actor import Actor
from core.contacts.models import Contact
from core.deals.models import Deal
from core.errors import NotFound, ValidationFailed
from core.events.service import emit
from core.ids import new_id
from core.records import bulk
from core.records import query as q
from core.records.listing import RecordPage
from core.records.owners import resolve_owner
from core.users.models import User
from core.versioning import check_version

CONTACTING_TYPES = ("call", "meeting", "email")

PARENTS: dict[str, tuple[Any, str]] = {
    "contacts": (Contact, "Contact"),
    "accounts": (Account, "Account"),
    "deals": (Deal, "Deal"),
}
RELATED = {
    "contact_id": ("contacts", "contactId"),
    "account_id": ("accounts", "accountId"),
    "deal_id": ("deals", "dealId"),
}


# Shared by activities, tasks and notes ------------------------------------------------------------------


def require_parent(session: Session, actor: Actor, entity_type: str, entity_id: UUID) -> None:
    """The contact, account or deal a sub-resource hangs off: readable by the actor (read permission and
    record scope) or `NotFound`, which also covers other tenants' ids."""
    if entity_type not in PARENTS:
        raise NotFound(f"No such record type: {entity_type}")
    model, label = PARENTS[entity_type]
    statement = actor.readable(model, entity_type).with_only_columns(model.id).where(model.id == entity_id)
    if session.scalar(statement) is None:
        raise NotFound(f"{label} not found")


def check_related(session: Session, actor: Actor, values: Mapping[str, Any]) -> None:
    """`contact_id`/`account_id`/`deal_id` in `values` must name records the actor can read in its tenant;
    otherwise one `ValidationFailed` naming each field (as the API spells it)."""
    problems = []
    for attr, (entity_type, field) in RELATED.items():
        entity_id = values.get(attr)
        if entity_id is None:
            continue
        model, label = PARENTS[entity_type]
        statement = actor.readable(model).with_only_columns(model.id).where(model.id == entity_id)
        if session.scalar(statement) is None:
            problems.append({"field": field, "message": f"no such {label.lower()}", "value": str(entity_id)})
    if problems:
        raise ValidationFailed(f"Unknown related record: {', '.join(p['field'] for p in problems)}", details=problems)


def check_user(session: Session, actor: Actor, user_id: UUID | None, field: str) -> UUID:
    """An assignee: any active user of the actor's tenant (owners go through `resolve_owner`, scope-bound)."""
    if user_id is None:
        raise ValidationFailed(f"{field} is required", details=[{"field": field, "message": "required"}])
    found = session.scalar(
        select(User.id).where(
            User.tenant_id == actor.tenant_id,
            User.id == user_id,
            User.is_active.is_(True),
            User.deleted_at.is_(None),
        )
    )
    if found is None:
        raise ValidationFailed(
            f"{field} must be an active user of your workspace",
            details=[{"field": field, "message": "no such active user", "value": str(user_id)}],
        )
    return user_id


def check_not_null(changes: Mapping[str, Any], names: Iterable[str], aliases: Mapping[str, str]) -> None:
    """PATCH may omit a required field but not set it to null."""
    nulls = [aliases.get(n, n) for n in names if n in changes and changes[n] is None]
    if nulls:
        raise ValidationFailed(
            f"Cannot be null: {', '.join(nulls)}", details=[{"field": n, "message": "must not be null"} for n in nulls]
        )


def parse_list(
    params: Mapping[str, Sequence[str]], specs: Mapping[str, q.FieldSpec], *, default_sort: str
) -> q.ListQuery:
    """`query.parse`, refusing first what would otherwise fail below it: NUL characters (PostgreSQL text cannot
    hold them) and `[isnull]` values that are not true or false."""
    bad = sorted({k for k, values in params.items() for v in [k, *values] if "\x00" in v})
    if bad:
        raise ValidationFailed(
            "Invalid list query: NUL characters", details=[{"field": k, "message": "contains NUL"} for k in bad]
        )
    flags = ("", "true", "false", "1", "0", "yes", "no")
    not_flags = sorted(
        k
        for k, values in params.items()
        if k.endswith("[isnull]") and any(v.strip().lower() not in flags for v in values)
    )
    if not_flags:
        raise ValidationFailed(
            f"Invalid list query: {', '.join(not_flags)}",
            details=[{"field": k, "message": "expected true or false"} for k in not_flags],
        )
    return q.parse(params, specs, default_sort=default_sort)


def record_page(
    session: Session,
    statement: Any,
    listed: q.ListQuery,
    *,
    id_spec: q.FieldSpec,
    serialize: Callable[[Any], dict[str, Any]],
) -> RecordPage:
    """One offset or cursor page of `statement`, each record serialized and cut to the `fields=` asked for."""
    page = q.page(session, statement, listed, id_spec=id_spec)
    return RecordPage(
        items=[q.select_fields(serialize(row[0]), listed.fields) for row in page.rows],
        limit=listed.limit,
        page=listed.page,
        total=page.total,
        next_cursor=page.next_cursor,
        cursor=listed.cursor is not None,
    )


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# Activities --------------------------------------------------------------------------------------------

SPECS: dict[str, q.FieldSpec] = {
    "id": q.FieldSpec("id", Activity.id, "uuid"),
    "type": q.FieldSpec("type", Activity.type),
    "subject": q.FieldSpec("subject", Activity.subject),
    "body": q.FieldSpec("body", Activity.body, filterable=False, sortable=False),
    "direction": q.FieldSpec("direction", Activity.direction),
    "outcome": q.FieldSpec("outcome", Activity.outcome),
    "durationSeconds": q.FieldSpec("durationSeconds", Activity.duration_seconds, "int"),
    "occurredAt": q.FieldSpec("occurredAt", Activity.occurred_at, "datetime"),
    "contactId": q.FieldSpec("contactId", Activity.contact_id, "uuid"),
    "accountId": q.FieldSpec("accountId", Activity.account_id, "uuid"),
    "dealId": q.FieldSpec("dealId", Activity.deal_id, "uuid"),
    "ownerId": q.FieldSpec("ownerId", Activity.owner_id, "uuid"),
    "createdAt": q.FieldSpec("createdAt", Activity.created_at, "datetime"),
    "updatedAt": q.FieldSpec("updatedAt", Activity.updated_at, "datetime"),
    "version": q.FieldSpec("version", Activity.version, "int", filterable=False, sortable=False),
}
SEARCH = func.to_tsvector("simple", func.coalesce(Activity.subject, "") + " " + func.coalesce(Activity.body, ""))
_PARENT_COLUMNS = {"contacts": Activity.contact_id, "accounts": Activity.account_id, "deals": Activity.deal_id}


def to_read(activity: Activity) -> ActivityRead:
    return ActivityRead.model_validate(activity)


def to_json(activity: Activity) -> dict[str, Any]:
    return to_read(activity).model_dump(mode="json", by_alias=True)


def get(session: Session, actor: Actor, activity_id: UUID) -> Activity:
    actor.require("activities", "read")
    activity = session.scalar(actor.readable(Activity).where(Activity.id == activity_id))
    if activity is None:
        raise NotFound("Activity not found")
    return activity


def list_activities(
    session: Session,
    actor: Actor,
    params: Mapping[str, Sequence[str]],
    *,
    parent: tuple[str, UUID] | None = None,
) -> RecordPage:
    """A page of the activities the actor may see (newest first by default), optionally of one parent record
    (`("contacts", id)`), filtered and sorted by the list query language."""
    actor.require("activities", "read")
    listed = parse_list(params, SPECS, default_sort="-occurredAt")
    statement = actor.readable(Activity)
    if parent is not None:
        require_parent(session, actor, *parent)
        statement = statement.where(_PARENT_COLUMNS[parent[0]] == parent[1])
    statement = q.apply(statement, listed, id_column=Activity.id, search_column=SEARCH)
    return record_page(session, statement, listed, id_spec=SPECS["id"], serialize=to_json)


def _require_related(values: Mapping[str, Any]) -> None:
    if not any(values.get(attr) for attr in RELATED):
        raise ValidationFailed(
            "An activity is about a contact, an account or a deal: give at least one",
            details=[
                {"field": field, "message": "one of contactId, accountId, dealId is required"}
                for _, field in RELATED.values()
            ],
        )


def touch_contacts(session: Session, actor: Actor, contact_ids: Iterable[UUID | None]) -> None:
    """Set each contact's `last_contacted_at` to its latest call, meeting or email (or null without any)."""
    ids = {i for i in contact_ids if i is not None}
    if not ids:
        return
    session.flush()
    latest = (
        select(func.max(Activity.occurred_at))
        .where(
            Activity.tenant_id == actor.tenant_id,
            Activity.contact_id == Contact.id,
            Activity.deleted_at.is_(None),
            Activity.type.in_(CONTACTING_TYPES),
        )
        .correlate(Contact)
        .scalar_subquery()
    )
    session.execute(
        sql_update(Contact)
        .where(Contact.tenant_id == actor.tenant_id, Contact.id.in_(ids))
        .values(last_contacted_at=latest)
        .execution_options(synchronize_session="fetch")
    )


def create(session: Session, actor: Actor, data: ActivityCreate) -> Activity:
    """Log an activity, owned by the caller unless `owner_id` names a user the caller may assign records to."""
    actor.require("activities", "create")
    values = data.model_dump()
    _require_related(values)
    check_related(session, actor, values)
    values["owner_id"] = resolve_owner(session, actor, values["owner_id"])
    if values["occurred_at"] is None:
        values["occurred_at"] = datetime.now(UTC)
    activity = Activity(id=new_id(), tenant_id=actor.tenant_id, **values)
    session.add(activity)
    session.flush()
    touch_contacts(session, actor, [activity.contact_id])
    emit(session, actor, "activity.created", entity_type="activities", entity_id=activity.id, payload=to_json(activity))
    return activity


_NOT_NULL = ("type", "subject", "occurred_at", "owner_id")


def update(session: Session, actor: Actor, activity_id: UUID, data: ActivityUpdate) -> Activity:
    """Change an activity; send `version` to be refused (409) when someone else changed it first."""
    actor.require("activities", "update")
    activity = get(session, actor, activity_id)
    check_version(activity, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    check_not_null(changes, _NOT_NULL, {n: camel(n) for n in _NOT_NULL})
    related = {attr: changes.get(attr, getattr(activity, attr)) for attr in RELATED}
    _require_related(related)
    check_related(session, actor, {k: v for k, v in changes.items() if k in RELATED and v != getattr(activity, k)})
    if "owner_id" in changes and changes["owner_id"] != activity.owner_id:
        resolve_owner(session, actor, changes["owner_id"])
    previous_contact = activity.contact_id
    changed = [name for name, value in changes.items() if getattr(activity, name) != value]
    for name in changed:
        setattr(activity, name, changes[name])
    if changed:
        session.flush()
        if {"contact_id", "type", "occurred_at"} & set(changed):
            touch_contacts(session, actor, [previous_contact, activity.contact_id])
        emit(
            session,
            actor,
            "activity.updated",
            entity_type="activities",
            entity_id=activity.id,
            payload={**to_json(activity), "changes": [camel(n) for n in changed]},
        )
    return activity


def delete(session: Session, actor: Actor, activity_id: UUID) -> None:
    """Soft delete."""
    actor.require("activities", "delete")
    activity = get(session, actor, activity_id)
    activity.deleted_at = datetime.now(UTC)
    session.flush()
    touch_contacts(session, actor, [activity.contact_id])
    emit(session, actor, "activity.deleted", entity_type="activities", entity_id=activity.id)


def replace(session: Session, actor: Actor, activity_id: UUID, data: ActivityReplace) -> Activity:
    """PUT: the whole activity, as `update` with every field given; fields not sent are cleared (or take their
    defaults), the owner and `occurred_at` stay unless sent."""
    keep = {name for name in ("owner_id", "occurred_at") if getattr(data, name) is None}
    return update(session, actor, activity_id, ActivityUpdate.model_validate(data.model_dump(exclude=keep)))


# Bulk ----------------------------------------------------------------------------------------------------


def bulk_create(session: Session, actor: Actor, items: Sequence[Any]) -> bulk.BulkOutcome:
    """Log each item (validated as for `create`) in its own savepoint; bad items become error results."""
    actor.require("activities", "create")
    bulk.check_size(items, field="activities")
    return bulk.run_each(session, items, lambda item: create(session, actor, ActivityCreate.model_validate(item)).id)


def bulk_update(session: Session, actor: Actor, ids: Sequence[UUID], updates: ActivityUpdate) -> bulk.BulkOutcome:
    """Apply the same PATCH to each activity; one the actor cannot see is a per-item 404."""
    actor.require("activities", "update")
    bulk.check_size(ids, field="ids")
    return bulk.run_each(
        session, ids, lambda activity_id: update(session, actor, activity_id, updates).id, key=lambda i: i
    )


def bulk_delete(session: Session, actor: Actor, ids: Sequence[UUID]) -> bulk.BulkOutcome:
    """Soft-delete each activity; one the actor cannot see is a per-item 404."""
    actor.require("activities", "delete")
    bulk.check_size(ids, field="ids")

    return bulk.delete_each(session, ids, lambda record_id: delete(session, actor, record_id))
