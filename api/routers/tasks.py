"""Tasks: `/api/v1/tasks` and each record's `/contacts|accounts|deals/{id}/tasks`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status
from sqlalchemy import Select

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from api.exports import ExportQuery, export_options, export_response
from api.lists import ListParams, list_doc, list_response, partial_of
from core.actor import Actor
from core.contacts.schemas import BulkCreated, BulkDeleted, BulkUpdated
from core.records import export
from core.tasks import service as tasks
from core.tasks.models import Task
from core.tasks.schemas import (
    TaskBulkCreate,
    TaskBulkDelete,
    TaskBulkUpdate,
    TaskCreate,
    TaskRead,
    TaskReplace,
    TaskUpdate,
)

router = APIRouter(tags=["tasks"])

ERRORS = error_responses(400, 401, 403, 404, 409)
LIST_OPTIONS: dict[str, Any] = {
    "response_model": None,
    "dependencies": [requires("tasks", "read")],
    "responses": {**ERRORS, **list_doc(partial_of(TaskRead, "TaskListItem"), "A page of tasks")},
    "description": (
        "Soonest due first by default. Filter by `status`, `priority`, `assigneeId`, `contactId`, `accountId`, "
        "`dealId` (lists: `a,b`), `dueAt[gte]=...&dueAt[lt]=...`, `completedAt`, `createdAt`, and `overdue=true` "
        "(open or in progress and due in the past); sort (`sort=dueAt,-priority`), select `fields=`, `search=` "
        "(title and description); offset pages (`page`, `limit`) or cursor pages (`cursor=`). Unknown fields are "
        "a 400 naming them."
    ),
}


def _readable(actor: Actor) -> Select[Any]:
    return actor.readable(Task)


EXPORT = export.RecordExport(
    entity_type="tasks",
    event="task.exported",
    model=Task,
    statement=_readable,
    specs=export.fixed_specs(tasks.SPECS),
    columns=export.columns_of(TaskRead),
    serialize=export.each(tasks.to_json),
    search_column=tasks.SEARCH,
    default_sort="dueAt",
)


@router.get("/tasks", summary="List tasks", **LIST_OPTIONS)
def list_tasks(actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(tasks.list_tasks(session, actor, params))


@router.get("/contacts/{contact_id}/tasks", summary="List a contact's tasks", **LIST_OPTIONS)
def list_contact_tasks(contact_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(tasks.list_tasks(session, actor, params, parent=("contacts", contact_id)))


@router.get("/accounts/{account_id}/tasks", summary="List an account's tasks", **LIST_OPTIONS)
def list_account_tasks(account_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(tasks.list_tasks(session, actor, params, parent=("accounts", account_id)))


@router.get("/deals/{deal_id}/tasks", summary="List a deal's tasks", **LIST_OPTIONS)
def list_deal_tasks(deal_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(tasks.list_tasks(session, actor, params, parent=("deals", deal_id)))


@router.post(
    "/tasks",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[TaskRead],
    dependencies=[requires("tasks", "create")],
    responses=ERRORS,
)
def create_task(body: TaskCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Create a task, assigned to the caller unless `assigneeId` names another active user."""
    task = tasks.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    return ok(tasks.to_json(task))


# Fixed paths come before /tasks/{task_id}, which would otherwise claim "export" and "bulk".


@router.get("/tasks/export", **export_options("tasks"))
def export_tasks(actor: CurrentActor, query: ExportQuery) -> Response:
    """Every task the list would show for the same filters (`overdue=true` too), `sort`, `search` and `fields=`,
    as a CSV or XLSX download (`format=csv|xlsx`), one column per field (`id, title, dueAt, ...`)."""
    return export_response(actor, EXPORT, query)


@router.post(
    "/tasks/bulk",
    response_model=Envelope[BulkCreated],
    dependencies=[requires("tasks", "create")],
    responses=ERRORS,
)
def bulk_create_tasks(body: TaskBulkCreate, actor: CurrentActor, session: SessionDep) -> dict:
    """Create up to 100 tasks; each is validated and created on its own (a bad one never stops the others) and
    has its own result: `{index, success, id}` or `{index, success: false, error{code, message, details}}`."""
    return ok(tasks.bulk_create(session, actor, body.tasks).summary("created"))


@router.patch(
    "/tasks/bulk",
    response_model=Envelope[BulkUpdated],
    dependencies=[requires("tasks", "update")],
    responses=ERRORS,
)
def bulk_update_tasks(body: TaskBulkUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Apply the same changes to up to 100 tasks (e.g. `{"status": "done"}` completes them), each with its own
    result (a task you cannot see is 404)."""
    return ok(tasks.bulk_update(session, actor, body.ids, body.updates).summary("updated"))


@router.delete(
    "/tasks/bulk",
    response_model=Envelope[BulkDeleted],
    dependencies=[requires("tasks", "delete")],
    responses=ERRORS,
)
def bulk_delete_tasks(body: TaskBulkDelete, actor: CurrentActor, session: SessionDep) -> dict:
    """Soft-delete up to 100 tasks, each with its own result (a task you cannot see is 404)."""
    return ok(tasks.bulk_delete(session, actor, body.ids).summary("deleted"))


@router.get(
    "/tasks/{task_id}", response_model=Envelope[TaskRead], dependencies=[requires("tasks", "read")], responses=ERRORS
)
def get_task(task_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(tasks.to_json(tasks.get(session, actor, task_id)))


@router.put(
    "/tasks/{task_id}",
    response_model=Envelope[TaskRead],
    dependencies=[requires("tasks", "update")],
    responses=ERRORS,
)
def replace_task(task_id: UUID, body: TaskReplace, actor: CurrentActor, session: SessionDep) -> dict:
    """Replace the whole task: fields left out are cleared or reset (priority `normal`, status `open`, which
    reopens a done task); the assignee stays unless sent. Send `version` to guard against lost updates."""
    return ok(tasks.to_json(tasks.replace(session, actor, task_id, body)))


@router.patch(
    "/tasks/{task_id}",
    response_model=Envelope[TaskRead],
    dependencies=[requires("tasks", "update")],
    responses=ERRORS,
)
def update_task(task_id: UUID, body: TaskUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change a task: `status: done` completes it, `open`/`inProgress` reopens it, a new `dueAt` reschedules it.
    Send `version` to guard against lost updates (409 when stale)."""
    return ok(tasks.to_json(tasks.update(session, actor, task_id, body)))


@router.delete("/tasks/{task_id}", status_code=204, dependencies=[requires("tasks", "delete")], responses=ERRORS)
def delete_task(task_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    tasks.delete(session, actor, task_id)
    return Response(status_code=204)
