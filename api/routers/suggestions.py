"""Field suggestions: `GET /suggestions?entityType=&entityId=` (a contact's or an account's suggestions),
`POST /suggestions/{id}/accept` and `POST /suggestions/{id}/reject`.

Reading takes `insights:read` and the record's scope (404 for a record you cannot see). Accepting writes the
suggested value through the record's service (its `update` permission, audit, version and event; `merge` for a
duplicate): 409 `SUGGESTION_STALE` when the field changed since the suggestion was made, `VERSION_CONFLICT` when
the `version` sent is not the record's, `SUGGESTION_DECIDED` when it was accepted or rejected already. The work
is in core/suggestions (what is kept) and ai/insights/enrichment (how suggestions are made).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Query

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.suggestions import service as suggestions
from core.suggestions.schemas import AcceptRequest, Decision, SuggestionRead

router = APIRouter(prefix="/suggestions", tags=["suggestions"])

ERRORS = error_responses(400, 401, 403, 404)
DECIDE_ERRORS = error_responses(400, 401, 403, 404, 409)


@router.get(
    "",
    response_model=Envelope[list[SuggestionRead]],
    dependencies=[requires("insights", "read")],
    responses=ERRORS,
)
def list_suggestions(
    actor: CurrentActor,
    session: SessionDep,
    entity_type: Annotated[Literal["contacts", "accounts"], Query(alias="entityType")],
    entity_id: Annotated[UUID, Query(alias="entityId")],
    include_decided: Annotated[
        bool, Query(alias="includeDecided", description="Also the accepted and rejected ones.")
    ] = False,
) -> dict:
    """The record's suggestions, surest first: field, current and suggested value, confidence, a one-line
    reason, source (rule or model) and whether it is stale (its field changed since)."""
    items = suggestions.list_for_record(session, actor, entity_type, entity_id, include_decided=include_decided)
    return ok([s.model_dump(mode="json", by_alias=True) for s in items])


@router.post(
    "/{suggestion_id}/accept",
    response_model=Envelope[Decision],
    dependencies=[requires("insights", "read")],
    responses=DECIDE_ERRORS,
)
def accept_suggestion(
    suggestion_id: UUID,
    actor: CurrentActor,
    session: SessionDep,
    body: Annotated[AcceptRequest | None, Body()] = None,
) -> dict:
    """Apply the suggestion to its record (through the record's own update: audited, versioned, announced)."""
    accepted, record = suggestions.accept(
        session, actor, suggestion_id, version=body.version if body is not None else None
    )
    return ok(Decision(suggestion=accepted, record=record).model_dump(mode="json", by_alias=True))


@router.post(
    "/{suggestion_id}/reject",
    response_model=Envelope[Decision],
    dependencies=[requires("insights", "read")],
    responses=DECIDE_ERRORS,
)
def reject_suggestion(suggestion_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Record that the suggestion is wrong: it is not shown, nor made, again."""
    rejected = suggestions.reject(session, actor, suggestion_id)
    return ok(Decision(suggestion=rejected).model_dump(mode="json", by_alias=True))
