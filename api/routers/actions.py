"""Next best actions: `/api/v1/next-actions` (the open actions, of one deal or contact, or your own), one click to
take one (`/next-actions/{id}/apply`: the task it implies is created in the same transaction as the decision) or
to ignore it (`/next-actions/{id}/ignore`), and the taken/ignored rates by action type (`/next-actions/stats`).

Everything takes `insights:read` (every role but read_only) and the record scope of the rep who should act; taking
an action also takes `tasks:create`. The work is in core/actions (what is kept) and ai/insights/actions.py (how
actions are chosen and valued); this module only translates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.actions import service as actions
from core.actions.models import NextActionDecision, NextBestAction
from core.actions.schemas import ActionRead, ActionStats, DecisionRead
from core.schemas import ReadSchema
from core.tasks import service as tasks
from core.tasks.schemas import TaskRead

router = APIRouter(prefix="/next-actions", tags=["insights"])

ERRORS = error_responses(400, 401, 403, 404, 409)
READ = [requires("insights", "read")]


class Applied(ReadSchema):
    decision: DecisionRead
    task: TaskRead


def _action(action: NextBestAction) -> dict:
    return actions.to_read(action).model_dump(mode="json", by_alias=True)


def _decision(decision: NextActionDecision) -> dict:
    return DecisionRead.model_validate(decision).model_dump(mode="json", by_alias=True)


@router.get("", response_model=Envelope[list[ActionRead]], dependencies=READ, responses=ERRORS)
def list_next_actions(
    actor: CurrentActor,
    session: SessionDep,
    entity_type: Annotated[Literal["deals", "contacts"] | None, Query(alias="entityType")] = None,
    entity_id: Annotated[UUID | None, Query(alias="entityId")] = None,
    mine: Annotated[bool, Query(description="Only the actions you should take (records you own).")] = False,
    limit: Annotated[int, Query(ge=1, le=actions.MAX_LIMIT)] = 50,
) -> dict:
    """The open next best actions you may see, highest expected value first (amount x the change in win
    probability the action brings, measured on the workspace's own history): of one deal or contact
    (`entityType` and `entityId`; a record you may not see is a 404), or your own (`mine=true`). Each has its
    one-line reason with the figures, and `change`, the record one click on apply creates."""
    found = actions.list_actions(session, actor, entity_type=entity_type, entity_id=entity_id, mine=mine, limit=limit)
    return ok([_action(a) for a in found])


@router.get("/stats", response_model=Envelope[ActionStats], dependencies=READ, responses=ERRORS)
def next_action_stats(
    actor: CurrentActor,
    session: SessionDep,
    since: Annotated[datetime | None, Query(description="Decisions from (default: 90 days ago).")] = None,
) -> dict:
    """Per action type: taken, ignored and open counts and the taken and ignored rates (of those decided), within
    your record scope."""
    return ok(actions.stats(session, actor, since).model_dump(mode="json", by_alias=True))


@router.post(
    "/{action_id}/apply",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[Applied],
    dependencies=[*READ, requires("tasks", "create")],
    responses=ERRORS,
)
def apply_next_action(action_id: UUID, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Take the action: the task it implies is created (assigned to the record's owner, linked to the deal,
    contact and account; for an email to draft, the task holds the drafted subject and body) and the decision is
    recorded (taken, by you, now; audited), both or neither. An action already taken or ignored is a 409; one whose
    condition no longer holds is gone (404)."""
    decision, task = actions.apply(session, actor, action_id)
    response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    data = {
        "decision": _decision(decision),
        "task": tasks.to_json(task),
    }
    return ok(data)


@router.post("/{action_id}/ignore", response_model=Envelope[DecisionRead], dependencies=READ, responses=ERRORS)
def ignore_next_action(action_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Ignore the action: recorded (by you, now; audited); it does not come back for the same condition."""
    return ok(_decision(actions.ignore(session, actor, action_id)))
