"""Sentiment of customer text: `/api/v1/sentiment/...` (the label of notes and activities, one-click corrections,
the workspace's model status, a full re-read) and `/api/v1/accounts/{id}/sentiment` (an account's trend by month).

Reading takes `insights:read` and the record's own read rules (a note of a record you may not see is a 404);
correcting takes `notes:update` or `activities:update` on the record; a full re-read takes `insights:manage`.
The work is in core/sentiment (what is kept) and ai/nlp (how text is read); this module only translates.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from ai.nlp import sentiment_crm
from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.errors import ValidationFailed
from core.jobs.schemas import JobRead
from core.sentiment import service
from core.sentiment.schemas import (
    AccountTrend,
    CorrectionCreate,
    CorrectionRead,
    EntityType,
    ModelStatus,
    SentimentRead,
)

router = APIRouter(prefix="/sentiment", tags=["sentiment"])
accounts_router = APIRouter(prefix="/accounts", tags=["sentiment"])

ERRORS = error_responses(400, 401, 403, 404)
MAX_IDS = 200


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json", by_alias=True)


def _ids(raw: list[str]) -> list[UUID]:
    values = [part.strip() for item in raw for part in item.split(",") if part.strip()]
    if not values:
        raise ValidationFailed("ids is required", details=[{"field": "ids", "message": "give at least one id"}])
    if len(values) > MAX_IDS:
        raise ValidationFailed(
            f"ids: at most {MAX_IDS} at a time", details=[{"field": "ids", "message": f"at most {MAX_IDS}"}]
        )
    try:
        return [UUID(v) for v in values]
    except ValueError:
        raise ValidationFailed(
            "ids must be UUIDs", details=[{"field": "ids", "message": "not a UUID", "value": v} for v in values[:1]]
        ) from None


@router.get(
    "", response_model=Envelope[list[SentimentRead]], dependencies=[requires("insights", "read")], responses=ERRORS
)
def list_sentiment(
    actor: CurrentActor,
    session: SessionDep,
    entity_type: Annotated[EntityType, Query(alias="entityType", description="notes or activities")],
    ids: Annotated[list[str], Query(description="Record ids, comma-separated or repeated (at most 200).")],
) -> dict:
    """The sentiment of each listed note or activity you may read, in the order asked (ids you may not read are
    left out). Each has `label` (your team's correction when there is one, else the model's), `score`
    (P(positive) - P(negative), -1..1), `confidence`, the `sentence` that carried it, the `model` that decided and
    `reason` (one line); `pending` while the worker has not read the text yet (seconds after a change)."""
    return ok([_dump(s) for s in service.list_for(session, actor, entity_type, _ids(ids))])


@router.get(
    "/model", response_model=Envelope[ModelStatus], dependencies=[requires("insights", "read")], responses=ERRORS
)
def model_status(actor: CurrentActor, session: SessionDep) -> dict:
    """What labels the workspace's text now (`active`: the out-of-the-box model or the workspace's classifier
    trained on its corrections), the corrections per label, the classifier's accuracy and macro-F1 on corrections
    it did not see (cross-validated) beside the out-of-the-box model's on the same corrections, and the
    out-of-the-box model's figures on a public benchmark (`benchmark`)."""
    return ok(_dump(sentiment_crm.status(session, actor)))


@router.post(
    "/rescore",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[JobRead],
    dependencies=[requires("insights", "manage")],
    responses=ERRORS,
)
def rescore(actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Read every note and activity of the workspace again (follow the job at /jobs/{id}). Changes are read by
    themselves within seconds; this is for after a model change."""
    job = service.queue_rescore(session, actor)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return ok(JobRead.model_validate(job).model_dump(mode="json", by_alias=True))


@router.get(
    "/{entity_type}/{entity_id}",
    response_model=Envelope[SentimentRead],
    dependencies=[requires("insights", "read")],
    responses=ERRORS,
)
def get_sentiment(entity_type: EntityType, entity_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """One note's or activity's sentiment (see the list). A record you may not read is a 404."""
    return ok(_dump(service.get_for(session, actor, entity_type, entity_id)))


@router.post(
    "/{entity_type}/{entity_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[CorrectionRead],
    responses=ERRORS,
)
def correct(
    entity_type: EntityType,
    entity_id: UUID,
    body: CorrectionCreate,
    actor: CurrentActor,
    session: SessionDep,
) -> dict:
    """Label a note's or activity's text yourself (`label`: negative, neutral or positive; needs `notes:update` or
    `activities:update` on the record). The record shows your label at once; the text becomes one of the
    workspace's examples, and its classifier is retrained by a job (`trainJobId`) within seconds."""
    done = service.correct(session, actor, entity_type, entity_id, body.label)
    return ok(
        _dump(
            CorrectionRead(
                sentiment=done.sentiment,
                example_id=done.example_id,
                train_job_id=done.train_job.id if done.train_job is not None else None,
            )
        )
    )


@accounts_router.get(
    "/{account_id}/sentiment",
    response_model=Envelope[AccountTrend],
    dependencies=[requires("insights", "read")],
    responses=ERRORS,
)
def account_trend(
    account_id: UUID,
    actor: CurrentActor,
    session: SessionDep,
    months: Annotated[int, Query(ge=1, le=36, description="How many months, ending with this one.")] = 12,
) -> dict:
    """Sentiment per month of the account's notes and activities and those of its contacts and deals (as far as
    you may read them): counts per label and the mean score, with a one-line summary."""
    return ok(_dump(service.account_trend(session, actor, account_id, months=months)))
