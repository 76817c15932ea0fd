"""Albedo's figures: aggregate metrics, period comparisons, lost reasons and stored revenue forecasts.

Metrics are report specs run on the tenant's warehouse through `etl.reports.service.run_spec` (the runner behind
the standard reports and the dashboard tiles), so a figure here equals the same figure on a dashboard: same
definitions (won = status won, win rate = won / closed, cycle time = days from creation to a win, weighted
pipeline = amount x probability), same record scope (a rep gets their own records only; the run says so in
words). Running one takes `reports:read`, as a dashboard does: the spec is ours, not the user's, so the
report builder's `reports:create` (which `run_ad_hoc` checks) does not apply. No SQL here: unknown fields, bad
filter values and bad periods come back from the spec's validation as failed results naming what to fix.

Forecasts are read as stored by the forecasting job (never fitted in a request): expected value, the 80% and
95% intervals, the back-tested accuracy and the model that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ai.albedo import timeexpr
from ai.albedo.contract import Chart, Table, ToolResult
from ai.albedo.tools import ToolContext, tool
from core.analytics import service as analytics
from core.analytics.spec import ENTITIES, zone
from core.errors import NotFound, ValidationFailed
from core.forecasts import service as forecasts
from core.forecasts.periods import period_of
from etl import warehouse
from etl.reports import charts
from etl.reports import service as reports

# Arguments --------------------------------------------------------------------------------------------------


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeriodArg(Args):
    """A span of days. Give start and end (both included), or `text`, a time expression resolved in the user's
    calendar ("this quarter", "last month", "Q3", "since March", "last 30 days")."""

    start: date | None = Field(None, description="First day included (YYYY-MM-DD).")
    end: date | None = Field(None, description="Last day included (YYYY-MM-DD).")
    text: str | None = Field(
        None, max_length=100, description="Instead of dates: a time expression such as 'this quarter' or 'Q3 2025'."
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_text(cls, data: Any) -> Any:
        """A bare string ("this quarter") is the text form: engines sometimes send it so."""
        return {"text": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _complete(self) -> PeriodArg:
        if self.text is None and (self.start is None or self.end is None):
            raise ValueError("give start and end dates, or a text such as 'this quarter'")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError("start must be on or before end")
        return self


@dataclass(frozen=True)
class Span:
    start: date
    end: date
    label: str


def _span(ctx: ToolContext, period: PeriodArg | None, field_name: str = "period") -> Span | None:
    if period is None:
        return None
    if period.start is not None and period.end is not None:
        words = f"{period.start.isoformat()} to {period.end.isoformat()}"
        return Span(period.start, period.end, f"{period.text}: {words}" if period.text else words)
    found = timeexpr.find(period.text or "", today=ctx.today, fiscal_start_month=ctx.fiscal_start_month, tz=ctx.tz)
    if found is None:
        raise ValidationFailed(
            f"Invalid {field_name}: {period.text!r} is not a period I understand; give dates or e.g. 'this quarter'",
            details=[{"field": field_name, "message": "not a time expression"}],
        )
    return Span(found.start, found.end, f"{found.text}: {found.label}")


FilterOp = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "is_null", "not_null", "contains"]


class FilterArg(Args):
    field: str = Field(
        min_length=1,
        max_length=63,
        description="A report field of the measure's records, e.g. deals: stage, pipeline, owner, team, industry, "
        "lead_source, country, amount, probability, status, lost_reason, account; activities: type, outcome; "
        "contacts: lifecycle_stage, lead_status, lead_source; tasks: status, priority.",
    )
    op: FilterOp = Field("eq", description="Comparison; `in`/`not_in` take a list, `between` a [from, to] list.")
    value: Any = Field(None, description="The value (typed as the field: a number for amounts, a date for dates).")


Measure = Literal[
    "count_deals",
    "pipeline_amount",
    "weighted_pipeline",
    "won_amount",
    "lost_amount",
    "avg_deal_size",
    "win_rate",
    "cycle_time",
    "conversion",
    "stage_conversion",
    "count_activities",
    "count_contacts",
    "count_accounts",
    "count_tasks",
]
GroupKey = Literal[
    "owner",
    "team",
    "stage",
    "pipeline",
    "lead_source",
    "industry",
    "country",
    "activity_type",
    "status",
    "lost_reason",
    "priority",
    "lifecycle_stage",
    "week",
    "month",
    "quarter",
    "year",
]
DateField = Literal["created", "closed", "expected_close", "occurred", "due", "completed", "snapshot"]

MEASURE_HELP = (
    "count_deals: deals; pipeline_amount / weighted_pipeline: open deals' amount / amount x probability; "
    "won_amount, lost_amount: amount of won / lost deals; avg_deal_size: average won amount; win_rate: won / "
    "closed (won + lost); cycle_time: average days from creation to a win; conversion: share of contacts (leads) "
    "that became opportunities or customers; stage_conversion: per open stage, the share of closed deals reaching "
    "it that went on (funnel); count_activities, count_contacts, count_accounts, count_tasks."
)


class MetricArgs(Args):
    measure: Measure = Field(description=MEASURE_HELP)
    period: PeriodArg | None = Field(None, description="Only records whose date (see date_field) is in this span.")
    date_field: DateField | None = Field(
        None,
        description="Which date the period applies to. Default per measure: closed for won/lost/win rate/average "
        "deal/cycle time/stage conversion, expected_close for pipeline, created for deal/contact/account counts "
        "and conversion, occurred for activities, due for tasks. snapshot (pipeline measures only): the pipeline "
        "as it stood at the end of the period (from daily snapshots) instead of deals expected to close in it.",
    )
    group_by: GroupKey | None = Field(None, description="Break the figure down by this (week..year: time buckets).")
    filters: list[FilterArg] = Field(default_factory=list, max_length=20, description="Extra conditions (all apply).")
    owner: str | None = Field(
        None, description="'me' for the user's own records, or a user id; none: every record the user may see."
    )
    top: int = Field(25, ge=1, le=200, description="At most this many groups (the largest first).")


# Measures ----------------------------------------------------------------------------------------------------

Kind = Literal["money", "count", "rate", "days"]
_OPEN = {"field": "status", "value": "open"}
_WON = {"field": "status", "value": "won"}
_LOST = {"field": "status", "value": "lost"}
_CLOSED = {"field": "is_closed", "value": True}
CONVERTED_STAGES = ("opportunity", "customer", "evangelist")


@dataclass(frozen=True)
class MeasureDef:
    key: str
    label: str
    entity: str
    kind: Kind
    default_date: str
    aggregations: list[dict[str, Any]]  # the first is the measure's value
    filters: list[dict[str, Any]] = field(default_factory=list)
    definition: str = ""


_COUNT = {"fn": "count", "name": "value", "label": "Count"}
MEASURES: dict[str, MeasureDef] = {
    m.key: m
    for m in (
        MeasureDef("count_deals", "Deals", "deals", "count", "created", [{**_COUNT, "label": "Deals"}]),
        MeasureDef(
            "pipeline_amount",
            "Open pipeline",
            "deals",
            "money",
            "expected_close",
            [
                {"fn": "sum", "field": "amount", "name": "value", "label": "Open pipeline"},
                {"fn": "count", "name": "deals", "label": "Deals"},
            ],
            [_OPEN],
            "Amount of open deals",
        ),
        MeasureDef(
            "weighted_pipeline",
            "Weighted pipeline",
            "deals",
            "money",
            "expected_close",
            [
                {"fn": "sum", "field": "weighted_amount", "name": "value", "label": "Weighted pipeline"},
                {"fn": "sum", "field": "amount", "name": "amount", "label": "Amount"},
                {"fn": "count", "name": "deals", "label": "Deals"},
            ],
            [_OPEN],
            "Open deals' amount x their probability",
        ),
        MeasureDef(
            "won_amount",
            "Won amount",
            "deals",
            "money",
            "closed",
            [
                {"fn": "sum", "field": "amount", "name": "value", "label": "Won amount"},
                {"fn": "count", "name": "deals", "label": "Won deals"},
            ],
            [_WON],
            "Amount of won deals",
        ),
        MeasureDef(
            "lost_amount",
            "Lost amount",
            "deals",
            "money",
            "closed",
            [
                {"fn": "sum", "field": "amount", "name": "value", "label": "Lost amount"},
                {"fn": "count", "name": "deals", "label": "Lost deals"},
            ],
            [_LOST],
            "Amount of lost deals",
        ),
        MeasureDef(
            "avg_deal_size",
            "Average deal size",
            "deals",
            "money",
            "closed",
            [
                {"fn": "avg", "field": "amount", "name": "value", "label": "Average won deal"},
                {"fn": "count", "name": "deals", "label": "Won deals"},
            ],
            [_WON],
            "Average amount of won deals",
        ),
        MeasureDef(
            "win_rate",
            "Win rate",
            "deals",
            "rate",
            "closed",
            [
                {"fn": "avg", "field": "is_won", "name": "value", "label": "Win rate"},
                {"fn": "sum", "field": "is_won", "name": "won", "label": "Won"},
                {"fn": "count", "name": "closed", "label": "Closed deals"},
            ],
            [_CLOSED],
            "Won deals out of closed (won + lost) deals",
        ),
        MeasureDef(
            "cycle_time",
            "Sales cycle",
            "deals",
            "days",
            "closed",
            [
                {"fn": "avg", "field": "cycle_days", "name": "value", "label": "Average days to win"},
                {"fn": "count", "name": "deals", "label": "Won deals"},
            ],
            [_WON],
            "Average days from creation to close of won deals",
        ),
        MeasureDef(
            "conversion",
            "Lead conversion",
            "contacts",
            "rate",
            "created",
            [{"fn": "count", "name": "contacts", "label": "Contacts"}],
            [],
            "Contacts that became opportunities or customers (lifecycle stage opportunity, customer or evangelist) "
            "out of all contacts",
        ),
        MeasureDef(
            "stage_conversion",
            "Stage conversion",
            "deal_funnel",
            "rate",
            "closed",
            [
                {"fn": "avg", "field": "advanced", "name": "value", "label": "Stage conversion"},
                {"fn": "count", "name": "reached", "label": "Deals reaching the stage"},
                {"fn": "sum", "field": "advanced", "name": "advanced", "label": "Went on"},
            ],
            [{"field": "deal_status", "op": "in", "value": ["won", "lost"]}],
            "Closed deals by the open stages they reached: the share that went on to the next stage or to a win",
        ),
        MeasureDef(
            "count_activities", "Activities", "activities", "count", "occurred", [{**_COUNT, "label": "Activities"}]
        ),
        MeasureDef("count_contacts", "Contacts", "contacts", "count", "created", [{**_COUNT, "label": "Contacts"}]),
        MeasureDef("count_accounts", "Accounts", "accounts", "count", "created", [{**_COUNT, "label": "Accounts"}]),
        MeasureDef("count_tasks", "Tasks", "tasks", "count", "due", [{**_COUNT, "label": "Tasks"}]),
    )
}

# The pipeline as it stood at the end of a day: the warehouse's daily snapshot of open deals.
SNAPSHOT_MEASURES: dict[str, MeasureDef] = {
    key: MeasureDef(
        key,
        MEASURES[key].label,
        "pipeline_snapshot",
        "money",
        "snapshot",
        MEASURES[key].aggregations,
        [],
        f"{MEASURES[key].definition}, as they stood at the end of the day",
    )
    for key in ("pipeline_amount", "weighted_pipeline")
}

# Which catalogue field each date word means, per entity.
DATE_FIELDS: dict[str, dict[str, str]] = {
    "deals": {"created": "created_date", "closed": "actual_close_date", "expected_close": "expected_close_date"},
    "deal_funnel": {"created": "created_date", "closed": "actual_close_date"},
    "activities": {"occurred": "occurred_date"},
    "contacts": {"created": "created_date"},
    "accounts": {"created": "created_date"},
    "tasks": {"due": "due_date", "completed": "completed_date", "created": "created_at"},
    "pipeline_snapshot": {"snapshot": "snapshot_date"},
}
DATE_WORDS = {
    "created": "by creation date",
    "closed": "by close date",
    "expected_close": "by expected close date",
    "occurred": "by the date they happened",
    "due": "by due date",
    "completed": "by completion date",
    "snapshot": "as the pipeline stood at the end of the period",
}
# Which catalogue field each grouping means (the same name unless listed).
GROUP_FIELDS: dict[str, str] = {"activity_type": "type"}
GROUP_OVERRIDES: dict[tuple[str, str], str] = {("tasks", "owner"): "assignee", ("contacts", "status"): "lead_status"}
BUCKETS = ("week", "month", "quarter", "year")
OWNER_FIELD = {"tasks": "assignee_id"}


def _field_error(where: str, text: str) -> ValidationFailed:
    return ValidationFailed(text, details=[{"field": where, "message": text}])


def _date_field(measure: MeasureDef, date_field: str | None) -> tuple[str, str]:
    """(date word, catalogue field) the period applies to."""
    word = date_field or measure.default_date
    fields = DATE_FIELDS[measure.entity]
    if word not in fields:
        raise _field_error(
            "date_field",
            f"{measure.key} has no {word!r} date; use one of: {', '.join(fields)}",
        )
    return word, fields[word]


def _group_field(measure: MeasureDef, group: str) -> str:
    name = GROUP_OVERRIDES.get((measure.entity, group), GROUP_FIELDS.get(group, group))
    catalogue = ENTITIES[measure.entity].fields
    if name not in catalogue or not catalogue[name].groupable:
        usable = [
            g
            for g in GroupKey.__args__  # type: ignore[attr-defined]
            if g not in BUCKETS
            and (f := GROUP_OVERRIDES.get((measure.entity, g), GROUP_FIELDS.get(g, g))) in catalogue
            and catalogue[f].groupable
        ]
        raise _field_error(
            "group_by",
            f"{measure.key} cannot be grouped by {group}; group it by {', '.join([*usable, *BUCKETS])}",
        )
    return name


def _owner_filter(ctx: ToolContext, entity: str, owner: str | None) -> list[dict[str, Any]]:
    if owner is None:
        return []
    if owner.strip().lower() in ("me", "mine", "my"):
        if ctx.actor.user_id is None:
            raise _field_error("owner", "'me' needs a signed-in user")
        owner_id = ctx.actor.user_id
    else:
        try:
            owner_id = UUID(owner)
        except ValueError:
            raise _field_error("owner", f"owner must be 'me' or a user id, not {owner!r}") from None
    return [{"field": OWNER_FIELD.get(entity, "owner_id"), "value": str(owner_id)}]


@dataclass
class Figure:
    """One metric computed: the value (ungrouped) or rows (grouped), and what it was."""

    measure: MeasureDef
    value: Any
    rows: list[dict[str, Any]]  # grouped: {"group": ..., "value": ..., extra columns}
    extra: list[tuple[str, str]]  # (key, label) of the extra columns
    group_label: str | None
    group_key: str | None
    date_word: str
    words: list[str]  # filters in words (with the scope's)
    scope: list[str]
    truncated: bool = False
    group_count: int = 0
    as_of: date | None = None


def _cell(value: Any) -> Any:
    return charts.json_value(value)


def _round(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "money":
        return float(Decimal(str(value)).quantize(Decimal("0.01")))
    if kind == "rate":
        return round(float(value), 4)
    if kind == "days":
        return round(float(value), 1)
    return int(value)


def _run(ctx: ToolContext, spec: dict[str, Any]) -> reports.ReportRun:
    ctx.actor.require(reports.REPORTS, "read")
    return reports.run_spec(ctx.session, ctx.actor, spec, today=ctx.today)


def _last_snapshot_day(ctx: ToolContext) -> date:
    """The newest day the warehouse holds a snapshot of (the last load's day in the tenant's timezone)."""
    published = warehouse.current(ctx.actor.tenant_id)
    if published is None:
        return ctx.today
    tz = analytics.tenant_timezone(ctx.session, ctx.actor)
    return min(ctx.today, published.built_at.astimezone(zone(tz)).date())


def compute(ctx: ToolContext, args: MetricArgs, span: Span | None) -> Figure:
    """Run the measure over the span (on its date field), grouped and filtered as asked."""
    measure = MEASURES[args.measure]
    as_of = None
    if args.date_field == "snapshot":
        if measure.key not in SNAPSHOT_MEASURES:
            raise _field_error("date_field", "snapshot applies to pipeline_amount and weighted_pipeline only")
        measure = SNAPSHOT_MEASURES[measure.key]
    date_word, date_name = _date_field(measure, args.date_field)
    filters: list[dict[str, Any]] = [f.model_dump() for f in args.filters]
    filters += measure.filters
    if date_word == "snapshot":
        last = _last_snapshot_day(ctx)
        as_of = min(span.end, last) if span is not None else last
        filters.append({"field": date_name, "value": as_of.isoformat()})
    elif span is not None:
        filters.append({"field": date_name, "op": "between", "value": [span.start.isoformat(), span.end.isoformat()]})
    filters += _owner_filter(ctx, measure.entity, args.owner)
    group_by: list[dict[str, Any]] = []
    group_key = group_label = None
    order_key: str | None = None
    group: str | None = args.group_by
    if measure.key == "stage_conversion" and group not in (None, "stage"):
        raise _field_error("group_by", "stage_conversion is always per stage")
    if measure.key == "stage_conversion":
        group = "stage"
    if group in BUCKETS:
        group_key, group_label = group, group.title()
        group_by = [{"field": date_name, "bucket": group, "name": group}]
    elif group is not None:
        name = _group_field(measure, group)
        group_key, group_label = name, ENTITIES[measure.entity].fields[name].label
        if name == "stage":
            group_by = [{"field": "pipeline"}, {"field": "stage_order"}, {"field": "stage"}]
            order_key = "stage_order"
        else:
            group_by = [{"field": name}]
    spec: dict[str, Any] = {
        "entity": measure.entity,
        "filters": filters,
        "aggregations": measure.aggregations,
        "limit": 10_000,
    }
    if group_by:
        spec["groupBy"] = group_by
    run = _run(ctx, spec)
    rows = list(run.result.frame.iter_rows(named=True))
    extra = [(a["name"], a["label"]) for a in measure.aggregations[1:]]
    if measure.key == "conversion":
        converted = _run(
            ctx,
            {
                **spec,
                "filters": [*filters, {"field": "lifecycle_stage", "op": "in", "value": list(CONVERTED_STAGES)}],
                "aggregations": [{"fn": "count", "name": "converted", "label": "Converted"}],
            },
        )
        keys = [g.get("name") or g["field"] for g in group_by]
        done = {tuple(r[k] for k in keys): r["converted"] for r in converted.result.frame.iter_rows(named=True)}
        for row in rows:
            row["converted"] = done.get(tuple(row[k] for k in keys), 0)
            row["value"] = row["converted"] / row["contacts"] if row["contacts"] else None
        extra = [("converted", "Converted"), ("contacts", "Contacts")]
    kind = measure.kind
    words, scope = run.filters, run.scope
    if not group_by:
        row = rows[0] if rows else {}
        value = row.get("value")
        if value is None and kind in ("money", "count"):
            value = 0
        figure = Figure(measure, _round(value, kind), [], extra, None, None, date_word, words, scope, as_of=as_of)
        figure.rows = [{k: row.get(k) for k, _ in extra}] if row else []
        return figure
    shown = []
    for row in rows:
        value = row.get("value")
        if value is None and kind in ("money", "count"):
            value = 0
        label = row[group_key] if group_key in row else None
        if label is None:
            label = "(none)"
        item = {"group": _cell(label), "value": _round(value, kind)}
        for key, _ in extra:
            item[key] = _cell(row.get(key))
        item["_order"] = (row.get("pipeline") or "", row.get(order_key) or 0) if order_key else None
        if group_key == "stage" and len({r.get("pipeline") for r in rows}) > 1:
            item["group"] = f"{row.get('pipeline')}: {label}"
        shown.append(item)
    if group in BUCKETS:
        shown.sort(key=lambda r: r["group"] or "")
    elif order_key:
        shown.sort(key=lambda r: r["_order"])
    else:
        shown.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0), str(r["group"])))
    for item in shown:
        item.pop("_order", None)
    count = len(shown)
    return Figure(
        measure,
        None,
        shown[: args.top],
        extra,
        group_label,
        group,
        date_word,
        words,
        scope,
        truncated=count > args.top,
        group_count=count,
        as_of=as_of,
    )


def _currency(ctx: ToolContext) -> str:
    """The workspace currency (money figures are in it), once per request."""
    if "currency" not in ctx.memo:
        ctx.memo["currency"] = forecasts.tenant_currency(ctx.session, ctx.actor)
    return str(ctx.memo["currency"])


def _scope_words(scope: list[str]) -> str:
    return "; ".join(scope) if scope else "All records you may see"


def _facts(ctx: ToolContext, figure: Figure, span: Span | None) -> dict[str, Any]:
    m = figure.measure
    facts: dict[str, Any] = {
        "measure": m.key,
        "label": m.label,
        "kind": m.kind,
        "definition": m.definition or m.label,
        "value": figure.value,
        "period": span.label if span else "all time",
        "date_field": figure.date_word,
        "date_words": DATE_WORDS[figure.date_word] if span else None,
        "grouped_by": figure.group_key,
        "filters": figure.words,
        "scope": _scope_words(figure.scope),
    }
    if figure.group_key is None and figure.rows:
        for key, _ in figure.extra:
            facts[key] = _cell(figure.rows[0].get(key))
    if figure.group_key is not None:
        facts["groups"] = figure.group_count
    if m.kind == "money":
        facts["currency"] = _currency(ctx)
    if figure.as_of is not None:
        facts["as_of"] = figure.as_of.isoformat()
        facts["date_words"] = f"as the pipeline stood at the end of {figure.as_of.isoformat()}"
    return facts


def _table(figure: Figure, *, with_extra: bool = True) -> Table:
    extra = figure.extra if with_extra else []
    return Table(
        columns=[figure.group_label or "Group", figure.measure.label, *(label for _, label in extra)],
        keys=["group", "value", *(key for key, _ in extra)],
        rows=[[r["group"], r["value"], *(r.get(key) for key, _ in extra)] for r in figure.rows],
        total=figure.group_count if figure.truncated else None,
    )


def _chart(figure: Figure, title: str) -> Chart:
    return Chart(type="line" if figure.group_key in BUCKETS else "bar", x="group", y="value", title=title)


@tool(
    "metric",
    "A CRM figure over the user's records, optionally for a period, grouped and filtered: deal counts, open or "
    "weighted pipeline, won or lost amount, average deal size, win rate, sales cycle, lead or stage conversion, "
    "activity/contact/account/task counts. Computed exactly as the dashboards compute it, within the user's scope.",
    MetricArgs,
)
def metric(ctx: ToolContext, args: MetricArgs) -> ToolResult:
    span = _span(ctx, args.period)
    figure = compute(ctx, args, span)
    facts = _facts(ctx, figure, span)
    if figure.group_key is None:
        return ToolResult(facts=facts, value=figure.value)
    title = f"{figure.measure.label} by {(figure.group_label or '').lower()}"
    return ToolResult(facts=facts, table=_table(figure), chart=_chart(figure, title))


# Comparing periods ---------------------------------------------------------------------------------------------


class CompareArgs(Args):
    measure: Measure = Field(description=MEASURE_HELP)
    period_a: PeriodArg = Field(description="The period of interest (e.g. this quarter).")
    period_b: PeriodArg | None = Field(
        None, description="The period to compare it with (e.g. last quarter); default: as many days just before."
    )
    date_field: DateField | None = Field(None, description="Which date the periods apply to (default per measure).")
    group_by: GroupKey | None = Field(None, description="Compare group by group (not by time buckets).")
    filters: list[FilterArg] = Field(default_factory=list, max_length=20, description="Extra conditions (all apply).")
    owner: str | None = Field(None, description="'me' for the user's own records, or a user id.")
    top: int = Field(25, ge=1, le=200, description="At most this many groups.")


def _change(a: Any, b: Any, kind: str) -> tuple[Any, float | None]:
    if a is None or b is None:
        return None, None
    change = _round(Decimal(str(a)) - Decimal(str(b)), kind) if kind == "money" else _round(a - b, kind)
    pct = round((float(a) - float(b)) / float(b) * 100, 1) if b else None
    return change, pct


@tool(
    "compare_periods",
    "One CRM figure (see metric) in two periods side by side: each value, the change and the change in percent; "
    "per group when grouped.",
    CompareArgs,
)
def compare_periods(ctx: ToolContext, args: CompareArgs) -> ToolResult:
    span_a = _span(ctx, args.period_a, "period_a")
    assert span_a is not None
    span_b = _span(ctx, args.period_b, "period_b")
    if span_b is None:
        days = (span_a.end - span_a.start).days + 1
        start, end = span_a.start - timedelta(days=days), span_a.start - timedelta(days=1)
        span_b = Span(start, end, f"the {days} days before: {start.isoformat()} to {end.isoformat()}")
    if args.group_by in BUCKETS:
        raise _field_error("group_by", "compare periods by owner, team, stage...; time buckets differ between periods")
    base = args.model_dump(exclude={"period_a", "period_b"})
    metric_args = MetricArgs.model_validate({**base, "top": 200})
    a = compute(ctx, metric_args, span_a)
    b = compute(ctx, metric_args, span_b)
    kind = a.measure.kind
    facts = _facts(ctx, a, span_a)
    facts.pop("value")
    facts.pop("period")
    change, pct = _change(a.value, b.value, kind)
    facts |= {
        "period_a": span_a.label,
        "period_b": span_b.label,
        "a": a.value,
        "b": b.value,
        "change": change,
        "change_pct": pct,
    }
    if b.as_of is not None:
        facts["as_of_b"] = b.as_of.isoformat()
    if a.group_key is None:
        return ToolResult(facts=facts, value=a.value)
    before = {r["group"]: r["value"] for r in b.rows}
    groups = [r["group"] for r in a.rows] + [g for g in before if g not in {r["group"] for r in a.rows}]
    now = {r["group"]: r["value"] for r in a.rows}
    rows = []
    for g in groups:
        va, vb = now.get(g), before.get(g)
        if kind in ("money", "count"):
            va, vb = va or 0, vb or 0
        c, p = _change(va, vb, kind)
        rows.append([g, va, vb, c, p])
    if a.group_key not in ("stage",):
        rows.sort(key=lambda r: (r[1] is None, -(r[1] or 0), str(r[0])))
    total = len(rows)
    table = Table(
        columns=[a.group_label or "Group", f"{a.measure.label} (A)", f"{a.measure.label} (B)", "Change", "Change %"],
        keys=["group", "a", "b", "change", "change_pct"],
        rows=rows[: args.top],
        total=total if total > args.top else None,
    )
    facts["groups"] = total
    return ToolResult(facts=facts, table=table, chart=Chart(type="bar", x="group", y="change", title="Change"))


# Lost reasons ------------------------------------------------------------------------------------------------------


class LostReasonsArgs(Args):
    period: PeriodArg | None = Field(None, description="Deals lost (closed) in this span; none: all lost deals.")
    filters: list[FilterArg] = Field(default_factory=list, max_length=20, description="Extra conditions on deals.")
    owner: str | None = Field(None, description="'me' for the user's own deals, or a user id.")


@tool(
    "lost_reasons",
    "Why deals were lost: lost deals by the reason given, with how many, their amount and their share.",
    LostReasonsArgs,
)
def lost_reasons(ctx: ToolContext, args: LostReasonsArgs) -> ToolResult:
    span = _span(ctx, args.period)
    filters: list[dict[str, Any]] = [f.model_dump() for f in args.filters]
    filters.append(_LOST)
    if span is not None:
        filters.append(
            {"field": "actual_close_date", "op": "between", "value": [span.start.isoformat(), span.end.isoformat()]}
        )
    filters += _owner_filter(ctx, "deals", args.owner)
    run = _run(
        ctx,
        {
            "entity": "deals",
            "filters": filters,
            "groupBy": [{"field": "lost_reason"}],
            "aggregations": [
                {"fn": "count", "name": "deals", "label": "Lost deals"},
                {"fn": "sum", "field": "amount", "name": "amount", "label": "Lost amount"},
            ],
            "limit": 10_000,
        },
    )
    rows = list(run.result.frame.iter_rows(named=True))
    total = sum(int(r["deals"]) for r in rows)
    amount = sum((Decimal(r["amount"] or 0) for r in rows), Decimal(0))
    out = [
        [
            r["lost_reason"] or "(no reason given)",
            int(r["deals"]),
            _round(r["amount"] or 0, "money"),
            round(int(r["deals"]) / total, 4) if total else None,
        ]
        for r in rows
    ]
    out.sort(key=lambda r: (-r[1], -r[2], r[0]))
    facts = {
        "label": "Lost reasons",
        "lost_deals": total,
        "lost_amount": _round(amount, "money"),
        "currency": _currency(ctx),
        "top_reason": out[0][0] if out else None,
        "period": span.label if span else "all time",
        "date_words": DATE_WORDS["closed"] if span else None,
        "filters": run.filters,
        "scope": _scope_words(run.scope),
    }
    table = Table(
        columns=["Reason", "Lost deals", "Lost amount", "Share"], keys=["reason", "deals", "amount", "share"], rows=out
    )
    return ToolResult(facts=facts, table=table, chart=Chart(type="pie", x="reason", y="deals", title="Lost reasons"))


# Forecasts ---------------------------------------------------------------------------------------------------------

Level = Literal["company", "tenant", "team", "rep", "user"]
HOW_TO_RUN = (
    "Forecasts are made every night by the worker; a manager or admin can run them now from the Forecasts page "
    "or with POST /api/v1/forecasts/run."
)


class ForecastArgs(Args):
    period: PeriodArg | None = Field(
        None,
        description="A month, a (fiscal) quarter or a (fiscal) year, e.g. text 'this quarter', 'next month', "
        "'this year'; default: the current quarter.",
    )
    level: Level | None = Field(
        None,
        description="company (the whole workspace), team or rep; default: the user's own level (company for "
        "all-records roles, their team for managers, themselves for reps).",
    )
    id: UUID | None = Field(None, description="The team's or rep's id (default: the user's own team or self).")


def _forecast_period(ctx: ToolContext, span: Span | None) -> tuple[str, date, date]:
    fsm = ctx.fiscal_start_month
    if span is None:
        quarter = period_of("quarter", ctx.today, fsm)
        return "quarter", quarter.start, quarter.end
    for kind in ("month", "quarter", "year"):
        p = period_of(kind, span.start, fsm)
        if (p.start, p.end) == (span.start, span.end):
            return kind, p.start, p.end
    raise _field_error(
        "period",
        f"Forecasts are made for whole months, quarters and fiscal years; {span.label} is none of these",
    )


def _level(ctx: ToolContext, level: str | None, subject: UUID | None) -> tuple[str, UUID | None, UUID | None]:
    """(stored level, team id, user id)."""
    actor = ctx.actor
    if level in ("tenant", "company"):
        return "company", None, None
    if level == "team":
        team = subject or actor.team_id
        if team is None:
            raise _field_error("id", "which team? give the team's id (you are in no team)")
        return "team", team, None
    if level in ("rep", "user"):
        user = subject or actor.user_id
        if user is None:
            raise _field_error("id", "which rep? give the rep's id")
        return "rep", None, user
    if actor.scope == "all":
        return "company", None, None
    if actor.scope == "team" and actor.team_id is not None:
        return "team", actor.team_id, None
    if actor.user_id is None:
        raise _field_error("level", "give a level: company, team or rep")
    return "rep", None, actor.user_id


def _money(value: Any) -> float | None:
    return None if value is None else _round(value, "money")


def _forecast_summary(facts: dict[str, Any]) -> str:
    def m(value: Any) -> str:
        return f"{facts['currency']} {value:,.0f}" if value is not None else "unknown"

    who = facts["subject"] or facts["level"]
    text = (
        f"Expected revenue for {facts['period']} ({who}): {m(facts['expected'])}, 80% range {m(facts['low_80'])} "
        f"to {m(facts['high_80'])} (95%: {m(facts['low_95'])} to {m(facts['high_95'])}); booked so far "
        f"{m(facts['booked'])}. Made on {facts['forecast_date']}"
    )
    if facts["model"]:
        text += f" by {facts['model']}"
    text += "."
    if facts["accuracy"]:
        text += f" {facts['accuracy']}"
    return text


@tool(
    "forecast",
    "The stored revenue forecast for a month, quarter or fiscal year at company, team or rep level: expected "
    "revenue with its 80% and 95% intervals, what is booked, the back-tested accuracy and the model that made it.",
    ForecastArgs,
)
def forecast(ctx: ToolContext, args: ForecastArgs) -> ToolResult:
    span = _span(ctx, args.period)
    kind, start, end = _forecast_period(ctx, span)
    level, team_id, user_id = _level(ctx, args.level, args.id)
    rows, _ = forecasts.list_forecasts(
        ctx.session,
        ctx.actor,
        level=level,
        period=kind,
        team_id=team_id,
        user_id=user_id,
        period_start=start,
        pick="latest",
        limit=5,
    )
    if level == "team":  # team_id also keeps the team's reps: the team's own row
        rows = [r for r in rows if r.level == "team"]
    label = period_of(kind, start, ctx.fiscal_start_month).label(ctx.fiscal_start_month)
    if not rows:
        return ToolResult(
            ok=False,
            error=f"The {level} forecast for {label} ({start.isoformat()} to {end.isoformat()}) has not been run "
            f"yet (or it is outside what you may see). {HOW_TO_RUN}",
            facts={"period": label, "level": level, "how_to_run": HOW_TO_RUN},
        )
    f = rows[0]
    backtest = f.backtest or {}
    model_name = None
    if f.model_id is not None:
        from ai.models import registry

        try:
            model = registry.get(ctx.session, ctx.actor, f.model_id)
            model_name = f"{model.algorithm or model.model_type} (version {model.version})"
        except NotFound:
            model_name = None
    details = f.details or {}
    facts = {
        "label": "Revenue forecast",
        "period": f"{label}: {start.isoformat()} to {end.isoformat()}",
        "period_kind": kind,
        "level": level,
        "subject": details.get("subjectName") or ("Company" if level == "company" else None),
        "currency": f.currency,
        "expected": _money(f.forecasted_revenue),
        "low_80": _money(f.confidence_interval_low),
        "high_80": _money(f.confidence_interval_high),
        "low_95": _money(f.confidence_interval_low_95),
        "high_95": _money(f.confidence_interval_high_95),
        "booked": _money(f.booked_revenue),
        "pipeline": _money(f.pipeline_revenue),
        "run_rate": _money(f.run_rate_revenue),
        "forecast_date": f.forecast_date.isoformat(),
        "model": model_name,
        "run_rate_model": details.get("runRateModel"),
        "mape": backtest.get("meanAbsolutePercentageError"),
        "coverage_80": backtest.get("coverage80"),
        "coverage_95": backtest.get("coverage95"),
        "backtest_periods": backtest.get("periods"),
        "accuracy": backtest.get("sentence"),
    }
    facts["summary"] = _forecast_summary(facts)
    points = backtest.get("points") or []
    table = None
    if points:
        table = Table(
            columns=["Period start", "Forecast", "Low 80%", "High 80%", "Actual"],
            keys=["period_start", "forecast", "low_80", "high_80", "actual"],
            rows=[
                [p.get("periodStart"), p.get("forecast"), p.get("low80"), p.get("high80"), p.get("actual")]
                for p in points
            ],
        )
    return ToolResult(facts=facts, value=facts["expected"], table=table)
