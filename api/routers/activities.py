"""Activities: `/api/v1/activities` and each record's `/contacts|accounts|deals/{id}/activities`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status
from sqlalchemy import Select

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from api.exports import ExportQuery, export_options, export_response
from api.lists import ListParams, list_doc, list_response, partial_of
from core.activities import service as activities
from core.activities.models import Activity
from core.activities.schemas import (
    ActivityBulkCreate,
    ActivityBulkDelete,
    ActivityBulkUpdate,
    ActivityCreate,
    ActivityRead,
    ActivityReplace,
    ActivityUpdate,
)
from core.actor import Actor
from core.contacts.schemas import BulkCreated, BulkDeleted, BulkUpdated
from core.records import export

router = APIRouter(tags=["activities"])

ERRORS = error_responses(400, 401, 403, 404, 409)
LIST_OPTIONS: dict[str, Any] = {
    "response_model": None,
    "dependencies": [requires("activities", "read")],
    "responses": {**ERRORS, **list_doc(partial_of(ActivityRead, "ActivityListItem"), "A page of activities")},
    "description": (
        "Newest first by default. Filter by `type`, `direction`, `outcome`, `contactId`, `accountId`, `dealId`, "
        "`ownerId` (lists: `a,b`), `occurredAt[gte]=...&occurredAt[lt]=...`, `durationSeconds[gte]`, `createdAt`; "
        "sort (`sort=-occurredAt,type`), select `fields=`, `search=` (subject and body); offset pages (`page`, "
        "`limit`) or cursor pages (`cursor=`, stable under inserts). Unknown fields are a 400 naming them."
    ),
}


def _readable(actor: Actor) -> Select[Any]:
    return actor.readable(Activity)


EXPORT = export.RecordExport(
    entity_type="activities",
    event="activity.exported",
    model=Activity,
    statement=_readable,
    specs=export.fixed_specs(activities.SPECS),
    columns=export.columns_of(ActivityRead),
    serialize=export.each(activities.to_json),
    search_column=activities.SEARCH,
    default_sort="-occurredAt",
)


def _activity(activity: Any) -> dict[str, Any]:
    return activities.to_json(activity)


@router.get("/activities", summary="List activities", **LIST_OPTIONS)
def list_activities(actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(activities.list_activities(session, actor, params))


@router.get("/contacts/{contact_id}/activities", summary="List a contact's activities", **LIST_OPTIONS)
def list_contact_activities(contact_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(activities.list_activities(session, actor, params, parent=("contacts", contact_id)))


@router.get("/accounts/{account_id}/activities", summary="List an account's activities", **LIST_OPTIONS)
def list_account_activities(account_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(activities.list_activities(session, actor, params, parent=("accounts", account_id)))


@router.get("/deals/{deal_id}/activities", summary="List a deal's activities", **LIST_OPTIONS)
def list_deal_activities(deal_id: UUID, actor: CurrentActor, session: SessionDep, params: ListParams) -> dict:
    return list_response(activities.list_activities(session, actor, params, parent=("deals", deal_id)))


@router.post(
    "/activities",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ActivityRead],
    dependencies=[requires("activities", "create")],
    responses=ERRORS,
)
def create_activity(body: ActivityCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Log a call, meeting, email, note or other activity against a contact, an account and/or a deal.
    Calls, meetings and emails move the contact's `lastContactedAt`."""
    activity = activities.create(session, actor, body)
    response.headers["Location"] = f"/api/v1/activities/{activity.id}"
    return ok(_activity(activity))


# Fixed paths come before /activities/{activity_id}, which would otherwise claim "export" and "bulk".


@router.get("/activities/export", **export_options("activities"))
def export_activities(actor: CurrentActor, query: ExportQuery) -> Response:
    """Every activity the list would show for the same filters, `sort`, `search` and `fields=`, as a CSV or
    XLSX download (`format=csv|xlsx`), one column per field (`id, type, subject, ...`)."""
    return export_response(actor, EXPORT, query)


@router.post(
    "/activities/bulk",
    response_model=Envelope[BulkCreated],
    dependencies=[requires("activities", "create")],
    responses=ERRORS,
)
def bulk_create_activities(body: ActivityBulkCreate, actor: CurrentActor, session: SessionDep) -> dict:
    """Log up to 100 activities; each is validated and logged on its own (a bad one never stops the others)
    and has its own result: `{index, success, id}` or `{index, success: false, error{code, message, details}}`."""
    return ok(activities.bulk_create(session, actor, body.activities).summary("created"))


@router.patch(
    "/activities/bulk",
    response_model=Envelope[BulkUpdated],
    dependencies=[requires("activities", "update")],
    responses=ERRORS,
)
def bulk_update_activities(body: ActivityBulkUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Apply the same changes to up to 100 activities, each with its own result (one you cannot see is 404)."""
    return ok(activities.bulk_update(session, actor, body.ids, body.updates).summary("updated"))


@router.delete(
    "/activities/bulk",
    response_model=Envelope[BulkDeleted],
    dependencies=[requires("activities", "delete")],
    responses=ERRORS,
)
def bulk_delete_activities(body: ActivityBulkDelete, actor: CurrentActor, session: SessionDep) -> dict:
    """Soft-delete up to 100 activities, each with its own result (one you cannot see is 404)."""
    return ok(activities.bulk_delete(session, actor, body.ids).summary("deleted"))


@router.get(
    "/activities/{activity_id}",
    response_model=Envelope[ActivityRead],
    dependencies=[requires("activities", "read")],
    responses=ERRORS,
)
def get_activity(activity_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_activity(activities.get(session, actor, activity_id)))


@router.put(
    "/activities/{activity_id}",
    response_model=Envelope[ActivityRead],
    dependencies=[requires("activities", "update")],
    responses=ERRORS,
)
def replace_activity(activity_id: UUID, body: ActivityReplace, actor: CurrentActor, session: SessionDep) -> dict:
    """Replace the whole activity: fields left out are cleared; the owner and `occurredAt` stay unless sent.
    Send `version` to guard against lost updates (409 when stale)."""
    return ok(_activity(activities.replace(session, actor, activity_id, body)))


@router.patch(
    "/activities/{activity_id}",
    response_model=Envelope[ActivityRead],
    dependencies=[requires("activities", "update")],
    responses=ERRORS,
)
def update_activity(activity_id: UUID, body: ActivityUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change an activity; send `version` to guard against lost updates (409 when stale)."""
    return ok(_activity(activities.update(session, actor, activity_id, body)))


@router.delete(
    "/activities/{activity_id}", status_code=204, dependencies=[requires("activities", "delete")], responses=ERRORS
)
def delete_activity(activity_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    activities.delete(session, actor, activity_id)
    return Response(status_code=204)
