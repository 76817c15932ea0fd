"""Anomalies found in deals and activity: `GET /api/v1/insights/anomalies` (filtered by record and time),
`POST /api/v1/insights/anomalies/{id}/dismiss`, `POST /api/v1/insights/anomalies/refresh` (a full pass now, as a
job) and the tenant's thresholds at `/api/v1/insights/settings`.

Reading and dismissing take `insights:read` and the record's scope; a refresh and settings changes take
`insights:manage`. The work is in core/insights (what is kept) and ai/insights/anomalies.py (how anomalies are
found); this module only translates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.insights import service as insights
from core.insights.schemas import AnomalyRead, Code, InsightSettingsRead, InsightSettingsUpdate
from core.jobs.schemas import JobRead

router = APIRouter(prefix="/insights", tags=["insights"])

ERRORS = error_responses(400, 401, 403, 404, 409)
ENTITY_TYPES = {"deal": "deals", "deals": "deals", "account": "accounts", "accounts": "accounts"}
ENTITY_TYPES |= {"user": "users", "users": "users"}


def _dump(anomaly: AnomalyRead) -> dict:
    return anomaly.model_dump(mode="json", by_alias=True)


@router.get(
    "/anomalies",
    response_model=Envelope[list[AnomalyRead]],
    dependencies=[requires("insights", "read")],
    responses=ERRORS,
)
def list_anomalies(
    actor: CurrentActor,
    session: SessionDep,
    entity_type: Annotated[
        Literal["deal", "deals", "account", "accounts", "user", "users"] | None,
        Query(alias="entityType", description="deals, accounts or users (reps)."),
    ] = None,
    entity_id: Annotated[UUID | None, Query(alias="entityId", description="One record's anomalies.")] = None,
    since: Annotated[datetime | None, Query(description="Found (first) at or after this time.")] = None,
    status_: Annotated[
        Literal["open", "dismissed", "resolved", "all"], Query(alias="status", description="Default: open.")
    ] = "open",
    code: Annotated[Code | None, Query(description="One kind of anomaly.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    """Anomalies on records you may see, most severe and newest first: the kind (`code`), the record, a one-line
    `reason` with the figures, the `details` behind it, the detector (`model`, `modelVersion`), when it was first
    found and as of when the latest pass found it."""
    rows = insights.list_anomalies(
        session,
        actor,
        entity_type=ENTITY_TYPES[entity_type] if entity_type else None,
        entity_id=entity_id,
        since=since,
        status=None if status_ == "all" else status_,
        code=code,
        limit=limit,
        offset=offset,
    )
    return ok([_dump(r) for r in rows])


@router.post(
    "/anomalies/refresh",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[JobRead],
    dependencies=[requires("insights", "manage")],
    responses=ERRORS,
)
def refresh_anomalies(actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Run every detector now (the worker also does it nightly and after changes); follow the job at /jobs/{id}.
    Asking again while one waits to run returns that one."""
    job = insights.queue_refresh(session, actor)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return ok(JobRead.model_validate(job).model_dump(mode="json", by_alias=True))


@router.post(
    "/anomalies/{anomaly_id}/dismiss",
    response_model=Envelope[AnomalyRead],
    dependencies=[requires("insights", "read")],
    responses=ERRORS,
)
def dismiss_anomaly(anomaly_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Mark an anomaly as a false alarm: it stays dismissed (with who and when) while the detectors keep finding
    it. 404 when it does not exist or its record is not yours to see."""
    return ok(_dump(insights.dismiss(session, actor, anomaly_id)))


@router.get(
    "/settings",
    response_model=Envelope[InsightSettingsRead],
    dependencies=[requires("insights", "read")],
    responses=ERRORS,
)
def read_settings(actor: CurrentActor, session: SessionDep) -> dict:
    """The anomaly thresholds (defaults documented in docs and core/insights/models.py). `version` is 0 until they
    are first changed."""
    settings = insights.get_settings(session, actor)
    return ok(InsightSettingsRead.model_validate(settings).model_dump(mode="json", by_alias=True))


@router.patch(
    "/settings",
    response_model=Envelope[InsightSettingsRead],
    dependencies=[requires("insights", "manage")],
    responses=ERRORS,
)
def change_settings(body: InsightSettingsUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change thresholds (send `version` to get a 409 when someone changed them first); they apply from the next
    pass (POST /insights/anomalies/refresh to run one now)."""
    settings = insights.update_settings(session, actor, body)
    session.refresh(settings)
    return ok(InsightSettingsRead.model_validate(settings).model_dump(mode="json", by_alias=True))
