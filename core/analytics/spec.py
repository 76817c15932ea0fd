"""The report spec: what a report asks of the warehouse, declared as data and validated before anything runs.

A spec names an entity (deals, stage_history, activities, ...), then either the `columns` to list, or
`groupBy` fields and `aggregations` over them; `filters`, `sort`, `limit` and a `chart` complete it. Every
field is a name from the FIELD CATALOGUE below (per entity: type, label, what it may be used for), never a
column or an expression: the builder (etl/reports/builder.py) owns the whitelist that maps each catalogue field
to SQL, and binds every value as a parameter. This module holds no SQL, so the UI, the API and the assistant
can validate and describe a spec without a warehouse.

Values in filters are typed against their field (a number for money, a UUID for an id, a date for a date...);
date and timestamp fields also take a named period (`last_30_days`, `this_quarter`, `ytd`, ...), resolved
against "today" in the tenant's timezone when the report runs, so a saved report keeps meaning "this quarter".
Errors name the path and what to fix: `groupBy[0].field: 'colour' is not a field of deals; fields: ...`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StrictBool, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from core.errors import ValidationFailed
from core.schemas import PlainText, Schema

FieldType = Literal["text", "number", "money", "integer", "boolean", "date", "timestamp", "id"]
# What a result column holds: a field's type, or `rate` (a fraction 0..1: the average of a boolean).
ColumnType = Literal["text", "number", "money", "integer", "boolean", "date", "timestamp", "id", "rate"]
EntityName = Literal[
    "deals", "stage_history", "activities", "tasks", "contacts", "accounts", "pipeline_snapshot", "deal_funnel"
]
Op = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "is_null", "not_null", "contains"]
AggregateFn = Literal["count", "count_distinct", "sum", "avg", "min", "max", "median"]
Bucket = Literal["day", "week", "month", "quarter", "year"]
ChartType = Literal["table", "bar", "line", "pie", "funnel", "metric"]
Direction = Literal["asc", "desc"]

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 10_000
MAX_LIST_VALUES = 1_000
MAX_TEXT_VALUE = 1_000
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"  # output column names: they become quoted SQL aliases

NUMERIC: frozenset[str] = frozenset({"number", "money", "integer"})
TEMPORAL: frozenset[str] = frozenset({"date", "timestamp"})
ORDERED: frozenset[str] = NUMERIC | TEMPORAL


# The field catalogue --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueField:
    """A field a report may use. `groupable`: may be a group (timestamps only with a bucket); `filterable`:
    may be filtered on; `aggregatable`: sum/avg/min/max/median apply (count and count_distinct apply to all)."""

    name: str
    type: FieldType
    label: str
    groupable: bool = True
    filterable: bool = True
    aggregatable: bool = False


@dataclass(frozen=True)
class Entity:
    name: str
    label: str
    fields: dict[str, CatalogueField]
    default_columns: tuple[str, ...]

    def field_names(self) -> str:
        return ", ".join(self.fields)


def _fields(*rows: tuple[Any, ...]) -> dict[str, CatalogueField]:
    """Rows of (name, type, label[, flags]): flags is a string of g (groupable), f (filterable), a (aggregatable);
    without it, the type's usual: text, boolean, date, integer and id group; numbers and booleans aggregate."""
    out = {}
    for name, kind, label, *flags in rows:
        if flags:
            g, f, a = ("g" in flags[0]), ("f" in flags[0]), ("a" in flags[0])
        else:
            g = kind in ("text", "boolean", "date", "timestamp", "integer", "id")
            f = True
            a = kind in ("number", "money", "integer", "boolean")
        out[name] = CatalogueField(name, kind, label, groupable=g, filterable=f, aggregatable=a)
    return out


_OWNER = (
    ("owner", "text", "Owner"),
    ("owner_email", "text", "Owner email"),
    ("owner_id", "id", "Owner ID"),
    ("team", "text", "Team"),
)

ENTITIES: dict[str, Entity] = {
    "deals": Entity(
        "deals",
        "Deals",
        _fields(
            ("deal_id", "id", "Deal ID"),
            ("name", "text", "Deal"),
            *_OWNER,
            ("pipeline", "text", "Pipeline"),
            ("stage", "text", "Stage"),
            ("stage_order", "integer", "Stage order", "gf"),
            ("account", "text", "Account"),
            ("industry", "text", "Industry"),
            ("company_size", "text", "Company size"),
            ("country", "text", "Country"),
            ("contact", "text", "Contact"),
            ("lead_source", "text", "Lead source"),
            ("status", "text", "Status"),
            ("is_closed", "boolean", "Closed"),
            ("is_won", "boolean", "Won"),
            ("is_lost", "boolean", "Lost"),
            ("lost_reason", "text", "Lost reason"),
            ("amount", "money", "Amount"),
            ("weighted_amount", "money", "Weighted amount"),
            ("currency", "text", "Currency"),
            ("probability", "integer", "Probability (%)", "gfa"),
            ("created_at", "timestamp", "Created at"),
            ("created_date", "date", "Created"),
            ("expected_close_date", "date", "Expected close"),
            ("actual_close_date", "date", "Closed on"),
            ("stage_entered_at", "timestamp", "Entered stage at"),
            ("days_in_stage", "integer", "Days in stage", "gfa"),
            ("cycle_days", "integer", "Sales cycle (days)", "gfa"),
            ("is_rotting", "boolean", "Rotting"),
            ("activity_count", "integer", "Activities", "gfa"),
        ),
        ("name", "owner", "stage", "amount", "status", "expected_close_date"),
    ),
    "stage_history": Entity(
        "stage_history",
        "Deal stage changes",
        _fields(
            ("history_id", "id", "Change ID"),
            ("deal_id", "id", "Deal ID"),
            ("deal", "text", "Deal"),
            ("deal_status", "text", "Deal status"),
            ("pipeline", "text", "Pipeline"),
            ("stage", "text", "Stage"),
            ("stage_order", "integer", "Stage order", "gf"),
            ("stage_is_closed", "boolean", "Closed stage"),
            ("stage_is_won", "boolean", "Won stage"),
            ("from_stage", "text", "From stage"),
            ("changed_at", "timestamp", "Changed at"),
            ("changed_date", "date", "Changed on"),
            ("changed_by", "text", "Changed by"),
            *_OWNER,
            ("amount", "money", "Amount"),
            ("probability", "integer", "Probability (%)", "gfa"),
            ("left_at", "timestamp", "Left stage at"),
            ("is_current", "boolean", "Still in stage"),
            ("days_in_stage", "number", "Days in stage"),
        ),
        ("deal", "from_stage", "stage", "changed_at", "owner", "days_in_stage"),
    ),
    "activities": Entity(
        "activities",
        "Activities",
        _fields(
            ("activity_id", "id", "Activity ID"),
            ("type", "text", "Type"),
            ("subject", "text", "Subject", "f"),
            ("direction", "text", "Direction"),
            ("outcome", "text", "Outcome"),
            ("duration_seconds", "integer", "Duration (s)", "fa"),
            ("duration_minutes", "number", "Duration (min)"),
            ("occurred_at", "timestamp", "Occurred at"),
            ("occurred_date", "date", "Occurred on"),
            *_OWNER,
            ("contact", "text", "Contact"),
            ("account", "text", "Account"),
            ("deal_id", "id", "Deal ID"),
            ("deal", "text", "Deal"),
            ("has_deal", "boolean", "On a deal"),
            ("deal_status", "text", "Deal status"),
            ("deal_is_won", "boolean", "Deal won"),
            ("sentiment", "text", "Sentiment"),
            ("sentiment_score", "number", "Sentiment score (-1 to 1)"),
        ),
        ("occurred_at", "type", "subject", "owner", "contact", "deal"),
    ),
    "tasks": Entity(
        "tasks",
        "Tasks",
        _fields(
            ("task_id", "id", "Task ID"),
            ("title", "text", "Title", "f"),
            ("priority", "text", "Priority"),
            ("status", "text", "Status"),
            ("assignee", "text", "Assignee"),
            ("assignee_id", "id", "Assignee ID"),
            ("team", "text", "Team"),
            ("created_by", "text", "Created by"),
            ("due_at", "timestamp", "Due at"),
            ("due_date", "date", "Due"),
            ("completed_at", "timestamp", "Completed at"),
            ("completed_date", "date", "Completed on"),
            ("is_overdue", "boolean", "Overdue"),
            ("contact", "text", "Contact"),
            ("account", "text", "Account"),
            ("deal", "text", "Deal"),
            ("created_at", "timestamp", "Created at"),
        ),
        ("title", "assignee", "priority", "status", "due_date", "is_overdue"),
    ),
    "contacts": Entity(
        "contacts",
        "Contacts",
        _fields(
            ("contact_id", "id", "Contact ID"),
            ("full_name", "text", "Name"),
            ("first_name", "text", "First name"),
            ("last_name", "text", "Last name"),
            ("email", "text", "Email"),
            ("title", "text", "Title"),
            ("company", "text", "Company"),
            ("account", "text", "Account"),
            *_OWNER,
            ("lead_source", "text", "Lead source"),
            ("lead_status", "text", "Lead status"),
            ("lifecycle_stage", "text", "Lifecycle stage"),
            ("lead_score", "integer", "Lead score", "gfa"),
            ("city", "text", "City"),
            ("country", "text", "Country"),
            ("is_active", "boolean", "Active"),
            ("last_contacted_at", "timestamp", "Last contacted at"),
            ("created_at", "timestamp", "Created at"),
            ("created_date", "date", "Created"),
        ),
        ("full_name", "email", "company", "owner", "lifecycle_stage", "lead_status"),
    ),
    "accounts": Entity(
        "accounts",
        "Accounts",
        _fields(
            ("account_id", "id", "Account ID"),
            ("name", "text", "Account"),
            ("domain", "text", "Domain"),
            ("industry", "text", "Industry"),
            ("company_size", "text", "Company size"),
            ("annual_revenue", "money", "Annual revenue"),
            ("city", "text", "City"),
            ("country", "text", "Country"),
            ("parent", "text", "Parent account"),
            *_OWNER,
            ("is_active", "boolean", "Active"),
            ("deal_count", "integer", "Deals", "gfa"),
            ("created_at", "timestamp", "Created at"),
            ("created_date", "date", "Created"),
        ),
        ("name", "industry", "company_size", "country", "owner", "deal_count"),
    ),
    "pipeline_snapshot": Entity(
        "pipeline_snapshot",
        "Pipeline snapshots (open deals, end of day)",
        _fields(
            ("snapshot_date", "date", "Snapshot date"),
            ("deal_id", "id", "Deal ID"),
            ("deal", "text", "Deal"),
            ("pipeline", "text", "Pipeline"),
            ("stage", "text", "Stage"),
            ("stage_order", "integer", "Stage order", "gf"),
            *_OWNER,
            ("amount", "money", "Amount"),
            ("probability", "integer", "Probability (%)", "gfa"),
            ("weighted_amount", "money", "Weighted amount"),
            ("expected_close_date", "date", "Expected close"),
        ),
        ("snapshot_date", "deal", "stage", "amount", "probability", "expected_close_date"),
    ),
    "deal_funnel": Entity(
        "deal_funnel",
        "Deal funnel (each deal at each open stage it reached)",
        _fields(
            ("deal_id", "id", "Deal ID"),
            ("deal", "text", "Deal"),
            ("pipeline", "text", "Pipeline"),
            ("stage", "text", "Stage"),
            ("stage_order", "integer", "Stage order", "gf"),
            ("advanced", "boolean", "Advanced"),
            ("deal_status", "text", "Deal status"),
            ("is_won", "boolean", "Won"),
            *_OWNER,
            ("lead_source", "text", "Lead source"),
            ("industry", "text", "Industry"),
            ("amount", "money", "Amount"),
            ("created_date", "date", "Deal created"),
            ("actual_close_date", "date", "Deal closed on"),
        ),
        ("deal", "stage", "advanced", "deal_status"),
    ),
}


def catalogue() -> dict[str, dict[str, Any]]:
    """The catalogue as plain JSON (for the report builder UI and the API): entity -> label and fields."""
    return {
        name: {
            "label": entity.label,
            "defaultColumns": list(entity.default_columns),
            "fields": [
                {
                    "name": f.name,
                    "type": f.type,
                    "label": f.label,
                    "groupable": f.groupable,
                    "filterable": f.filterable,
                    "aggregatable": f.aggregatable,
                }
                for f in entity.fields.values()
            ],
        }
        for name, entity in ENTITIES.items()
    }


# Periods ----------------------------------------------------------------------------------------------------

PERIODS: tuple[str, ...] = (
    "today",
    "yesterday",
    "last_7_days",
    "last_30_days",
    "last_90_days",
    "last_365_days",
    "next_7_days",
    "next_30_days",
    "next_90_days",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "next_month",
    "this_quarter",
    "last_quarter",
    "next_quarter",
    "this_year",
    "last_year",
    "ytd",
    "qtd",
    "mtd",
)


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def resolve_period(name: str, today: date) -> tuple[date, date]:
    """The first and last day (both included) of a named period, seen from `today`. `last_30_days` is the 30
    days ending today; weeks start on Monday; `ytd`, `qtd` and `mtd` end today."""
    month = today.replace(day=1)
    quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    week = today - timedelta(days=today.weekday())
    if name == "today":
        return today, today
    if name == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if m := re.fullmatch(r"last_(\d+)_days", name):
        return today - timedelta(days=int(m[1]) - 1), today
    if m := re.fullmatch(r"next_(\d+)_days", name):
        return today, today + timedelta(days=int(m[1]) - 1)
    spans: dict[str, tuple[date, date]] = {
        "this_week": (week, week + timedelta(days=6)),
        "last_week": (week - timedelta(days=7), week - timedelta(days=1)),
        "this_month": (month, _month_end(month)),
        "last_month": (_add_months(month, -1), month - timedelta(days=1)),
        "next_month": (_add_months(month, 1), _month_end(_add_months(month, 1))),
        "this_quarter": (quarter, _add_months(quarter, 3) - timedelta(days=1)),
        "last_quarter": (_add_months(quarter, -3), quarter - timedelta(days=1)),
        "next_quarter": (_add_months(quarter, 3), _add_months(quarter, 6) - timedelta(days=1)),
        "this_year": (date(today.year, 1, 1), date(today.year, 12, 31)),
        "last_year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        "ytd": (date(today.year, 1, 1), today),
        "qtd": (quarter, today),
        "mtd": (month, today),
    }
    if name not in spans:
        raise ValueError(f"unknown period {name!r}; periods: {', '.join(PERIODS)}")
    return spans[name]


def today_in(tz: str) -> date:
    """Today's date in timezone `tz` (an IANA name such as 'Europe/Paris')."""
    return datetime.now(zone(tz)).date()


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(
            f"Unknown timezone {tz!r}: use an IANA name such as 'UTC' or 'Europe/Paris'",
            details=[{"field": "timezone", "message": "unknown timezone"}],
        ) from None


# Value typing -------------------------------------------------------------------------------------------------

_TEXT = TypeAdapter(Annotated[PlainText, Field(max_length=MAX_TEXT_VALUE)])
_SCALARS: dict[str, TypeAdapter[Any]] = {
    "text": _TEXT,
    "number": TypeAdapter(Annotated[Decimal, Field(allow_inf_nan=False, max_digits=30)]),
    "money": TypeAdapter(Annotated[Decimal, Field(allow_inf_nan=False, max_digits=30)]),
    "integer": TypeAdapter(Annotated[int, Field(strict=False, ge=-(2**63), lt=2**63)]),
    "boolean": TypeAdapter(StrictBool),
    "date": TypeAdapter(date),
    "id": TypeAdapter(UUID),
}
_DATETIME = TypeAdapter(datetime)
_EXPECTED = {
    "text": "a text",
    "number": "a number",
    "money": "an amount",
    "integer": "a whole number",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "a date (YYYY-MM-DD) or a date and time (ISO 8601)",
    "id": "an id (UUID)",
}


def _scalar(kind: str, value: Any) -> Any:
    if isinstance(value, list | dict) or value is None:
        raise ValueError(f"expected {_EXPECTED[kind]}, got {type(value).__name__ if value is not None else 'null'}")
    if kind == "integer" and isinstance(value, bool):
        raise ValueError(f"expected {_EXPECTED[kind]}")
    try:
        if kind == "timestamp":
            # A date means the whole day in the tenant's timezone; a date and time is that instant.
            if isinstance(value, datetime) or (isinstance(value, str) and len(value.strip()) > 10):
                return _DATETIME.validate_python(value)
            return _SCALARS["date"].validate_python(value)
        return _SCALARS[kind].validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"expected {_EXPECTED[kind]}: {exc.errors()[0]['msg'].lower()}") from None


def _typed_value(kind: str, op: str, value: Any) -> Any:
    """The filter value typed for a field of type `kind` under `op`; ValueError says what is expected."""
    if op in ("is_null", "not_null"):
        if value is not None:
            raise ValueError(f"'{op}' takes no value: remove it")
        return None
    if kind in TEMPORAL and isinstance(value, str) and value in PERIODS and op in ("eq", "ne", "between"):
        return value
    if op in ("in", "not_in"):
        if kind == "timestamp":
            raise ValueError(f"'{op}' does not apply to a timestamp: use 'between'")
        if not isinstance(value, list) or not value:
            raise ValueError(f"'{op}' takes a non-empty list of values")
        if len(value) > MAX_LIST_VALUES:
            raise ValueError(f"'{op}' takes at most {MAX_LIST_VALUES} values")
        return [_scalar(kind, v) for v in value]
    if op == "between":
        if kind not in ORDERED:
            raise ValueError(f"'between' applies to numbers and dates, not to a {kind} field")
        if not isinstance(value, list) or len(value) != 2:
            periods = f", or a period ({', '.join(PERIODS)})" if kind in TEMPORAL else ""
            raise ValueError(f"'between' takes a list of two values [from, to]{periods}")
        low, high = _scalar(kind, value[0]), _scalar(kind, value[1])
        if type(low) is type(high) and low > high:
            raise ValueError("'between' needs from <= to")
        return [low, high]
    if op in ("gt", "gte", "lt", "lte") and kind not in ORDERED:
        raise ValueError(f"'{op}' applies to numbers and dates, not to a {kind} field")
    if op == "contains" and kind != "text":
        raise ValueError(f"'contains' applies to text, not to a {kind} field")
    return _scalar(kind, value)


# The spec ---------------------------------------------------------------------------------------------------

FieldName = Annotated[str, Field(min_length=1, max_length=63)]
OutputName = Annotated[str, Field(pattern=NAME_PATTERN)]
Label = Annotated[PlainText, Field(min_length=1, max_length=200)]


class ReportFilter(Schema):
    field: FieldName
    op: Op = "eq"
    value: Any = None


class GroupBy(Schema):
    field: FieldName
    bucket: Bucket | None = Field(None, description="For date and timestamp fields: day, week, month...")
    name: OutputName | None = Field(None, description="Output column name; default: field, or field_bucket.")

    def output(self) -> str:
        return self.name or (f"{self.field}_{self.bucket}" if self.bucket else self.field)


class Aggregation(Schema):
    fn: AggregateFn
    field: FieldName | None = Field(None, description="Required except for count (count of rows).")
    name: OutputName | None = Field(None, description="Output column name; default: fn_field.")
    label: Label | None = None

    def output(self) -> str:
        return self.name or (f"{self.fn}_{self.field}" if self.field else self.fn)


class SortKey(Schema):
    field: FieldName = Field(description="An output column, or (listing reports) any field of the entity.")
    direction: Direction = "asc"


class ChartSpec(Schema):
    type: ChartType = "table"
    x: OutputName | None = None
    y: list[OutputName] = Field(default_factory=list, max_length=10)
    series: OutputName | None = None


@dataclass(frozen=True)
class OutputColumn:
    name: str
    label: str
    type: ColumnType


_FN_LABELS = {
    "count": "Count",
    "count_distinct": "Distinct",
    "sum": "Total",
    "avg": "Average",
    "min": "Lowest",
    "max": "Highest",
    "median": "Median",
}
_BUCKET_LABELS = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}


def aggregate_type(fn: str, field: CatalogueField | None) -> ColumnType:
    """The type of an aggregation's result: counts are integers, the average of a boolean is a rate."""
    if fn in ("count", "count_distinct") or field is None:
        return "integer"
    if field.type == "boolean":
        return "integer" if fn == "sum" else "rate"
    if fn in ("avg", "median") and field.type == "integer":
        return "number"
    return field.type


def _fn_applies(fn: str, field: CatalogueField) -> str | None:
    """None when `fn` applies to `field`, else why not."""
    if fn in ("count", "count_distinct"):
        return None
    if not field.aggregatable:
        return f"'{field.name}' cannot be aggregated with {fn}: use count or count_distinct"
    allowed = {
        "sum": NUMERIC | {"boolean"},
        "avg": NUMERIC | {"boolean"},
        "median": NUMERIC,
        "min": ORDERED,
        "max": ORDERED,
    }[fn]
    if field.type not in allowed:
        return f"{fn} does not apply to '{field.name}' ({field.type})"
    return None


def _path(*parts: str | int) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class ReportSpec(Schema):
    """A report: entity, then `columns` (a listing) or `groupBy` + `aggregations` (a summary)."""

    entity: EntityName
    columns: list[FieldName] = Field(default_factory=list, max_length=50)
    filters: list[ReportFilter] = Field(default_factory=list, max_length=50)
    group_by: list[GroupBy] = Field(default_factory=list, max_length=5)
    aggregations: list[Aggregation] = Field(default_factory=list, max_length=20)
    sort: list[SortKey] = Field(default_factory=list, max_length=10)
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    chart: ChartSpec = Field(default_factory=ChartSpec)

    @property
    def is_listing(self) -> bool:
        return not self.group_by and not self.aggregations

    def fields(self) -> dict[str, CatalogueField]:
        return ENTITIES[self.entity].fields

    def output_columns(self) -> list[OutputColumn]:
        """The result's columns in order: name, label and type (what exports and charts format by)."""
        fields = self.fields()
        if self.is_listing:
            return [OutputColumn(c, fields[c].label, fields[c].type) for c in self.columns]
        out = []
        for g in self.group_by:
            f = fields[g.field]
            if g.bucket:
                out.append(OutputColumn(g.output(), f"{f.label} ({_BUCKET_LABELS[g.bucket]})", "date"))
            else:
                out.append(OutputColumn(g.output(), f.label, f.type))
        for a in self.aggregations:
            of = fields[a.field] if a.field else None
            if a.label:
                label = a.label
            elif of is None:
                label = "Count"
            elif a.fn == "avg" and of.type == "boolean":
                label = f"{of.label} rate"
            else:
                label = f"{_FN_LABELS[a.fn]} {of.label.lower() if a.fn != 'count_distinct' else of.label}"
            out.append(OutputColumn(a.output(), label, aggregate_type(a.fn, of)))
        return out

    @model_validator(mode="after")
    def _check_against_catalogue(self) -> ReportSpec:
        problems: list[tuple[str, str]] = []
        entity = ENTITIES[self.entity]
        fields = entity.fields

        def known(path: str, name: str, need: str | None = None) -> CatalogueField | None:
            f = fields.get(name)
            if f is None:
                problems.append((path, f"{name!r} is not a field of {entity.name}; fields: {entity.field_names()}"))
                return None
            if need == "filter" and not f.filterable:
                problems.append((path, f"{name!r} cannot be filtered on"))
            if need == "group" and not f.groupable:
                problems.append((path, f"{name!r} cannot be grouped by; use it in an aggregation"))
            return f

        for i, column in enumerate(self.columns):
            known(_path("columns", i), column)
        if self.is_listing and not self.columns:
            self.columns = list(entity.default_columns)
        elif not self.is_listing and self.columns:
            problems.append(
                ("columns", "a report with groupBy or aggregations has no columns: its groups and aggregations are")
            )

        for i, flt in enumerate(self.filters):
            f = known(_path("filters", i, "field"), flt.field, "filter")
            if f is not None:
                try:
                    flt.value = _typed_value(f.type, flt.op, flt.value)
                except ValueError as exc:
                    problems.append((_path("filters", i, "value"), str(exc)))

        for i, g in enumerate(self.group_by):
            f = known(_path("groupBy", i, "field"), g.field, "group")
            if f is None:
                continue
            if g.bucket and f.type not in TEMPORAL:
                problems.append((_path("groupBy", i, "bucket"), f"a bucket applies to dates, not to {f.type}"))
            if f.type == "timestamp" and not g.bucket:
                problems.append((_path("groupBy", i, "bucket"), "a timestamp needs a bucket: day, week, month..."))

        for i, a in enumerate(self.aggregations):
            if a.field is None:
                if a.fn != "count":
                    problems.append((_path("aggregations", i, "field"), f"{a.fn} needs a field"))
                continue
            f = known(_path("aggregations", i, "field"), a.field)
            if f is not None and (why := _fn_applies(a.fn, f)):
                problems.append((_path("aggregations", i, "fn"), why))

        if problems:  # names below depend on the fields being right
            raise _spec_error(problems)

        outputs = [c.name for c in self.output_columns()]
        seen: set[str] = set()
        for name in outputs:
            if name in seen:
                problems.append(("aggregations", f"output name {name!r} is used twice: give each a distinct name"))
            seen.add(name)
        for i, key in enumerate(self.sort):
            if key.field not in seen and not (self.is_listing and key.field in fields):
                problems.append(
                    (
                        _path("sort", i, "field"),
                        f"{key.field!r} is not a column of this report; columns: " + ", ".join(outputs),
                    )
                )
        problems += self._check_chart(outputs)
        if problems:
            raise _spec_error(problems)
        return self

    def _check_chart(self, outputs: list[str]) -> list[tuple[str, str]]:
        chart = self.chart
        if chart.type == "table":
            return []
        problems = []
        groups = [g.output() for g in self.group_by]
        aggregates = [a.output() for a in self.aggregations]
        if chart.type != "metric" and chart.x is None and groups:
            chart.x = groups[0]
        if not chart.y:
            chart.y = aggregates[:1] if chart.type in ("pie", "funnel", "metric") else aggregates
        if chart.type in ("bar", "line") and chart.series is None and len(groups) > 1 and len(chart.y) == 1:
            chart.series = groups[1]
        for part, name in (("x", chart.x), ("series", chart.series), *(("y", n) for n in chart.y)):
            if name is not None and name not in outputs:
                problems.append(
                    (f"chart.{part}", f"{name!r} is not a column of this report; columns: " + ", ".join(outputs))
                )
        if chart.type != "metric" and chart.x is None:
            problems.append(("chart.x", f"a {chart.type} chart needs x: a column to plot along"))
        if not chart.y:
            problems.append(("chart.y", f"a {chart.type} chart needs y: a numeric column"))
        if chart.type in ("pie", "funnel", "metric") and len(chart.y) > 1:
            problems.append(("chart.y", f"a {chart.type} chart shows one value: give one y"))
        if chart.series is not None and len(chart.y) > 1:
            problems.append(("chart.series", "with a series, give one y"))
        return problems


def _spec_error(problems: list[tuple[str, str]]) -> PydanticCustomError:
    message = "; ".join(f"{path}: {text}" for path, text in problems)
    return PydanticCustomError(
        "report_spec", "{message}", {"message": message, "problems": [list(p) for p in problems]}
    )


def parse_spec(data: Any) -> ReportSpec:
    """A validated spec from JSON-like data (camelCase keys), or ValidationFailed whose message and details
    name each path and what to fix (details: [{"field": "groupBy[0].field", "message": ...}])."""
    if isinstance(data, ReportSpec):
        return data
    try:
        return ReportSpec.model_validate(data)
    except ValidationError as exc:
        details: list[dict[str, str]] = []
        for err in exc.errors(include_url=False, include_input=False):
            if err["type"] == "report_spec":
                details += [{"field": p, "message": m} for p, m in err["ctx"]["problems"]]
            else:
                message = "unknown field: remove it" if err["type"] == "extra_forbidden" else err["msg"]
                details.append({"field": _path(*err["loc"]) or "spec", "message": message})
        text = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise ValidationFailed(f"Invalid report spec: {text}", details=details) from None


# Describing a spec (for titles of exports and for people) ---------------------------------------------------

_OP_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gt": "is after",
    "gte": "is on or after",
    "lt": "is before",
    "lte": "is on or before",
    "between": "is between",
    "is_null": "is empty",
    "not_null": "is not empty",
    "contains": "contains",
}
_NUMBER_WORDS = {"gt": "is above", "gte": "is at least", "lt": "is below", "lte": "is at most"}


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def describe_filters(spec: ReportSpec, today: date | None = None) -> list[str]:
    """One line per filter in words, periods with their dates when `today` is given:
    "Closed on: this quarter (2026-04-01 to 2026-06-30)", "Status is one of won, lost"."""
    fields = spec.fields()
    lines = []
    for flt in spec.filters:
        f = fields[flt.field]
        value = flt.value
        if isinstance(value, str) and value in PERIODS and f.type in TEMPORAL:
            span = ""
            if today is not None:
                start, end = resolve_period(value, today)
                span = f" ({start.isoformat()} to {end.isoformat()})"
            negation = "not " if flt.op == "ne" else ""
            lines.append(f"{f.label}: {negation}{value.replace('_', ' ')}{span}")
            continue
        words = _NUMBER_WORDS.get(flt.op, _OP_WORDS[flt.op]) if f.type in NUMERIC else _OP_WORDS[flt.op]
        if flt.op in ("is_null", "not_null"):
            lines.append(f"{f.label} {words}")
        elif flt.op == "between":
            lines.append(f"{f.label} {words} {_word(value[0])} and {_word(value[1])}")
        elif isinstance(value, list):
            lines.append(f"{f.label} {words} {', '.join(_word(v) for v in value)}")
        else:
            lines.append(f"{f.label} {words} {_word(value)}")
    return lines
