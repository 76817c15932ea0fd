from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from core.jobs import service as jobs
from core.jobs.schemas import JobRead

router = APIRouter(prefix="/jobs", tags=["jobs"])
ERRORS = error_responses(401, 403, 404, 409)


class JobView(JobRead):
    status_url: str


def _read(job) -> dict:  # noqa: ANN001
    return {
        **JobRead.model_validate(job).model_dump(mode="json", by_alias=True),
        "statusUrl": f"/api/v1/jobs/{job.id}",
    }


@router.get("", response_model=PagedEnvelope[JobView], dependencies=[requires("jobs", "read")], responses=ERRORS)
def list_jobs(actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    rows, total = jobs.list_jobs(session, actor, limit=paging.limit, offset=paging.offset)
    return paged([_read(j) for j in rows], page=paging.page, limit=paging.limit, total=total)


@router.get("/{job_id}", response_model=Envelope[JobView], dependencies=[requires("jobs", "read")], responses=ERRORS)
def get_job(job_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """Status (queued, running, retrying, succeeded, failed, cancelled), progress 0-100, result or error."""
    return ok(_read(jobs.get(session, actor, job_id)))


@router.post(
    "/{job_id}/cancel",
    response_model=Envelope[JobView],
    dependencies=[requires("jobs", "read")],
    responses=ERRORS,
)
def cancel_job(job_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_read(jobs.cancel(session, actor, job_id)))
