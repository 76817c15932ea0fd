"""Tasks: to-dos with a due date for an assignee, optionally about a contact, account or deal.

The record scope applies to the assignee. Overdue is derived (open or in progress, due in the past), never
stored. Completing a task (status `done`) stamps `completed_at` and emits `task.completed` once per
completion; reopening clears the stamp.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, literal
from sqlalchemy.orm import Session

from core.activities.service import (
    RELATED,
    camel,
    check_not_null,
    check_related,
    check_user,
    parse_list,
    record_page,
    require_parent,
)
from core.actor import Actor
from core.errors import NotFound, ValidationFailed
from core.events.service import emit
from core.ids import new_id
from core.records import bulk
from core.records import query as q
from core.records.listing import RecordPage
from core.tasks.models import Task
from core.tasks.schemas import TaskCreate, TaskRead, TaskReplace, TaskUpdate
from core.tenants import calendar
from core.users import service as users
from core.users.models import User
from core.users.schemas import UserRead
from core.versioning import check_version

ACTIVE_STATUSES = ("open", "in_progress")

_OVERDUE = and_(Task.status.in_(ACTIVE_STATUSES), Task.due_at.is_not(None), Task.due_at < func.now())

SPECS: dict[str, q.FieldSpec] = {
    "id": q.FieldSpec("id", Task.id, "uuid"),
    "title": q.FieldSpec("title", Task.title),
    "description": q.FieldSpec("description", Task.description, filterable=False, sortable=False),
    "dueAt": q.FieldSpec("dueAt", Task.due_at, "datetime"),
    "priority": q.FieldSpec("priority", Task.priority),
    "status": q.FieldSpec("status", Task.status),
    "assigneeId": q.FieldSpec("assigneeId", Task.assignee_id, "uuid"),
    "createdBy": q.FieldSpec("createdBy", Task.created_by, "uuid"),
    "completedAt": q.FieldSpec("completedAt", Task.completed_at, "datetime"),
    "contactId": q.FieldSpec("contactId", Task.contact_id, "uuid"),
    "accountId": q.FieldSpec("accountId", Task.account_id, "uuid"),
    "dealId": q.FieldSpec("dealId", Task.deal_id, "uuid"),
    "overdue": q.FieldSpec("overdue", _OVERDUE, "bool", sortable=False),
    "isOverdue": q.FieldSpec("isOverdue", _OVERDUE, "bool", sortable=False),
    "createdAt": q.FieldSpec("createdAt", Task.created_at, "datetime"),
    "updatedAt": q.FieldSpec("updatedAt", Task.updated_at, "datetime"),
    "version": q.FieldSpec("version", Task.version, "int", filterable=False, sortable=False),
}
SEARCH = func.to_tsvector("simple", func.coalesce(Task.title, "") + literal(" ") + func.coalesce(Task.description, ""))
_PARENT_COLUMNS = {"contacts": Task.contact_id, "accounts": Task.account_id, "deals": Task.deal_id}


def is_overdue(task: Task, now: datetime | None = None) -> bool:
    return task.status in ACTIVE_STATUSES and task.due_at is not None and task.due_at < (now or datetime.now(UTC))


def to_read(task: Task, now: datetime | None = None) -> TaskRead:
    values = {name: getattr(task, name) for name in TaskRead.model_fields if name != "is_overdue"}
    return TaskRead.model_validate({**values, "is_overdue": is_overdue(task, now)})


def to_json(task: Task, now: datetime | None = None) -> dict[str, Any]:
    return to_read(task, now).model_dump(mode="json", by_alias=True)


def get(session: Session, actor: Actor, task_id: UUID) -> Task:
    actor.require("tasks", "read")
    task = session.scalar(actor.readable(Task).where(Task.id == task_id))
    if task is None:
        raise NotFound("Task not found")
    return task


def list_tasks(
    session: Session,
    actor: Actor,
    params: Mapping[str, Sequence[str]],
    *,
    parent: tuple[str, UUID] | None = None,
) -> RecordPage:
    """A page of the tasks the actor may see (soonest due first by default), optionally of one parent record;
    `overdue=true` keeps the open or in-progress ones due in the past."""
    actor.require("tasks", "read")
    listed = parse_list(params, SPECS, default_sort="dueAt")
    statement = actor.readable(Task)
    if parent is not None:
        require_parent(session, actor, *parent)
        statement = statement.where(_PARENT_COLUMNS[parent[0]] == parent[1])
    statement = q.apply(statement, listed, id_column=Task.id, search_column=SEARCH)
    now = datetime.now(UTC)
    return record_page(session, statement, listed, id_spec=SPECS["id"], serialize=lambda t: to_json(t, now))


def create(session: Session, actor: Actor, data: TaskCreate) -> Task:
    """Create a task, assigned to the caller unless `assignee_id` names another active user."""
    actor.require("tasks", "create")
    values = data.model_dump()
    check_related(session, actor, values)
    values["assignee_id"] = check_user(session, actor, values["assignee_id"] or actor.user_id, "assigneeId")
    task = Task(
        id=new_id(),
        tenant_id=actor.tenant_id,
        created_by=actor.user_id,
        completed_at=datetime.now(UTC) if values["status"] == "done" else None,
        **values,
    )
    session.add(task)
    session.flush()
    emit(session, actor, "task.created", entity_type="tasks", entity_id=task.id, payload=to_json(task))
    if task.status == "done":
        emit(session, actor, "task.completed", entity_type="tasks", entity_id=task.id, payload=to_json(task))
    return task


_NOT_NULL = ("title", "priority", "status", "assignee_id")


def update(session: Session, actor: Actor, task_id: UUID, data: TaskUpdate) -> Task:
    """Change a task. Moving to `done` completes it (stamps `completed_at`, emits `task.completed`); moving
    away from `done` reopens it. Send `version` to be refused (409) when someone else changed it first."""
    actor.require("tasks", "update")
    task = get(session, actor, task_id)
    check_version(task, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    check_not_null(changes, _NOT_NULL, {n: camel(n) for n in _NOT_NULL})
    check_related(session, actor, {k: v for k, v in changes.items() if k in RELATED and v != getattr(task, k)})
    if "assignee_id" in changes and changes["assignee_id"] != task.assignee_id:
        check_user(session, actor, changes["assignee_id"], "assigneeId")
    changed = [name for name, value in changes.items() if getattr(task, name) != value]
    completed = "status" in changed and changes["status"] == "done"
    if "status" in changed:
        task.completed_at = datetime.now(UTC) if changes["status"] == "done" else None
    for name in changed:
        setattr(task, name, changes[name])
    if changed:
        session.flush()
        payload = to_json(task)
        emit(
            session,
            actor,
            "task.updated",
            entity_type="tasks",
            entity_id=task.id,
            payload={**payload, "changes": [camel(n) for n in changed]},
        )
        if completed:
            emit(session, actor, "task.completed", entity_type="tasks", entity_id=task.id, payload=payload)
    return task


def delete(session: Session, actor: Actor, task_id: UUID) -> None:
    """Soft delete."""
    actor.require("tasks", "delete")
    task = get(session, actor, task_id)
    task.deleted_at = datetime.now(UTC)
    session.flush()
    emit(session, actor, "task.deleted", entity_type="tasks", entity_id=task.id)


def replace(session: Session, actor: Actor, task_id: UUID, data: TaskReplace) -> Task:
    """PUT: the whole task, as `update` with every field given; fields not sent are cleared or take their
    defaults (status `open` reopens a done task), the assignee stays unless sent."""
    keep = {"assignee_id"} if data.assignee_id is None else set()
    return update(session, actor, task_id, TaskUpdate.model_validate(data.model_dump(exclude=keep)))


# Bulk ----------------------------------------------------------------------------------------------------


def bulk_create(session: Session, actor: Actor, items: Sequence[Any]) -> bulk.BulkOutcome:
    """Create each item (validated as for `create`) in its own savepoint; bad items become error results."""
    actor.require("tasks", "create")
    bulk.check_size(items, field="tasks")
    return bulk.run_each(session, items, lambda item: create(session, actor, TaskCreate.model_validate(item)).id)


def bulk_update(session: Session, actor: Actor, ids: Sequence[UUID], updates: TaskUpdate) -> bulk.BulkOutcome:
    """Apply the same PATCH to each task (`status: done` completes each); one the actor cannot see is a
    per-item 404."""
    actor.require("tasks", "update")
    bulk.check_size(ids, field="ids")
    return bulk.run_each(session, ids, lambda task_id: update(session, actor, task_id, updates).id, key=lambda i: i)


def bulk_delete(session: Session, actor: Actor, ids: Sequence[UUID]) -> bulk.BulkOutcome:
    """Soft-delete each task; one the actor cannot see is a per-item 404."""
    actor.require("tasks", "delete")
    bulk.check_size(ids, field="ids")

    return bulk.delete_each(session, ids, lambda record_id: delete(session, actor, record_id))


# Task lists of a person or a team ------------------------------------------------------------------------

DUE_WINDOWS = ("overdue", "today", "this_week", "later", "none")


def due_window(session: Session, actor: Actor, window: str, *, now: datetime | None = None) -> dict[str, list[str]]:
    """The `list_tasks` filters for the tasks due in `window`: `overdue` (open or in progress, due in the
    past), `today`, `this_week` (today to Sunday), `later` (after this week) or `none` (no due date). Days are
    the tenant's calendar days, so "today" ends at the tenant's midnight, not UTC's."""
    actor.require("tasks", "read")
    if window not in DUE_WINDOWS:
        raise ValidationFailed(
            f"Unknown due window {window!r}", details=[{"field": "due", "message": f"one of {', '.join(DUE_WINDOWS)}"}]
        )
    if window == "overdue":
        return {"overdue": ["true"]}
    if window == "none":
        return {"dueAt[isnull]": ["true"]}
    zone = calendar.zone(session, actor)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    start = datetime.combine(today, time.min, tzinfo=zone)
    tomorrow = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)
    next_week = datetime.combine(today + timedelta(days=8 - today.isoweekday()), time.min, tzinfo=zone)
    if window == "today":
        return {"dueAt[gte]": [start.isoformat()], "dueAt[lt]": [tomorrow.isoformat()]}
    if window == "this_week":
        return {"dueAt[gte]": [start.isoformat()], "dueAt[lt]": [next_week.isoformat()]}
    return {"dueAt[gte]": [next_week.isoformat()]}


class _AssignedTask:
    """`Actor.apply_scope` reads the owner column off a model: a user "owns" the tasks assigned to them."""

    __owner_column__ = "id"
    id = User.id


def assignees(session: Session, actor: Actor, *, include_inactive: bool = False) -> list[UserRead]:
    """The users whose tasks fall within the actor's record scope (own: the actor alone; team: the actor's
    team; all: everyone in the tenant), by name: whom a team view of tasks lists, and to whom the actor may
    hand a task and still see it. Inactive users only with `include_inactive` (their open tasks still need
    someone)."""
    actor.require("tasks", "read")
    statement = actor.apply_scope(actor.readable(User), _AssignedTask)
    if not include_inactive:
        statement = statement.where(User.is_active.is_(True))
    return users.to_reads(session, list(session.scalars(statement.order_by(User.first_name, User.last_name, User.id))))
