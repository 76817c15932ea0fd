"""Running reports for an actor: the standard reports (from code) and the tenant's saved ones, listed together;
a saved, a standard or an ad hoc spec run on the tenant's warehouse, narrowed by a dashboard's overrides; the
result as JSON or as a CSV/XLSX/PDF file. (Scheduled sends use these as the schedule's creator: mail.py.)

Permissions: listing and running take `reports:read` (an ad hoc spec, `reports:create`: it builds a report);
a file takes `reports:export`. The warehouse holds the whole tenant, so record scope is applied here: an actor
whose role sees only their own (or their team's) records gets the report over those records only, by a filter
on the entity's owner (tasks: assignee) added to the spec like any other, its values bound as parameters.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actor import Actor
from core.analytics import service as analytics
from core.analytics.schemas import ReportOverrides
from core.analytics.spec import ENTITIES, TEMPORAL, ReportSpec, describe_filters, parse_spec, today_in
from core.errors import Conflict, NotFound, ValidationFailed
from core.users.models import User
from etl import warehouse
from etl.reports import builder, charts, export, standard

REPORTS = "reports"
FORMATS = ("csv", "xlsx", "pdf")
MEDIA_TYPES = export.MEDIA_TYPES
NOBODY = UUID(int=0)  # an owner no record has: a scope with no members matches nothing

# The date a period or date range narrows each entity by, unless the caller names another date field.
DATE_FIELDS: dict[str, str] = {
    "deals": "created_date",
    "stage_history": "changed_date",
    "activities": "occurred_date",
    "tasks": "due_date",
    "contacts": "created_date",
    "accounts": "created_date",
    "pipeline_snapshot": "snapshot_date",
    "deal_funnel": "created_date",
}
OWNER_FIELDS: dict[str, str] = {name: ("assignee_id" if name == "tasks" else "owner_id") for name in ENTITIES}

analytics.use_standard_reports(lambda: standard.STANDARD_REPORTS.keys())


@dataclass(frozen=True)
class ReportRun:
    """One run: what was run (name, description), its result, the filters in words and the warehouse version."""

    name: str
    description: str | None
    result: builder.ReportResult
    filters: list[str]
    warehouse: warehouse.Current | None
    shown_spec: ReportSpec  # the spec with the overrides but without the record-scope filter (for files)
    scope: list[str]  # the record scope in words ("Your records only"), empty for scope "all"


@dataclass(frozen=True)
class ReportFile:
    filename: str
    media_type: str
    content: bytes


# Listing ---------------------------------------------------------------------------------------------------


def _standard_summary(report: standard.StandardReport) -> dict[str, Any]:
    return {
        "kind": "standard",
        "key": report.key,
        "id": None,
        "name": report.name,
        "description": report.description,
        "entity_type": report.spec.entity,
        "chart_type": report.spec.chart.type,
        "is_public": True,
        "created_by": None,
        "updated_at": None,
    }


def _saved_summary(report: Any) -> dict[str, Any]:
    return {
        "kind": "saved",
        "key": None,
        "id": report.id,
        "name": report.name,
        "description": report.description,
        "entity_type": report.entity_type,
        "chart_type": report.chart_type,
        "is_public": report.is_public,
        "created_by": report.created_by,
        "updated_at": report.updated_at,
    }


def list_reports(
    session: Session,
    actor: Actor,
    *,
    kind: str = "all",
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """The standard reports (in their catalogue order), then the saved ones the actor may read (by name), as
    one list; `kind` keeps one of the two, `search` keeps names containing it."""
    actor.require(REPORTS, "read")
    needle = (search or "").lower()
    standards = [] if kind == "saved" else [r for r in standard.STANDARD_REPORTS.values() if needle in r.name.lower()]
    items = [_standard_summary(r) for r in standards[offset : offset + limit]]
    if kind == "standard":
        return items, len(standards)
    saved_total = analytics.count_reports(session, actor, search=search)
    wanted = limit - len(items)
    if wanted > 0:
        saved, _ = analytics.list_reports(
            session, actor, search=search, limit=wanted, offset=max(0, offset - len(standards))
        )
        items += [_saved_summary(r) for r in saved]
    return items, len(standards) + saved_total


def get_standard(actor: Actor, key: str) -> standard.StandardReport:
    actor.require(REPORTS, "read")
    try:
        return standard.get(key)
    except KeyError:
        raise NotFound(
            f"No standard report {key!r}; keys: {', '.join(standard.STANDARD_REPORTS)}",
            details=[{"field": "key", "message": "unknown standard report"}],
        ) from None


# Scope and overrides ---------------------------------------------------------------------------------------


def _team_members(session: Session, actor: Actor, team_id: UUID) -> list[UUID]:
    members = session.scalars(select(User.id).where(User.tenant_id == actor.tenant_id, User.team_id == team_id))
    return list(members) or [NOBODY]


def scope_filter(session: Session, actor: Actor, spec: ReportSpec) -> dict[str, Any] | None:
    """The filter that keeps the actor's record scope (None for `all`): own records, or the team's."""
    if actor.scope == "all":
        return None
    if actor.scope == "team" and actor.team_id is not None:
        owners = _team_members(session, actor, actor.team_id)
    else:
        owners = [actor.user_id or NOBODY]
    return {"field": OWNER_FIELDS[spec.entity], "op": "in", "value": [str(o) for o in owners]}


def _scope_words(actor: Actor) -> list[str]:
    if actor.scope == "all":
        return []
    if actor.scope == "team" and actor.team_id is not None:
        return ["Records of your team only"]
    return ["Your records only"]


def override_filters(
    session: Session, actor: Actor, spec: ReportSpec, overrides: ReportOverrides | None
) -> list[dict[str, Any]]:
    """The overrides as spec filters: a period or date range on the entity's date field, a team, owners."""
    if overrides is None or overrides.is_empty():
        return []
    fields = ENTITIES[spec.entity].fields
    out: list[dict[str, Any]] = []
    if overrides.period or overrides.date_from or overrides.date_to:
        name = overrides.date_field or DATE_FIELDS[spec.entity]
        field = fields.get(name)
        if field is None or field.type not in TEMPORAL or not field.filterable:
            dates = ", ".join(f.name for f in fields.values() if f.type in TEMPORAL and f.filterable)
            raise ValidationFailed(
                f"Invalid dateField: {name!r} is not a date field of {spec.entity}; date fields: {dates}",
                details=[{"field": "overrides.dateField", "message": f"not a date field of {spec.entity}"}],
            )
        if overrides.period:
            out.append({"field": name, "op": "eq", "value": overrides.period})
        elif overrides.date_from and overrides.date_to:
            out.append({"field": name, "op": "between", "value": [overrides.date_from, overrides.date_to]})
        elif overrides.date_from:
            out.append({"field": name, "op": "gte", "value": overrides.date_from})
        else:
            out.append({"field": name, "op": "lte", "value": overrides.date_to})
    owner = OWNER_FIELDS[spec.entity]
    if overrides.team_id is not None:
        members = _team_members(session, actor, overrides.team_id)
        out.append({"field": owner, "op": "in", "value": [str(m) for m in members]})
    if overrides.owner_ids:
        out.append({"field": owner, "op": "in", "value": [str(o) for o in overrides.owner_ids]})
    return out


def _with_filters(spec: ReportSpec, extra: list[dict[str, Any]]) -> ReportSpec:
    if not extra:
        return spec
    data = spec.model_dump(mode="json", by_alias=True)
    data["filters"] = [*data["filters"], *extra]
    return parse_spec(data)


def _human(extra: list[dict[str, Any]], spec: ReportSpec, today: date) -> list[str]:
    """Overrides in words; an owner list reads as a count (ids mean nothing to a reader)."""
    lines = []
    for flt in extra:
        if flt["field"] in ("owner_id", "assignee_id"):
            lines.append(f"Owner is one of {len(flt['value'])} people")
        else:
            lines += describe_filters(_with_filters(spec.model_copy(update={"filters": []}), [flt]), today)
    return lines


# Running ---------------------------------------------------------------------------------------------------


@contextmanager
def _warehouse(actor: Actor) -> Iterator[tuple[duckdb.DuckDBPyConnection, warehouse.Current | None]]:
    try:
        con = warehouse.open_tenant(actor.tenant_id)
    except warehouse.WarehouseNotBuilt:
        raise Conflict(
            "The reporting warehouse of this tenant is not built yet: wait a few minutes for the first load "
            "(or queue one with POST /api/v1/warehouse/runs, or run `clientforge etl run`) and try again",
            code="WAREHOUSE_NOT_BUILT",
        ) from None
    try:
        yield con, warehouse.current(actor.tenant_id)
    finally:
        con.close()


def run_spec(
    session: Session,
    actor: Actor,
    spec: ReportSpec | dict[str, Any],
    overrides: ReportOverrides | None = None,
    *,
    name: str = "Ad hoc report",
    description: str | None = None,
    today: date | None = None,
) -> ReportRun:
    """Run a spec on the actor's tenant warehouse, within their record scope, narrowed by `overrides`.

    The caller has checked that the actor may run it (see `run_saved`, `run_standard`, `run_ad_hoc`)."""
    spec = parse_spec(spec)
    tz = analytics.tenant_timezone(session, actor)
    today = today or today_in(tz)
    extra = override_filters(session, actor, spec, overrides)
    scope = scope_filter(session, actor, spec)
    scope_words = _scope_words(actor)
    words = describe_filters(spec, today) + _human(extra, spec, today) + scope_words
    final = _with_filters(spec, [*extra, *([scope] if scope else [])])
    with _warehouse(actor) as (con, current):
        result = builder.run(con, final, today=today, tz=tz)
    return ReportRun(name, description, result, words, current, _with_filters(spec, extra), scope_words)


def run_saved(
    session: Session, actor: Actor, report_id: UUID, overrides: ReportOverrides | None = None, **kwargs: Any
) -> ReportRun:
    report = analytics.get_report(session, actor, report_id)
    return run_spec(session, actor, report.spec, overrides, name=report.name, description=report.description, **kwargs)


def run_standard(
    session: Session, actor: Actor, key: str, overrides: ReportOverrides | None = None, **kwargs: Any
) -> ReportRun:
    report = get_standard(actor, key)
    return run_spec(session, actor, report.spec, overrides, name=report.name, description=report.description, **kwargs)


def run_ad_hoc(
    session: Session, actor: Actor, spec: ReportSpec | dict[str, Any], overrides: ReportOverrides | None = None
) -> ReportRun:
    """Run a spec that is not saved (the report builder's preview): `reports:create`."""
    actor.require(REPORTS, "read")
    actor.require(REPORTS, "create")
    return run_spec(session, actor, spec, overrides)


def _merged(stored: dict[str, Any] | None, given: ReportOverrides | None) -> ReportOverrides | None:
    """A dashboard's saved filters with the viewer's overrides on top (a period replaces a date range)."""
    base = ReportOverrides.model_validate(stored or {})
    if given is None:
        return base
    values = base.model_dump(exclude_none=True) | given.model_dump(exclude_none=True)
    if given.period is not None:
        values.pop("date_from", None), values.pop("date_to", None)
    elif given.date_from is not None or given.date_to is not None:
        values.pop("period", None)
    return ReportOverrides.model_validate(values)


def run_widget(
    session: Session, actor: Actor, dashboard_id: UUID, widget_id: UUID, overrides: ReportOverrides | None = None
) -> ReportRun:
    """What a dashboard widget shows: its report under the dashboard's filters and the viewer's overrides."""
    dashboard = analytics.get_dashboard(session, actor, dashboard_id)
    widget = analytics.get_widget(session, actor, dashboard.id, widget_id)
    merged = _merged(dashboard.filters, overrides)
    if widget.report_id is not None:
        return run_saved(session, actor, widget.report_id, merged)
    return run_standard(session, actor, str((widget.config or {}).get("standardKey")), merged)


def as_json(run: ReportRun) -> dict[str, Any]:
    """A run as the API's `ReportResultRead` (snake_case; the router dumps it by alias)."""
    result = run.result
    return {
        "name": run.name,
        "columns": [{"name": c.name, "label": c.label, "type": c.type} for c in result.columns],
        "rows": [{k: charts.json_value(v) for k, v in row.items()} for row in result.frame.iter_rows(named=True)],
        "row_count": result.frame.height,
        "truncated": result.truncated,
        "chart": result.spec.chart.model_dump(mode="json", by_alias=True),
        "filters": run.filters,
        "today": result.today,
        "timezone": result.tz,
        "generated_at": result.generated_at,
        "sql_ms": result.sql_ms,
        "warehouse_version": run.warehouse.version if run.warehouse else None,
        "warehouse_built_at": run.warehouse.built_at if run.warehouse else None,
    }


# Files -----------------------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "report"


def to_file(run: ReportRun, file_format: str) -> ReportFile:
    """The run as a CSV, XLSX or PDF file named after the report and the day."""
    if file_format not in FORMATS:
        raise ValidationFailed(
            f"Unknown format {file_format!r}: csv, xlsx or pdf",
            details=[{"field": "format", "message": "csv, xlsx or pdf"}],
        )
    # A file lists the filters of its spec: show the report's and the overrides', and say the record scope in
    # words rather than as the list of owner ids it is applied by.
    result = dataclasses.replace(run.result, spec=run.shown_spec)
    description = " ".join(part.rstrip(".") + "." for part in (run.description, *run.scope) if part) or None
    if file_format == "csv":
        content = export.to_csv(result)
    elif file_format == "xlsx":
        content = export.to_xlsx(result, title=run.name, description=description)
    else:
        content = export.to_pdf(result, title=run.name, description=description)
    filename = f"{_slug(run.name)}-{result.today.isoformat()}.{file_format}"
    return ReportFile(filename, MEDIA_TYPES[file_format], content)


def export_saved(
    session: Session, actor: Actor, report_id: UUID, file_format: str, overrides: ReportOverrides | None = None
) -> ReportFile:
    actor.require(REPORTS, "export")
    return to_file(run_saved(session, actor, report_id, overrides), file_format)


def export_standard(
    session: Session, actor: Actor, key: str, file_format: str, overrides: ReportOverrides | None = None
) -> ReportFile:
    actor.require(REPORTS, "export")
    return to_file(run_standard(session, actor, key, overrides), file_format)
