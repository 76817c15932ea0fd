"""Analytics as users keep it: saved reports, dashboards and their widgets, report schedules, and the warehouse
load log. Running reports reads the warehouse and lives in etl/reports/service.py.

Who sees what: a public report or dashboard is readable by everyone in the tenant with `reports:read`
(`dashboards:read`); a private one by its creator and admins only (others get 404, as if it did not exist).
Changing or deleting one takes the matching permission and being its creator or an admin. Schedules need
`reports:schedule`; each is seen and changed by its creator and admins, and runs as its creator (their
permissions at the time of the run). Every write is audited by the tables' triggers; services never commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from core.actor import Actor
from core.analytics import schedules as timing
from core.analytics.models import Dashboard, DashboardWidget, EtlRun, Report, ReportSchedule
from core.analytics.schemas import (
    DashboardCreate,
    DashboardUpdate,
    ReportCreate,
    ReportOverrides,
    ReportUpdate,
    ScheduleCreate,
    ScheduleUpdate,
    WidgetCreate,
    WidgetReorder,
    WidgetUpdate,
)
from core.analytics.spec import ReportSpec, parse_spec
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.ids import new_id
from core.jobs import service as jobs
from core.jobs.models import Job
from core.tenants.models import Tenant
from core.versioning import check_version

REPORTS = "reports"
DASHBOARDS = "dashboards"
LOAD_JOB = "etl.load"  # handled by etl/tasks.py
MAX_WIDGETS = 50

# The standard reports are defined outside core (etl/reports/standard.py); whoever runs them registers their
# keys here so that dashboard widgets can be checked against them (etl/reports/service.py does, on import).
_standard_keys: Callable[[], Collection[str]] | None = None


def use_standard_reports(keys: Callable[[], Collection[str]]) -> None:
    """Register where the standard report keys come from (called once by the module that runs them)."""
    global _standard_keys
    _standard_keys = keys


def standard_keys() -> Collection[str]:
    return _standard_keys() if _standard_keys is not None else ()


def is_admin(actor: Actor) -> bool:
    """Admins (and the platform itself) see and manage every report, dashboard and schedule of the tenant."""
    return actor.is_system or actor.role == "admin"


def _field_error(field: str, message: str, text: str | None = None) -> ValidationFailed:
    return ValidationFailed(text or f"Invalid {field}: {message}", details=[{"field": field, "message": message}])


def _changes(data: Any, *, required: tuple[str, ...], exclude: set[str] | None = None) -> dict[str, Any]:
    """What a PATCH sent (but `version` and `exclude`), refusing null for the fields that cannot be empty."""
    changes = data.model_dump(exclude_unset=True, exclude={"version", *(exclude or ())})
    for key in required:
        if key in changes and changes[key] is None:
            raise _field_error(key, "must not be null")
    return changes


def _visible(actor: Actor, model: Any) -> Select[Any]:
    statement = select(model).where(model.tenant_id == actor.tenant_id, model.deleted_at.is_(None))
    if is_admin(actor):
        return statement
    return statement.where(or_(model.is_public.is_(True), model.created_by == actor.user_id))


def _require_owner(actor: Actor, record: Any, what: str) -> None:
    if not is_admin(actor) and record.created_by != actor.user_id:
        raise PermissionDenied(
            f"Only the creator of this {what} or an admin may change it; make a copy to change your own",
            details={"createdBy": str(record.created_by) if record.created_by else None},
        )


def _count(session: Session, statement: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0


def tenant_timezone(session: Session, actor: Actor) -> str:
    return session.scalar(select(Tenant.timezone).where(Tenant.id == actor.tenant_id)) or "UTC"


# Saved reports ---------------------------------------------------------------------------------------------


def _spec_columns(spec: ReportSpec) -> dict[str, Any]:
    """The stored row's columns for a spec: the whole spec, and the seed's columns holding its parts."""
    data = spec.model_dump(mode="json", by_alias=True)
    chart = spec.chart.type
    return {
        "spec": data,
        "entity_type": spec.entity,
        "chart_type": chart,
        "report_type": "table" if chart == "table" else ("metric" if chart == "metric" else "chart"),
        "filters": data["filters"],
        "columns": data["columns"],
        "grouping": data["groupBy"],
        "sorting": data["sort"],
        "chart_config": data["chart"],
    }


def get_report(session: Session, actor: Actor, report_id: UUID) -> Report:
    """A saved report the actor may read; NotFound otherwise (private reports of others included)."""
    actor.require(REPORTS, "read")
    report = session.scalar(_visible(actor, Report).where(Report.id == report_id))
    if report is None:
        raise NotFound("Report not found")
    return report


def reports_statement(actor: Actor, *, search: str | None = None) -> Select[Any]:
    """The saved reports the actor may read, by name (for listing alongside the standard reports)."""
    actor.require(REPORTS, "read")
    statement = _visible(actor, Report)
    if search:
        statement = statement.where(Report.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
    return statement.order_by(func.lower(Report.name), Report.id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_reports(
    session: Session, actor: Actor, *, search: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Report], int]:
    """Saved reports the actor may read, by name, with the total."""
    statement = reports_statement(actor, search=search)
    return list(session.scalars(statement.limit(limit).offset(offset))), _count(session, statement)


def count_reports(session: Session, actor: Actor, *, search: str | None = None) -> int:
    return _count(session, reports_statement(actor, search=search))


def _editable_report(session: Session, actor: Actor, report_id: UUID, action: str) -> Report:
    actor.require(REPORTS, action)
    report = get_report(session, actor, report_id)
    _require_owner(actor, report, "report")
    return report


def create_report(session: Session, actor: Actor, data: ReportCreate) -> Report:
    """Save a report; its spec is validated against the field catalogue (400 naming each problem)."""
    actor.require(REPORTS, "create")
    spec = parse_spec(data.spec)
    report = Report(
        id=new_id(),
        tenant_id=actor.tenant_id,
        name=data.name,
        description=data.description,
        is_public=data.is_public,
        created_by=actor.user_id,
        **_spec_columns(spec),
    )
    session.add(report)
    session.flush()
    return report


def update_report(session: Session, actor: Actor, report_id: UUID, data: ReportUpdate) -> Report:
    """Rename, describe, change the spec or who may read it (creator or admin)."""
    report = _editable_report(session, actor, report_id, "update")
    check_version(report, data.version)
    changes = _changes(data, required=("name", "is_public"), exclude={"spec"})
    if "spec" in data.model_fields_set:
        if data.spec is None:
            raise _field_error("spec", "must not be null")
        changes |= _spec_columns(parse_spec(data.spec))
    for key, value in changes.items():
        setattr(report, key, value)
    session.flush()
    return report


def delete_report(session: Session, actor: Actor, report_id: UUID) -> None:
    """Soft-delete a report (creator or admin): its schedules stop and the widgets showing it go."""
    report = _editable_report(session, actor, report_id, "delete")
    now = datetime.now(UTC)
    report.deleted_at = now
    session.execute(
        update(ReportSchedule)
        .where(
            ReportSchedule.tenant_id == actor.tenant_id,
            ReportSchedule.report_id == report.id,
            ReportSchedule.deleted_at.is_(None),
        )
        .values(deleted_at=now, is_active=False)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(DashboardWidget)
        .where(DashboardWidget.tenant_id == actor.tenant_id, DashboardWidget.report_id == report.id)
        .execution_options(synchronize_session=False)
    )
    session.flush()


# Dashboards ------------------------------------------------------------------------------------------------


def _overrides_json(overrides: ReportOverrides | None) -> dict[str, Any] | None:
    if overrides is None:
        return None
    return overrides.model_dump(mode="json", by_alias=True, exclude_none=True) or None


def get_dashboard(session: Session, actor: Actor, dashboard_id: UUID) -> Dashboard:
    actor.require(DASHBOARDS, "read")
    dashboard = session.scalar(_visible(actor, Dashboard).where(Dashboard.id == dashboard_id))
    if dashboard is None:
        raise NotFound("Dashboard not found")
    return dashboard


def _editable_dashboard(session: Session, actor: Actor, dashboard_id: UUID, action: str = "update") -> Dashboard:
    actor.require(DASHBOARDS, action)
    dashboard = get_dashboard(session, actor, dashboard_id)
    _require_owner(actor, dashboard, "dashboard")
    return dashboard


def list_widgets(session: Session, actor: Actor, dashboard_id: UUID) -> list[DashboardWidget]:
    """A dashboard's widgets, top to bottom, left to right."""
    dashboard = get_dashboard(session, actor, dashboard_id)
    return _widgets(session, dashboard)


def _widgets(session: Session, dashboard: Dashboard) -> list[DashboardWidget]:
    return list(
        session.scalars(
            select(DashboardWidget)
            .where(DashboardWidget.tenant_id == dashboard.tenant_id, DashboardWidget.dashboard_id == dashboard.id)
            .order_by(DashboardWidget.position_y, DashboardWidget.position_x, DashboardWidget.created_at)
        )
    )


def list_dashboards(session: Session, actor: Actor, *, limit: int = 50, offset: int = 0) -> tuple[list[Dashboard], int]:
    """Dashboards the actor may read: the default first, then by name."""
    actor.require(DASHBOARDS, "read")
    statement = _visible(actor, Dashboard).order_by(
        Dashboard.is_default.desc(), func.lower(Dashboard.name), Dashboard.id
    )
    return list(session.scalars(statement.limit(limit).offset(offset))), _count(session, statement)


def _check_default(session: Session, actor: Actor, dashboard: Dashboard) -> None:
    """One default dashboard per tenant, and a public one: making one the default clears the others."""
    if not dashboard.is_default:
        return
    if not dashboard.is_public:
        raise _field_error("isDefault", "only a public dashboard can be the tenant's default: set isPublic")
    session.execute(
        update(Dashboard)
        .where(
            Dashboard.tenant_id == actor.tenant_id,
            Dashboard.id != dashboard.id,
            Dashboard.is_default.is_(True),
        )
        .values(is_default=False)
        .execution_options(synchronize_session=False)
    )


def create_dashboard(session: Session, actor: Actor, data: DashboardCreate) -> tuple[Dashboard, list[DashboardWidget]]:
    """A dashboard with its first widgets (each checked as `add_widget` checks it)."""
    actor.require(DASHBOARDS, "create")
    dashboard = Dashboard(
        id=new_id(),
        tenant_id=actor.tenant_id,
        name=data.name,
        description=data.description,
        layout=data.layout,
        filters=_overrides_json(data.filters),
        is_default=data.is_default,
        is_public=data.is_public,
        created_by=actor.user_id,
    )
    session.add(dashboard)
    session.flush()
    _check_default(session, actor, dashboard)
    widgets = []
    for i, widget in enumerate(data.widgets):
        widgets.append(_add_widget(session, actor, dashboard, widget, field=f"widgets[{i}]"))
    return dashboard, widgets


def update_dashboard(session: Session, actor: Actor, dashboard_id: UUID, data: DashboardUpdate) -> Dashboard:
    dashboard = _editable_dashboard(session, actor, dashboard_id)
    check_version(dashboard, data.version)
    changes = _changes(data, required=("name", "is_default", "is_public"), exclude={"filters"})
    if "filters" in data.model_fields_set:
        changes["filters"] = _overrides_json(data.filters)
    for key, value in changes.items():
        setattr(dashboard, key, value)
    if changes.get("is_public") is False and not changes.get("is_default"):
        dashboard.is_default = False  # made private: it can no longer be the tenant's default
    _check_default(session, actor, dashboard)
    if dashboard.is_public:
        for widget in _widgets(session, dashboard):
            if widget.report_id is not None:
                _check_report_reference(session, actor, dashboard, widget.report_id, "isPublic")
    session.flush()
    return dashboard


def delete_dashboard(session: Session, actor: Actor, dashboard_id: UUID) -> None:
    dashboard = _editable_dashboard(session, actor, dashboard_id, "delete")
    dashboard.deleted_at = datetime.now(UTC)
    dashboard.is_default = False
    session.flush()


def _check_report_reference(
    session: Session, actor: Actor, dashboard: Dashboard, report_id: UUID, field: str
) -> Report:
    report = session.scalar(_visible(actor, Report).where(Report.id == report_id))
    if report is None:
        raise NotFound(
            f"Report {report_id} not found: a widget shows a saved report of this tenant that you can read",
            details=[{"field": field, "message": "no such report"}],
        )
    if dashboard.is_public and not report.is_public:
        raise _field_error(
            field,
            f"report {report.name!r} is private: make it public before showing it on a public dashboard",
        )
    return report


def _check_standard_key(key: Any, field: str) -> str:
    known = standard_keys()
    if not isinstance(key, str) or key not in known:
        raise _field_error(field, f"unknown standard report {key!r}; keys: {', '.join(sorted(known))}")
    return key


def _widget_source(
    session: Session, actor: Actor, dashboard: Dashboard, report_id: UUID | None, config: dict | None, field: str
) -> None:
    standard = (config or {}).get("standardKey")
    if (report_id is None) == (standard is None):
        raise _field_error(
            field,
            "a widget shows one report: give reportId (a saved report) or config.standardKey (a standard one)",
        )
    if report_id is not None:
        _check_report_reference(session, actor, dashboard, report_id, f"{field}.reportId")
    else:
        _check_standard_key(standard, f"{field}.config.standardKey")


def _add_widget(
    session: Session, actor: Actor, dashboard: Dashboard, data: WidgetCreate, *, field: str
) -> DashboardWidget:
    existing = _widgets(session, dashboard)
    if len(existing) >= MAX_WIDGETS:
        raise _field_error(field, f"a dashboard holds at most {MAX_WIDGETS} widgets: remove one first")
    _widget_source(session, actor, dashboard, data.report_id, data.config, field)
    position_y = data.position_y
    if not {"position_x", "position_y"} & data.model_fields_set:  # no place given: below the others
        position_y = max((w.position_y + w.height for w in existing), default=0)
    widget = DashboardWidget(
        id=new_id(),
        tenant_id=actor.tenant_id,
        dashboard_id=dashboard.id,
        **(data.model_dump() | {"position_y": position_y}),
    )
    session.add(widget)
    session.flush()
    return widget


def _touch(dashboard: Dashboard) -> None:
    dashboard.updated_at = datetime.now(UTC)  # a widget change is a change of its dashboard (and audited)


def add_widget(session: Session, actor: Actor, dashboard_id: UUID, data: WidgetCreate) -> DashboardWidget:
    """Add a widget showing a saved report of the tenant (`reportId`) or a standard one (`config.standardKey`);
    without a position it goes below the others."""
    dashboard = _editable_dashboard(session, actor, dashboard_id)
    widget = _add_widget(session, actor, dashboard, data, field="body")
    _touch(dashboard)
    return widget


def _get_widget(session: Session, dashboard: Dashboard, widget_id: UUID) -> DashboardWidget:
    widget = session.scalar(
        select(DashboardWidget).where(
            DashboardWidget.tenant_id == dashboard.tenant_id,
            DashboardWidget.dashboard_id == dashboard.id,
            DashboardWidget.id == widget_id,
        )
    )
    if widget is None:
        raise NotFound("Widget not found on this dashboard")
    return widget


def get_widget(session: Session, actor: Actor, dashboard_id: UUID, widget_id: UUID) -> DashboardWidget:
    return _get_widget(session, get_dashboard(session, actor, dashboard_id), widget_id)


def update_widget(
    session: Session, actor: Actor, dashboard_id: UUID, widget_id: UUID, data: WidgetUpdate
) -> DashboardWidget:
    """Change a widget's type, title, report, settings or place."""
    dashboard = _editable_dashboard(session, actor, dashboard_id)
    widget = _get_widget(session, dashboard, widget_id)
    changes = _changes(data, required=("widget_type", "position_x", "position_y", "width", "height"))
    if "report_id" in changes or "config" in changes:
        report_id = changes.get("report_id", widget.report_id)
        config = changes.get("config", widget.config)
        _widget_source(session, actor, dashboard, report_id, config, "body")
    for key, value in changes.items():
        setattr(widget, key, value)
    _touch(dashboard)
    session.flush()
    return widget


def remove_widget(session: Session, actor: Actor, dashboard_id: UUID, widget_id: UUID) -> None:
    dashboard = _editable_dashboard(session, actor, dashboard_id)
    session.delete(_get_widget(session, dashboard, widget_id))
    _touch(dashboard)
    session.flush()


def reorder_widgets(session: Session, actor: Actor, dashboard_id: UUID, data: WidgetReorder) -> list[DashboardWidget]:
    """Place every widget of the dashboard at once (each exactly once)."""
    dashboard = _editable_dashboard(session, actor, dashboard_id)
    widgets = {w.id: w for w in _widgets(session, dashboard)}
    given = [p.id for p in data.widgets]
    problems = []
    if unknown := [str(i) for i in given if i not in widgets]:
        problems.append(f"not widgets of this dashboard: {', '.join(unknown)}")
    if len(set(given)) != len(given):
        problems.append("a widget is listed twice")
    if missing := [str(i) for i in widgets if i not in set(given)]:
        problems.append(f"missing widgets: {', '.join(missing)}")
    if problems:
        raise _field_error("widgets", "; ".join(problems) + " (list every widget of the dashboard once)")
    for placement in data.widgets:
        widget = widgets[placement.id]
        widget.position_x, widget.position_y = placement.position_x, placement.position_y
        if placement.width is not None:
            widget.width = placement.width
        if placement.height is not None:
            widget.height = placement.height
    _touch(dashboard)
    session.flush()
    return _widgets(session, dashboard)


# Schedules -------------------------------------------------------------------------------------------------

_DAY_FIELDS = {
    "weekly": ("day_of_week", "dayOfWeek", "1 = Monday ... 7 = Sunday"),
    "monthly": ("day_of_month", "dayOfMonth", "1-31"),
}


def _check_days(values: dict[str, Any], explicit: set[str]) -> None:
    """Weekly needs a day of the week, monthly a day of the month; a day that does not apply is refused when
    sent, and cleared when left over from another frequency."""
    frequency = values["frequency"]
    for freq, (key, name, hint) in _DAY_FIELDS.items():
        if frequency == freq:
            if values.get(key) is None:
                raise _field_error(name, f"a {freq} schedule needs {name} ({hint})")
        elif values.get(key) is not None:
            if key in explicit:
                raise _field_error(name, f"{name} applies to {freq} schedules only, not to {frequency}: remove it")
            values[key] = None


def _next_run(values: dict[str, Any], after: datetime | None = None) -> datetime:
    return timing.next_run(
        frequency=values["frequency"],
        time_of_day=values["time_of_day"],
        timezone=values["timezone"],
        day_of_week=values.get("day_of_week"),
        day_of_month=values.get("day_of_month"),
        after=after or datetime.now(UTC),
    )


def _schedules(actor: Actor) -> Select[Any]:
    statement = select(ReportSchedule).where(
        ReportSchedule.tenant_id == actor.tenant_id, ReportSchedule.deleted_at.is_(None)
    )
    if not is_admin(actor):
        statement = statement.where(ReportSchedule.created_by == actor.user_id)
    return statement


def list_schedules(
    session: Session, actor: Actor, report_id: UUID, *, limit: int = 50, offset: int = 0
) -> tuple[list[ReportSchedule], int]:
    """A report's schedules the actor may see (their own; an admin, all), next to run first."""
    actor.require(REPORTS, "schedule")
    report = get_report(session, actor, report_id)
    statement = _schedules(actor).where(ReportSchedule.report_id == report.id)
    statement = statement.order_by(ReportSchedule.next_run_at, ReportSchedule.id)
    return list(session.scalars(statement.limit(limit).offset(offset))), _count(session, statement)


def get_schedule(session: Session, actor: Actor, report_id: UUID, schedule_id: UUID) -> ReportSchedule:
    actor.require(REPORTS, "schedule")
    report = get_report(session, actor, report_id)
    schedule = session.scalar(
        _schedules(actor).where(ReportSchedule.report_id == report.id, ReportSchedule.id == schedule_id)
    )
    if schedule is None:
        raise NotFound("Schedule not found")
    return schedule


def create_schedule(session: Session, actor: Actor, report_id: UUID, data: ScheduleCreate) -> ReportSchedule:
    """Email a report on a schedule, as the actor: it runs with their permissions at the time of each run."""
    actor.require(REPORTS, "schedule")
    report = get_report(session, actor, report_id)
    values = data.model_dump()
    values["timezone"] = values["timezone"] or tenant_timezone(session, actor)
    _check_days(values, data.model_fields_set)
    schedule = ReportSchedule(
        id=new_id(),
        tenant_id=actor.tenant_id,
        report_id=report.id,
        created_by=actor.user_id,
        next_run_at=_next_run(values),
        **values,
    )
    session.add(schedule)
    session.flush()
    return schedule


def update_schedule(
    session: Session, actor: Actor, report_id: UUID, schedule_id: UUID, data: ScheduleUpdate
) -> ReportSchedule:
    """Change when, to whom or in which format; the next run is computed again from now."""
    schedule = get_schedule(session, actor, report_id, schedule_id)
    check_version(schedule, data.version)
    changes = _changes(data, required=("frequency", "time_of_day", "timezone", "recipients", "format", "is_active"))
    keys = ("frequency", "time_of_day", "timezone", "day_of_week", "day_of_month")
    values = {key: changes.get(key, getattr(schedule, key)) for key in keys}
    _check_days(values, {k for k in data.model_fields_set if changes.get(k) is not None})
    changes |= {k: values[k] for k in ("day_of_week", "day_of_month")}
    for key, value in changes.items():
        setattr(schedule, key, value)
    if set(changes) & {*keys, "is_active"}:
        schedule.next_run_at = _next_run(values)
    session.flush()
    return schedule


def delete_schedule(session: Session, actor: Actor, report_id: UUID, schedule_id: UUID) -> None:
    schedule = get_schedule(session, actor, report_id, schedule_id)
    schedule.deleted_at = datetime.now(UTC)
    schedule.is_active = False
    session.flush()


def schedule_next_run(schedule: ReportSchedule, after: datetime) -> datetime:
    """The schedule's first run after `after` (the worker's step after each send)."""
    return _next_run(
        {k: getattr(schedule, k) for k in ("frequency", "time_of_day", "timezone", "day_of_week", "day_of_month")},
        after,
    )


# The warehouse load log ------------------------------------------------------------------------------------


def _require_any(actor: Actor, *permissions: str) -> None:
    if not any(actor.can(*p.split(":")) for p in permissions):
        raise PermissionDenied(
            f"Permission denied: needs one of {', '.join(permissions)}",
            details={"required": list(permissions), "role": actor.role},
        )


def list_warehouse_runs(
    session: Session, actor: Actor, *, limit: int = 50, offset: int = 0
) -> tuple[list[EtlRun], int]:
    """The tenant's warehouse loads, newest first (`warehouse:read` or `settings:read`)."""
    _require_any(actor, "warehouse:read", "settings:read")
    statement = (
        select(EtlRun).where(EtlRun.tenant_id == actor.tenant_id).order_by(EtlRun.started_at.desc(), EtlRun.id.desc())
    )
    return list(session.scalars(statement.limit(limit).offset(offset))), _count(session, statement)


def queue_warehouse_load(session: Session, actor: Actor, *, full: bool = False) -> Job:
    """Queue a load of the tenant's warehouse now (`warehouse:read` or `settings:manage`). Asking again within
    the same minute returns the same job."""
    _require_any(actor, "warehouse:read", "settings:manage")
    minute = int(time.time() // 60)
    return jobs.enqueue(
        session,
        actor,
        LOAD_JOB,
        {"trigger": "api", "full": full},
        dedupe_key=f"{LOAD_JOB}:api:{'full' if full else 'incremental'}:{minute}",
    )


__all__ = [
    "add_widget",
    "create_dashboard",
    "create_report",
    "create_schedule",
    "delete_dashboard",
    "delete_report",
    "delete_schedule",
    "get_dashboard",
    "get_report",
    "get_schedule",
    "get_widget",
    "is_admin",
    "list_dashboards",
    "list_reports",
    "list_schedules",
    "list_warehouse_runs",
    "list_widgets",
    "queue_warehouse_load",
    "remove_widget",
    "reorder_widgets",
    "schedule_next_run",
    "update_dashboard",
    "update_report",
    "update_schedule",
    "update_widget",
    "use_standard_reports",
]
