"""Revenue forecasts: `/api/v1/forecasts` (stored forecasts with their quota attainment, breakdown and back-test;
queue a recomputation; set a deal's forecast category) and `/api/v1/quotas` (reps' and teams' quotas)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from core.forecasts import service as forecasts
from core.forecasts.models import Quota, SalesForecast
from core.forecasts.schemas import (
    BreakdownRead,
    DealCategoryUpdate,
    ForecastDetail,
    ForecastItem,
    ForecastRead,
    ForecastRunRequest,
    Level,
    PeriodKind,
    QuotaAttainment,
    QuotaCreate,
    QuotaRead,
    QuotaUpdate,
)
from core.jobs.schemas import JobRead
from core.schemas import ReadSchema

router = APIRouter(prefix="/forecasts", tags=["forecasts"])
quotas_router = APIRouter(prefix="/quotas", tags=["forecasts"])

ERRORS = error_responses(400, 401, 403, 404, 409)


class DealCategoryRead(ReadSchema):
    deal_id: UUID
    category: str | None
    version: int


def _forecast(session: SessionDep, actor: CurrentActor, forecast: SalesForecast) -> dict:
    data = ForecastRead.model_validate(forecast).model_dump(mode="json", by_alias=True)
    attainment = QuotaAttainment.model_validate(forecasts.attainment(session, actor, forecast))
    data["attainment"] = attainment.model_dump(mode="json", by_alias=True)
    return data


def _quota(quota: Quota) -> dict:
    return QuotaRead.model_validate(quota).model_dump(mode="json", by_alias=True)


@router.get(
    "", response_model=PagedEnvelope[ForecastItem], dependencies=[requires("forecasts", "read")], responses=ERRORS
)
def list_forecasts(
    actor: CurrentActor,
    session: SessionDep,
    paging: Paging,
    level: Annotated[Level | None, Query(description="company, team or rep")] = None,
    period: Annotated[PeriodKind | None, Query(description="month, quarter or year")] = None,
    team_id: Annotated[UUID | None, Query(alias="teamId", description="A team's forecast and its reps'.")] = None,
    user_id: Annotated[UUID | None, Query(alias="userId", description="A rep's forecasts.")] = None,
    period_start: Annotated[
        date | None, Query(alias="periodStart", description="One period, by its first day.")
    ] = None,
    kind: Annotated[Literal["live", "backtest"], Query(description="live, or the back-test's past periods")] = "live",
    pick: Annotated[
        Literal["latest", "first", "all"],
        Query(description="Per period: its latest forecast, its first (made as it began), or all (one per day)."),
    ] = "latest",
) -> dict:
    """Stored revenue forecasts you may see (reps: their own; managers: their team's and its reps'), newest
    period first, each with its quota attainment. The forecast is booked + pipeline + run-rate revenue, with 80%
    and 95% intervals and the commit / best case / pipeline totals; `backtest` says how far it was off in past
    periods."""
    rows, total = forecasts.list_forecasts(
        session,
        actor,
        level=level,
        period=period,
        team_id=team_id,
        user_id=user_id,
        kind=kind,
        period_start=period_start,
        pick=pick,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paged([_forecast(session, actor, f) for f in rows], page=paging.page, limit=paging.limit, total=total)


@router.post(
    "/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[JobRead],
    dependencies=[requires("forecasts", "manage")],
    responses=ERRORS,
)
def run_forecasts(
    actor: CurrentActor, session: SessionDep, response: Response, body: ForecastRunRequest | None = None
) -> dict:
    """Recompute the workspace's forecasts and back-tests now (they are recomputed every night too); follow
    the job at /jobs/{id}. The same request within the minute returns the same job."""
    job = forecasts.queue_run(session, actor, body)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return ok(JobRead.model_validate(job).model_dump(mode="json", by_alias=True))


@router.put(
    "/deals/{deal_id}/category",
    response_model=Envelope[DealCategoryRead],
    dependencies=[requires("deals", "update")],
    responses=ERRORS,
)
def set_deal_category(deal_id: UUID, body: DealCategoryUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Set an open deal's forecast category (commit, best_case, pipeline, omitted), or null to have it derived
    from the learned probability again. It counts from the next forecast run."""
    deal = forecasts.set_deal_category(session, actor, deal_id, body)
    return ok(
        DealCategoryRead(deal_id=deal.id, category=deal.forecast_category, version=deal.version).model_dump(
            mode="json", by_alias=True
        )
    )


@router.get(
    "/{forecast_id}",
    response_model=Envelope[ForecastDetail],
    dependencies=[requires("forecasts", "read")],
    responses=ERRORS,
)
def get_forecast(forecast_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """A forecast with each deal's part in it (won deals in full, open deals by their learned probability and
    category) and its back-test history."""
    forecast = forecasts.get_forecast(session, actor, forecast_id)
    data = _forecast(session, actor, forecast)
    data["breakdown"] = [
        BreakdownRead.model_validate(item).model_dump(mode="json", by_alias=True)
        for item in forecasts.breakdown(session, actor, forecast)
    ]
    data["backtestHistory"] = [
        ForecastRead.model_validate(f).model_dump(mode="json", by_alias=True)
        for f in forecasts.backtest_history(session, actor, forecast)
    ]
    return ok(data)


# Quotas ------------------------------------------------------------------------------------------------------------


@quotas_router.get(
    "", response_model=PagedEnvelope[QuotaRead], dependencies=[requires("forecasts", "read")], responses=ERRORS
)
def list_quotas(
    actor: CurrentActor,
    session: SessionDep,
    paging: Paging,
    user_id: Annotated[UUID | None, Query(alias="userId")] = None,
    team_id: Annotated[UUID | None, Query(alias="teamId")] = None,
    period: Annotated[PeriodKind | None, Query()] = None,
    start_from: Annotated[date | None, Query(alias="from", description="Periods starting on or after.")] = None,
    start_to: Annotated[date | None, Query(alias="to", description="Periods starting on or before.")] = None,
) -> dict:
    """Quotas you may see (reps: their own; managers: their team's and its reps'), newest period first."""
    rows, total = forecasts.list_quotas(
        session,
        actor,
        user_id=user_id,
        team_id=team_id,
        period=period,
        start_from=start_from,
        start_to=start_to,
        limit=paging.limit,
        offset=paging.offset,
    )
    return paged([_quota(q) for q in rows], page=paging.page, limit=paging.limit, total=total)


@quotas_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[QuotaRead],
    dependencies=[requires("forecasts", "manage")],
    responses=ERRORS,
)
def create_quota(body: QuotaCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """A rep's (`userId`) or a team's (`teamId`) quota for the month, fiscal quarter or fiscal year starting on
    `periodStart`, in the workspace currency. One per rep or team and period (409 for a second)."""
    quota = forecasts.create_quota(session, actor, body)
    response.headers["Location"] = f"/api/v1/quotas/{quota.id}"
    return ok(_quota(quota))


@quotas_router.get(
    "/{quota_id}", response_model=Envelope[QuotaRead], dependencies=[requires("forecasts", "read")], responses=ERRORS
)
def get_quota(quota_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_quota(forecasts.get_quota(session, actor, quota_id)))


@quotas_router.patch(
    "/{quota_id}",
    response_model=Envelope[QuotaRead],
    dependencies=[requires("forecasts", "manage")],
    responses=ERRORS,
)
def update_quota(quota_id: UUID, body: QuotaUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change the amount (send `version` to be told, with a 409, when someone changed it first)."""
    return ok(_quota(forecasts.update_quota(session, actor, quota_id, body)))


@quotas_router.delete("/{quota_id}", status_code=204, dependencies=[requires("forecasts", "manage")], responses=ERRORS)
def delete_quota(quota_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    forecasts.delete_quota(session, actor, quota_id)
    return Response(status_code=204)
