"""The rows behind one point of a summary report: a bar, a slice, a stage of the funnel.

A point is a result row's group values (`{"pipeline": "Sales", "stage_order": 2, "stage": "Proposal"}`). The
drill-down is a listing spec of the same entity with the report's own filters plus one filter per group field
(a bucketed date becomes its bucket's first to last day; an empty group, `is_null`), run like any report: the
same record scope and overrides, so its rows are exactly the ones the point counted (up to `limit`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from core.actor import Actor
from core.analytics import service as analytics
from core.analytics.schemas import ReportOverrides
from core.analytics.spec import ReportSpec, parse_spec
from core.errors import ValidationFailed
from etl.reports import service as reports

DRILL_LIMIT = 500

# The columns a drill-down lists per entity: the record's id first (for links), then what identifies it.
DRILL_COLUMNS: dict[str, tuple[str, ...]] = {
    "deals": (
        "deal_id",
        "name",
        "account",
        "owner",
        "stage",
        "status",
        "amount",
        "expected_close_date",
        "actual_close_date",
    ),
    "deal_funnel": ("deal_id", "deal", "stage", "advanced", "deal_status", "owner", "amount", "actual_close_date"),
    "stage_history": ("deal_id", "deal", "from_stage", "stage", "changed_at", "owner", "days_in_stage"),
    "pipeline_snapshot": ("deal_id", "deal", "snapshot_date", "stage", "owner", "amount", "weighted_amount"),
    "activities": ("deal_id", "deal", "occurred_at", "type", "subject", "owner", "contact", "account"),
    "tasks": ("task_id", "title", "assignee", "status", "priority", "due_date", "deal"),
    "contacts": ("contact_id", "full_name", "email", "company", "owner", "lifecycle_stage"),
    "accounts": ("account_id", "name", "industry", "country", "owner", "deal_count"),
}
# Id columns that have a detail page, and which.
LINKS: dict[str, str] = {"deal_id": "deal", "contact_id": "contact", "account_id": "account"}


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def bucket_span(start: date, bucket: str) -> tuple[date, date]:
    """The first and last day of the bucket (day, week, month, quarter, year) that starts on `start`."""
    if bucket == "day":
        return start, start
    if bucket == "week":
        return start, start + timedelta(days=6)
    months = {"month": 1, "quarter": 3, "year": 12}[bucket]
    total = start.year * 12 + start.month - 1 + months
    return start, date(total // 12, total % 12 + 1, 1) - timedelta(days=1)


def point_filters(spec: ReportSpec, point: dict[str, Any]) -> list[dict[str, Any]]:
    """One filter per group of `spec` that keeps the rows of `point` (its group values by output name)."""
    if spec.is_listing:
        raise ValidationFailed(
            "A listing report has no bars to drill into: its rows are the records",
            details=[{"field": "point", "message": "only summary reports (groupBy) drill down"}],
        )
    out: list[dict[str, Any]] = []
    for group in spec.group_by:
        name = group.output()
        if name not in point:
            raise ValidationFailed(
                f"The point names no value for {name!r}",
                details=[{"field": f"point.{name}", "message": "missing group value"}],
            )
        value = point[name]
        if value is None:
            out.append({"field": group.field, "op": "is_null"})
        elif group.bucket:
            first, last = bucket_span(_as_date(value), group.bucket)
            out.append({"field": group.field, "op": "between", "value": [first.isoformat(), last.isoformat()]})
        else:
            out.append({"field": group.field, "op": "eq", "value": value})
    return out


def drill_spec(spec: ReportSpec | dict[str, Any], point: dict[str, Any], *, limit: int = DRILL_LIMIT) -> ReportSpec:
    """The listing of the rows behind `point` of the summary report `spec` (largest amounts first)."""
    spec = parse_spec(spec)
    fields = spec.fields()
    data = spec.model_dump(mode="json", by_alias=True)
    columns = [c for c in DRILL_COLUMNS[spec.entity] if c in fields]
    sort = [{"field": "amount", "direction": "desc"}] if "amount" in fields else []
    return parse_spec(
        {
            "entity": spec.entity,
            "columns": columns,
            "filters": [*data["filters"], *point_filters(spec, point)],
            "sort": sort,
            "limit": limit,
        }
    )


def describe_point(spec: ReportSpec, point: dict[str, Any]) -> str:
    """The point in words, for the drill-down's title: "Sales · 2 · Proposal" reads as "Sales · Proposal"."""
    parts = []
    for group in spec.group_by:
        if group.field == "stage_order":
            continue
        value = point.get(group.output())
        parts.append("(none)" if value is None else str(value))
    return " · ".join(parts) or "all"


def drill_standard(
    session: Session,
    actor: Actor,
    key: str,
    point: dict[str, Any],
    overrides: ReportOverrides | None = None,
    *,
    limit: int = DRILL_LIMIT,
) -> reports.ReportRun:
    """The rows behind a point of a standard report, under the same overrides as the report's run."""
    report = reports.get_standard(actor, key)
    return reports.run_spec(
        session,
        actor,
        drill_spec(report.spec, point, limit=limit),
        overrides,
        name=f"{report.name}: {describe_point(report.spec, point)}",
        description=f"The records behind one point of {report.name}.",
    )


def drill_saved(
    session: Session,
    actor: Actor,
    report_id: UUID,
    point: dict[str, Any],
    overrides: ReportOverrides | None = None,
    *,
    limit: int = DRILL_LIMIT,
) -> reports.ReportRun:
    """The rows behind a point of a saved report the actor may read."""
    report = analytics.get_report(session, actor, report_id)
    spec = parse_spec(report.spec)
    return reports.run_spec(
        session,
        actor,
        drill_spec(spec, point, limit=limit),
        overrides,
        name=f"{report.name}: {describe_point(spec, point)}",
        description=f"The records behind one point of {report.name}.",
    )
