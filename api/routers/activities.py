"""Activities: `/api/v1/activities` and each record's `/contacts|accounts|deals/{id}/activities`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from api.lists import ListParams, list_doc, list_response, partial_of
from core.activities import service as activities
from core.activities.schemas import ActivityCreate, ActivityRead, ActivityUpdate

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


@router.get(
    "/activities/{activity_id}",
    response_model=Envelope[ActivityRead],
    dependencies=[requires("activities", "read")],
    responses=ERRORS,
)
def get_activity(activity_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_activity(activities.get(session, actor, activity_id)))


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
