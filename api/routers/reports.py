"""Reports: `/api/v1/reports` (the standard reports and the tenant's saved ones: list, save, run, export, schedule by
email) and `/api/v1/warehouse/runs` (the reporting warehouse's load log; queue a load)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import ValidationError

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from core.analytics import service as analytics
from core.analytics.models import Report, ReportSchedule
from core.analytics.schemas import (
    AdHocRun,
    EtlRunRead,
    Period,
    ReportCreate,
    ReportOverrides,
    ReportRead,
    ReportResultRead,
    ReportSummary,
    ReportUpdate,
    RunRequest,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
    WarehouseLoadRequest,
)
from core.errors import ValidationFailed
from core.jobs.schemas import JobRead
from core.schemas import PlainText
from etl.reports import service as reports

router = APIRouter(prefix="/reports", tags=["reports"])
warehouse_router = APIRouter(prefix="/warehouse", tags=["warehouse"])

ERRORS = error_responses(400, 401, 403, 404, 409)
RUN_ERRORS = {
    **ERRORS,
    409: {
        "model": error_responses(409)[409]["model"],
        "description": "The tenant's warehouse is not built yet (`WAREHOUSE_NOT_BUILT`): wait for its first load",
    },
}
FILE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as a file (`Content-Disposition: attachment`)",
        "content": {
            reports.MEDIA_TYPES["csv"].split(";")[0]: {"schema": {"type": "string"}},
            reports.MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
            reports.MEDIA_TYPES["pdf"]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
FILE_ROUTE: dict[str, Any] = {
    "status_code": 200,
    "response_model": None,
    "response_class": Response,
    "dependencies": [requires("reports", "read"), requires("reports", "export")],
    "responses": {**RUN_ERRORS, **FILE_DOC},
}
FileFormat = Annotated[
    Literal["csv", "xlsx", "pdf"],
    Query(alias="format", description="`csv` (UTF-8 with BOM), `xlsx` (with a chart) or `pdf` (chart and table)."),
]


def run_overrides(
    period: Annotated[Period | None, Query(description="A named period, e.g. `this_quarter`.")] = None,
    date_from: Annotated[date | None, Query(alias="dateFrom", description="First day included.")] = None,
    date_to: Annotated[date | None, Query(alias="dateTo", description="Last day included.")] = None,
    date_field: Annotated[
        PlainText | None,
        Query(alias="dateField", max_length=63, description="The date field to narrow; default: the usual one."),
    ] = None,
    team_id: Annotated[UUID | None, Query(alias="teamId", description="Only records of this team.")] = None,
    owner_ids: Annotated[
        list[UUID] | None, Query(alias="ownerId", max_length=100, description="Only records of these owners.")
    ] = None,
) -> ReportOverrides | None:
    """Overrides given as query parameters (GET runs and exports)."""
    try:
        overrides = ReportOverrides(
            period=period,
            date_from=date_from,
            date_to=date_to,
            date_field=date_field,
            team_id=team_id,
            owner_ids=owner_ids,
        )
    except ValidationError as exc:
        problems = [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors(include_url=False)]
        raise ValidationFailed(
            f"Invalid overrides: {'; '.join(problems)}",
            details=[{"field": "overrides", "message": p} for p in problems],
        ) from None
    return None if overrides.is_empty() and date_field is None else overrides


Overrides = Annotated[ReportOverrides | None, Depends(run_overrides)]
StandardKey = Annotated[str, Path(max_length=63, description="A standard report's key, from GET /reports.")]


def _report(report: Report) -> dict:
    return ReportRead.model_validate(report).model_dump(mode="json", by_alias=True)


def _result(run: reports.ReportRun) -> dict:
    return ReportResultRead.model_validate(reports.as_json(run)).model_dump(mode="json", by_alias=True)


def _schedule(schedule: ReportSchedule) -> dict:
    return ScheduleRead.model_validate(schedule).model_dump(mode="json", by_alias=True)


def _file(found: reports.ReportFile, response: Response) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{found.filename}"', "Cache-Control": "no-store"}
    file_response = Response(found.content, media_type=found.media_type, headers=headers)
    file_response.headers.raw.extend(response.headers.raw)  # the rate-limit window set by dependencies
    return file_response


@router.get(
    "",
    response_model=PagedEnvelope[ReportSummary],
    dependencies=[requires("reports", "read")],
    responses=ERRORS,
)
def list_reports(
    actor: CurrentActor,
    session: SessionDep,
    paging: Paging,
    kind: Annotated[Literal["all", "standard", "saved"], Query(description="Only standard or saved reports.")] = "all",
    search: Annotated[PlainText | None, Query(max_length=200, description="Names containing this.")] = None,
) -> dict:
    """The standard reports every tenant has (`kind: standard`, run by `key`), then the saved reports you may
    read (`kind: saved`, run by `id`): public ones, and your own private ones."""
    items, total = reports.list_reports(
        session, actor, kind=kind, search=search, limit=paging.limit, offset=paging.offset
    )
    data = [ReportSummary.model_validate(i).model_dump(mode="json", by_alias=True) for i in items]
    return paged(data, page=paging.page, limit=paging.limit, total=total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ReportRead],
    dependencies=[requires("reports", "create")],
    responses=ERRORS,
)
def create_report(body: ReportCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """Save a report spec (validated against the field catalogue: errors name each path and what to fix)."""
    report = analytics.create_report(session, actor, body)
    response.headers["Location"] = f"/api/v1/reports/{report.id}"
    return ok(_report(report))


@router.post(
    "/run",
    response_model=Envelope[ReportResultRead],
    dependencies=[requires("reports", "create")],
    responses=RUN_ERRORS,
)
def run_ad_hoc_report(body: AdHocRun, actor: CurrentActor, session: SessionDep) -> dict:
    """Run a spec without saving it (a preview), on the warehouse, within your record scope."""
    return ok(_result(reports.run_ad_hoc(session, actor, body.spec, body.overrides)))


@router.get(
    "/standard/{key}/run",
    response_model=Envelope[ReportResultRead],
    dependencies=[requires("reports", "read")],
    responses=RUN_ERRORS,
)
def run_standard_report(key: StandardKey, actor: CurrentActor, session: SessionDep, overrides: Overrides) -> dict:
    """Run a standard report, narrowed by `period` or `dateFrom`/`dateTo`, `teamId`, `ownerId`."""
    return ok(_result(reports.run_standard(session, actor, key, overrides)))


@router.get("/standard/{key}/export", **FILE_ROUTE)
def export_standard_report(
    key: StandardKey,
    actor: CurrentActor,
    session: SessionDep,
    response: Response,
    overrides: Overrides,
    file_format: FileFormat = "csv",
) -> Response:
    """A standard report as a CSV, XLSX or PDF file."""
    return _file(reports.export_standard(session, actor, key, file_format, overrides), response)


@router.get(
    "/{report_id}", response_model=Envelope[ReportRead], dependencies=[requires("reports", "read")], responses=ERRORS
)
def get_report(report_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok(_report(analytics.get_report(session, actor, report_id)))


@router.patch(
    "/{report_id}",
    response_model=Envelope[ReportRead],
    dependencies=[requires("reports", "update")],
    responses=ERRORS,
)
def update_report(report_id: UUID, body: ReportUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change name, description, spec or `isPublic` (its creator or an admin); `version` guards against
    overwriting someone else's change."""
    return ok(_report(analytics.update_report(session, actor, report_id, body)))


@router.delete("/{report_id}", status_code=204, dependencies=[requires("reports", "delete")], responses=ERRORS)
def delete_report(report_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    """Delete a report (its creator or an admin): its schedules stop and dashboard widgets showing it go."""
    analytics.delete_report(session, actor, report_id)
    return Response(status_code=204)


@router.post(
    "/{report_id}/run",
    response_model=Envelope[ReportResultRead],
    dependencies=[requires("reports", "read")],
    responses=RUN_ERRORS,
)
def run_report(report_id: UUID, actor: CurrentActor, session: SessionDep, body: RunRequest | None = None) -> dict:
    """Run a saved report on the warehouse, within your record scope, optionally narrowed by `overrides`."""
    return ok(_result(reports.run_saved(session, actor, report_id, body.overrides if body else None)))


@router.get("/{report_id}/export", **FILE_ROUTE)
def export_report(
    report_id: UUID,
    actor: CurrentActor,
    session: SessionDep,
    response: Response,
    overrides: Overrides,
    file_format: FileFormat = "csv",
) -> Response:
    """A saved report as a CSV, XLSX or PDF file."""
    return _file(reports.export_saved(session, actor, report_id, file_format, overrides), response)


# Schedules ---------------------------------------------------------------------------------------------------


@router.get(
    "/{report_id}/schedules",
    response_model=PagedEnvelope[ScheduleRead],
    dependencies=[requires("reports", "schedule")],
    responses=ERRORS,
)
def list_schedules(report_id: UUID, actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The report's email schedules: yours (an admin sees everyone's), next to run first."""
    rows, total = analytics.list_schedules(session, actor, report_id, limit=paging.limit, offset=paging.offset)
    return paged([_schedule(s) for s in rows], page=paging.page, limit=paging.limit, total=total)


@router.post(
    "/{report_id}/schedules",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ScheduleRead],
    dependencies=[requires("reports", "schedule")],
    responses=ERRORS,
)
def create_schedule(
    report_id: UUID, body: ScheduleCreate, actor: CurrentActor, session: SessionDep, response: Response
) -> dict:
    """Email the report daily, weekly (`dayOfWeek`) or monthly (`dayOfMonth`) at `timeOfDay` in `timezone`, as
    a CSV, XLSX or PDF attachment. It runs as you: with your permissions and record scope at each run."""
    schedule = analytics.create_schedule(session, actor, report_id, body)
    response.headers["Location"] = f"/api/v1/reports/{report_id}/schedules/{schedule.id}"
    return ok(_schedule(schedule))


@router.get(
    "/{report_id}/schedules/{schedule_id}",
    response_model=Envelope[ScheduleRead],
    dependencies=[requires("reports", "schedule")],
    responses=ERRORS,
)
def get_schedule(report_id: UUID, schedule_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """One schedule, with its next run and the outcome of its last one."""
    return ok(_schedule(analytics.get_schedule(session, actor, report_id, schedule_id)))


@router.patch(
    "/{report_id}/schedules/{schedule_id}",
    response_model=Envelope[ScheduleRead],
    dependencies=[requires("reports", "schedule")],
    responses=ERRORS,
)
def update_schedule(
    report_id: UUID, schedule_id: UUID, body: ScheduleUpdate, actor: CurrentActor, session: SessionDep
) -> dict:
    """Change when, to whom or in which format (the next run is computed again), or pause it (`isActive`)."""
    return ok(_schedule(analytics.update_schedule(session, actor, report_id, schedule_id, body)))


@router.delete(
    "/{report_id}/schedules/{schedule_id}",
    status_code=204,
    dependencies=[requires("reports", "schedule")],
    responses=ERRORS,
)
def delete_schedule(report_id: UUID, schedule_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    analytics.delete_schedule(session, actor, report_id, schedule_id)
    return Response(status_code=204)


# The warehouse load log --------------------------------------------------------------------------------------


@warehouse_router.get("/runs", response_model=PagedEnvelope[EtlRunRead], responses=ERRORS)
def list_warehouse_runs(actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """The reporting warehouse's loads, newest first: trigger, duration, rows per table, watermark, error
    (`warehouse:read` or `settings:read`)."""
    rows, total = analytics.list_warehouse_runs(session, actor, limit=paging.limit, offset=paging.offset)
    data = [EtlRunRead.model_validate(r).model_dump(mode="json", by_alias=True) for r in rows]
    return paged(data, page=paging.page, limit=paging.limit, total=total)


@warehouse_router.post(
    "/runs", status_code=status.HTTP_202_ACCEPTED, response_model=Envelope[JobRead], responses=ERRORS
)
def queue_warehouse_load(actor: CurrentActor, session: SessionDep, body: WarehouseLoadRequest | None = None) -> dict:
    """Queue a load of the warehouse now (`warehouse:read` or `settings:manage`); follow it at /jobs/{id}, its
    log entry appears here. Asking again within the minute returns the same job."""
    job = analytics.queue_warehouse_load(session, actor, full=body.full if body else False)
    return ok(JobRead.model_validate(job).model_dump(mode="json", by_alias=True))
