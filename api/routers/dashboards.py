"""Dashboards: `/api/v1/dashboards` with their widgets, each showing a saved report (`reportId`) or a standard one
(`config.standardKey`), and what each widget shows under the dashboard's filters."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.deps import CurrentActor, Paging, SessionDep, requires
from api.envelope import Envelope, PagedEnvelope, error_responses, ok, paged
from api.routers.reports import RUN_ERRORS, Overrides
from core.analytics import service as analytics
from core.analytics.models import Dashboard, DashboardWidget
from core.analytics.schemas import (
    DashboardCreate,
    DashboardRead,
    DashboardUpdate,
    ReportResultRead,
    WidgetCreate,
    WidgetRead,
    WidgetReorder,
    WidgetUpdate,
)
from etl.reports import service as reports

router = APIRouter(prefix="/dashboards", tags=["dashboards"])

ERRORS = error_responses(400, 401, 403, 404, 409)


def _widget(widget: DashboardWidget) -> dict:
    return WidgetRead.model_validate(widget).model_dump(mode="json", by_alias=True)


def _dashboard(dashboard: Dashboard, widgets: list[DashboardWidget] | None = None) -> dict:
    data = DashboardRead.model_validate(dashboard).model_dump(mode="json", by_alias=True)
    data["widgets"] = [_widget(w) for w in widgets or []]
    return data


@router.get(
    "", response_model=PagedEnvelope[DashboardRead], dependencies=[requires("dashboards", "read")], responses=ERRORS
)
def list_dashboards(actor: CurrentActor, session: SessionDep, paging: Paging) -> dict:
    """Dashboards you may see (public ones and your own), the tenant's default first; without their widgets."""
    rows, total = analytics.list_dashboards(session, actor, limit=paging.limit, offset=paging.offset)
    return paged([_dashboard(d) for d in rows], page=paging.page, limit=paging.limit, total=total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[DashboardRead],
    dependencies=[requires("dashboards", "create")],
    responses=ERRORS,
)
def create_dashboard(body: DashboardCreate, actor: CurrentActor, session: SessionDep, response: Response) -> dict:
    """A dashboard, with its first widgets if given."""
    dashboard, widgets = analytics.create_dashboard(session, actor, body)
    response.headers["Location"] = f"/api/v1/dashboards/{dashboard.id}"
    return ok(_dashboard(dashboard, widgets))


@router.get(
    "/{dashboard_id}",
    response_model=Envelope[DashboardRead],
    dependencies=[requires("dashboards", "read")],
    responses=ERRORS,
)
def get_dashboard(dashboard_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    """A dashboard with its widgets, top to bottom."""
    dashboard = analytics.get_dashboard(session, actor, dashboard_id)
    return ok(_dashboard(dashboard, analytics.list_widgets(session, actor, dashboard.id)))


@router.patch(
    "/{dashboard_id}",
    response_model=Envelope[DashboardRead],
    dependencies=[requires("dashboards", "update")],
    responses=ERRORS,
)
def update_dashboard(dashboard_id: UUID, body: DashboardUpdate, actor: CurrentActor, session: SessionDep) -> dict:
    """Change name, description, layout, filters, `isPublic` or `isDefault` (its creator or an admin)."""
    dashboard = analytics.update_dashboard(session, actor, dashboard_id, body)
    return ok(_dashboard(dashboard, analytics.list_widgets(session, actor, dashboard.id)))


@router.delete("/{dashboard_id}", status_code=204, dependencies=[requires("dashboards", "delete")], responses=ERRORS)
def delete_dashboard(dashboard_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    analytics.delete_dashboard(session, actor, dashboard_id)
    return Response(status_code=204)


@router.get(
    "/{dashboard_id}/widgets",
    response_model=Envelope[list[WidgetRead]],
    dependencies=[requires("dashboards", "read")],
    responses=ERRORS,
)
def list_widgets(dashboard_id: UUID, actor: CurrentActor, session: SessionDep) -> dict:
    return ok([_widget(w) for w in analytics.list_widgets(session, actor, dashboard_id)])


@router.post(
    "/{dashboard_id}/widgets",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[WidgetRead],
    dependencies=[requires("dashboards", "update")],
    responses=ERRORS,
)
def add_widget(dashboard_id: UUID, body: WidgetCreate, actor: CurrentActor, session: SessionDep) -> dict:
    """Add a widget showing a saved report you can read (`reportId`; a public one on a public dashboard) or a
    standard report (`config: {"standardKey": ...}`). Without a position it goes below the others."""
    return ok(_widget(analytics.add_widget(session, actor, dashboard_id, body)))


@router.post(
    "/{dashboard_id}/widgets/reorder",
    response_model=Envelope[list[WidgetRead]],
    dependencies=[requires("dashboards", "update")],
    responses=ERRORS,
)
def reorder_widgets(dashboard_id: UUID, body: WidgetReorder, actor: CurrentActor, session: SessionDep) -> dict:
    """Place every widget at once: each widget of the dashboard exactly once, with its position (and size)."""
    return ok([_widget(w) for w in analytics.reorder_widgets(session, actor, dashboard_id, body)])


@router.patch(
    "/{dashboard_id}/widgets/{widget_id}",
    response_model=Envelope[WidgetRead],
    dependencies=[requires("dashboards", "update")],
    responses=ERRORS,
)
def update_widget(
    dashboard_id: UUID, widget_id: UUID, body: WidgetUpdate, actor: CurrentActor, session: SessionDep
) -> dict:
    return ok(_widget(analytics.update_widget(session, actor, dashboard_id, widget_id, body)))


@router.delete(
    "/{dashboard_id}/widgets/{widget_id}",
    status_code=204,
    dependencies=[requires("dashboards", "update")],
    responses=ERRORS,
)
def remove_widget(dashboard_id: UUID, widget_id: UUID, actor: CurrentActor, session: SessionDep) -> Response:
    analytics.remove_widget(session, actor, dashboard_id, widget_id)
    return Response(status_code=204)


@router.get(
    "/{dashboard_id}/widgets/{widget_id}/run",
    response_model=Envelope[ReportResultRead],
    dependencies=[requires("dashboards", "read"), requires("reports", "read")],
    responses=RUN_ERRORS,
)
def run_widget(
    dashboard_id: UUID, widget_id: UUID, actor: CurrentActor, session: SessionDep, overrides: Overrides
) -> dict:
    """What the widget shows: its report under the dashboard's filters, with these query overrides on top."""
    run = reports.run_widget(session, actor, dashboard_id, widget_id, overrides)
    return ok(ReportResultRead.model_validate(reports.as_json(run)).model_dump(mode="json", by_alias=True))
