"""Churn risk of customer accounts: `GET /api/v1/insights/churn` (accounts by risk, or one account's with
`accountId`) and `POST /api/v1/insights/churn/refresh` (retrain and rescore now, as a job).

Reading takes `insights:read` and the accounts' record scope (a rep sees the accounts they own); a refresh takes
`insights:manage`. The work is in core/churn (what is kept) and ai/insights/churn.py (how risks are computed); this
module only translates.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentActor, SessionDep, requires
from api.envelope import Envelope, error_responses, ok
from core.churn import service as churn
from core.churn.schemas import ChurnRiskRead
from core.jobs.schemas import JobRead

router = APIRouter(prefix="/insights/churn", tags=["insights"])

ERRORS = error_responses(400, 401, 403, 404)


def _dump(risk: ChurnRiskRead) -> dict:
    return risk.model_dump(mode="json", by_alias=True)


@router.get(
    "", response_model=Envelope[list[ChurnRiskRead]], dependencies=[requires("insights", "read")], responses=ERRORS
)
def list_churn_risks(
    actor: CurrentActor,
    session: SessionDep,
    account_id: Annotated[UUID | None, Query(alias="accountId", description="One account's risk only.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    min_score: Annotated[int, Query(alias="minScore", ge=0, le=100)] = 0,
) -> dict:
    """Customer accounts (at least one won deal) you may see, highest churn risk first: the probability of stopping
    buying (no won deal and no activity for `measured.outcomeDays` days), a 0-100 score and level, the reasons with
    the risk points each adds, the method that gave it (`model`: trained on this workspace's own churned accounts;
    `rules`: the transparent rules score, used until a model beats it) and how well that method ranked the latest
    outcomes (`measured.rocAuc` beside `measured.rulesRocAuc`). With `accountId`, that account only: an empty list
    when it is not a customer or not scored yet, 404 when you may not see it."""
    if account_id is not None:
        risk = churn.account_risk(session, actor, account_id)
        return ok([] if risk is None else [_dump(risk)])
    return ok([_dump(r) for r in churn.list_risks(session, actor, limit=limit, min_score=min_score)])


@router.post(
    "/refresh",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[JobRead],
    dependencies=[requires("insights", "manage")],
    responses=ERRORS,
)
def refresh_churn_risks(actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Retrain on the workspace's outcomes and give every customer account its risk now (the worker also does it
    nightly, and after changes for the accounts touched); follow the job at /jobs/{id}. Asking again while one waits
    to run returns that one."""
    job = churn.queue_refresh(session, actor)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return ok(JobRead.model_validate(job).model_dump(mode="json", by_alias=True))
