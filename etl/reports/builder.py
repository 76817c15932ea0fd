"""Compile a report spec to DuckDB SQL over the warehouse star schema (etl/schema.py) and run it.

Nothing from the spec is spliced into SQL as text: every table, join and expression comes from `SOURCES`, the
whitelist that maps each catalogue field (core/analytics/spec.py) to an expression; output aliases are the
spec's validated names (`[a-z][a-z0-9_]*`, quoted); every value (filter values, period bounds, the timezone,
the limit) is a bound parameter. A join is added only when a field in the spec needs it.

Times: timestamps are stored in UTC and shown, bucketed and compared in the tenant's timezone `tz`; a date
given for a timestamp field means that whole day in `tz`; named periods are resolved from `today` (default:
today in `tz`). `ne` and `not_in` keep rows whose value is empty ("not Website" includes unknown sources).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from core.analytics.spec import (
    ENTITIES,
    PERIODS,
    TEMPORAL,
    CatalogueField,
    OutputColumn,
    ReportSpec,
    parse_spec,
    resolve_period,
    today_in,
    zone,
)
from etl import schema

TZ = "$tz"


@dataclass(frozen=True)
class Rollup:
    """A smaller table the loader keeps beside an entity's (etl/reports/views.py): one row per combination of
    the fact columns behind `fields`, with `rows`, how many of the entity's rows it stands for. It has the
    entity's alias and those columns' names, so the fields' expressions and joins read it unchanged. A summary
    that uses only `fields` and counts, distinct counts, sums of whole numbers, minimums and maximums gives the
    same numbers from it (a count is the sum of `rows`, a sum weighs each value by `rows`) and runs on it."""

    table: str
    rows: str
    fields: frozenset[str]


@dataclass(frozen=True)
class Source:
    """An entity's SQL: its table, the joins its fields may need (alias -> (JOIN clause, joins it needs first)),
    each field's expression and the joins that expression needs, and a key that makes listings' order total."""

    table: str
    key: str
    joins: dict[str, tuple[str, tuple[str, ...]]]
    fields: dict[str, tuple[str, tuple[str, ...]]]
    rollup: Rollup | None = None


def _e(sql: str, *joins: str) -> tuple[str, tuple[str, ...]]:
    return sql, joins


def _user_fields(column: str, alias: str = "u") -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        "owner": _e(f"{alias}.full_name", alias),
        "owner_email": _e(f"{alias}.email", alias),
        "owner_id": _e(column),
        "team": _e(f"{alias}.team_name", alias),
    }


def _user(alias: str, column: str) -> tuple[str, tuple[str, ...]]:
    return f"LEFT JOIN dim_user {alias} ON {alias}.user_id = {column}", ()


SOURCES: dict[str, Source] = {
    "deals": Source(
        "fact_deals d",
        "d.deal_id",
        {
            "u": _user("u", "d.owner_id"),
            "s": ("LEFT JOIN dim_pipeline_stage s ON s.stage_id = d.stage_id", ()),
            "a": ("LEFT JOIN dim_account a ON a.account_id = d.account_id", ()),
            "c": ("LEFT JOIN dim_contact c ON c.contact_id = d.contact_id", ()),
        },
        {
            "deal_id": _e("d.deal_id"),
            "name": _e("d.name"),
            **_user_fields("d.owner_id"),
            "pipeline": _e("s.pipeline_name", "s"),
            "stage": _e("s.stage_name", "s"),
            "stage_order": _e("s.display_order", "s"),
            "account": _e("a.name", "a"),
            "industry": _e("d.industry"),
            "company_size": _e("a.company_size", "a"),
            "country": _e("a.country", "a"),
            "contact": _e("c.full_name", "c"),
            "lead_source": _e("d.lead_source"),
            "status": _e("d.status"),
            "is_closed": _e("d.is_closed"),
            "is_won": _e("d.is_won"),
            "is_lost": _e("(d.status = 'lost')"),
            "lost_reason": _e("d.lost_reason"),
            "amount": _e("d.amount"),
            "weighted_amount": _e("d.weighted_amount"),
            "currency": _e("d.currency"),
            "probability": _e("d.probability"),
            "created_at": _e("d.created_at"),
            "created_date": _e("d.created_date"),
            "expected_close_date": _e("d.expected_close_date"),
            "actual_close_date": _e("d.actual_close_date"),
            "stage_entered_at": _e("d.stage_entered_at"),
            "days_in_stage": _e("d.days_in_stage"),
            "cycle_days": _e("d.cycle_days"),
            "is_rotting": _e("d.is_rotting"),
            "activity_count": _e("d.activity_count"),
        },
    ),
    "stage_history": Source(
        "fact_deal_stage_history h",
        "h.history_id",
        {
            "d": ("LEFT JOIN fact_deals d ON d.deal_id = h.deal_id", ()),
            "s": ("LEFT JOIN dim_pipeline_stage s ON s.stage_id = h.to_stage_id", ()),
            "fs": ("LEFT JOIN dim_pipeline_stage fs ON fs.stage_id = h.from_stage_id", ()),
            "u": _user("u", "h.owner_id"),
            "cb": _user("cb", "h.changed_by"),
        },
        {
            "history_id": _e("h.history_id"),
            "deal_id": _e("h.deal_id"),
            "deal": _e("d.name", "d"),
            "deal_status": _e("d.status", "d"),
            "pipeline": _e("s.pipeline_name", "s"),
            "stage": _e("s.stage_name", "s"),
            "stage_order": _e("s.display_order", "s"),
            "stage_is_closed": _e("s.is_closed", "s"),
            "stage_is_won": _e("s.is_won", "s"),
            "from_stage": _e("fs.stage_name", "fs"),
            "changed_at": _e("h.changed_at"),
            "changed_date": _e("h.changed_date"),
            "changed_by": _e("cb.full_name", "cb"),
            **_user_fields("h.owner_id"),
            "amount": _e("h.amount"),
            "probability": _e("h.probability"),
            "left_at": _e("h.left_at"),
            "is_current": _e("(h.left_at IS NULL)"),
            "days_in_stage": _e("(h.hours_in_stage / 24.0)"),
        },
    ),
    "activities": Source(
        "fact_activities t",
        "t.activity_id",
        {
            "u": _user("u", "t.owner_id"),
            "c": ("LEFT JOIN dim_contact c ON c.contact_id = t.contact_id", ()),
            "a": ("LEFT JOIN dim_account a ON a.account_id = t.account_id", ()),
            "d": ("LEFT JOIN fact_deals d ON d.deal_id = t.deal_id", ()),
        },
        {
            "activity_id": _e("t.activity_id"),
            "type": _e("t.type"),
            "subject": _e("t.subject"),
            "direction": _e("t.direction"),
            "outcome": _e("t.outcome"),
            "duration_seconds": _e("t.duration_seconds"),
            "duration_minutes": _e("(t.duration_seconds / 60.0)"),
            "occurred_at": _e("t.occurred_at"),
            "occurred_date": _e("t.occurred_date"),
            **_user_fields("t.owner_id"),
            "contact": _e("c.full_name", "c"),
            "account": _e("a.name", "a"),
            "deal_id": _e("t.deal_id"),
            "deal": _e("d.name", "d"),
            "has_deal": _e("(t.deal_id IS NOT NULL)"),
            "deal_status": _e("d.status", "d"),
            "deal_is_won": _e("d.is_won", "d"),
            "sentiment": _e("t.sentiment"),
            "sentiment_score": _e("t.sentiment_score"),
        },
        # Per rep and deal (activities per rep and the like): 273,000 rows for 3.1 million activities.
        Rollup(
            "activity_counts t",
            "t.activities",
            frozenset({*_user_fields("t.owner_id"), "deal_id", "deal", "has_deal", "deal_status", "deal_is_won"}),
        ),
    ),
    "tasks": Source(
        "fact_tasks t",
        "t.task_id",
        {
            "u": _user("u", "t.assignee_id"),
            "cb": _user("cb", "t.created_by"),
            "c": ("LEFT JOIN dim_contact c ON c.contact_id = t.contact_id", ()),
            "a": ("LEFT JOIN dim_account a ON a.account_id = t.account_id", ()),
            "d": ("LEFT JOIN fact_deals d ON d.deal_id = t.deal_id", ()),
        },
        {
            "task_id": _e("t.task_id"),
            "title": _e("t.title"),
            "priority": _e("t.priority"),
            "status": _e("t.status"),
            "assignee": _e("u.full_name", "u"),
            "assignee_id": _e("t.assignee_id"),
            "team": _e("u.team_name", "u"),
            "created_by": _e("cb.full_name", "cb"),
            "due_at": _e("t.due_at"),
            "due_date": _e("t.due_date"),
            "completed_at": _e("t.completed_at"),
            "completed_date": _e(f"CAST(timezone({TZ}, t.completed_at) AS DATE)"),
            "is_overdue": _e("t.is_overdue"),
            "contact": _e("c.full_name", "c"),
            "account": _e("a.name", "a"),
            "deal": _e("d.name", "d"),
            "created_at": _e("t.created_at"),
        },
    ),
    "contacts": Source(
        "dim_contact c",
        "c.contact_id",
        {
            "u": _user("u", "c.owner_id"),
            "a": ("LEFT JOIN dim_account a ON a.account_id = c.account_id", ()),
        },
        {
            "contact_id": _e("c.contact_id"),
            "full_name": _e("c.full_name"),
            "first_name": _e("c.first_name"),
            "last_name": _e("c.last_name"),
            "email": _e("c.email"),
            "title": _e("c.title"),
            "company": _e("c.company"),
            "account": _e("a.name", "a"),
            **_user_fields("c.owner_id"),
            "lead_source": _e("c.lead_source"),
            "lead_status": _e("c.lead_status"),
            "lifecycle_stage": _e("c.lifecycle_stage"),
            "lead_score": _e("c.lead_score"),
            "city": _e("c.city"),
            "country": _e("c.country"),
            "is_active": _e("c.is_active"),
            "last_contacted_at": _e("c.last_contacted_at"),
            "created_at": _e("c.created_at"),
            "created_date": _e("c.created_date"),
        },
    ),
    "accounts": Source(
        "dim_account a",
        "a.account_id",
        {
            "u": _user("u", "a.owner_id"),
            "p": ("LEFT JOIN dim_account p ON p.account_id = a.parent_id", ()),
            "dc": (
                "LEFT JOIN (SELECT account_id, count(*) AS n FROM fact_deals WHERE account_id IS NOT NULL"
                " GROUP BY account_id) dc ON dc.account_id = a.account_id",
                (),
            ),
        },
        {
            "account_id": _e("a.account_id"),
            "name": _e("a.name"),
            "domain": _e("a.domain"),
            "industry": _e("a.industry"),
            "company_size": _e("a.company_size"),
            "annual_revenue": _e("a.annual_revenue"),
            "city": _e("a.city"),
            "country": _e("a.country"),
            "parent": _e("p.name", "p"),
            **_user_fields("a.owner_id"),
            "is_active": _e("a.is_active"),
            "deal_count": _e("coalesce(dc.n, 0)", "dc"),
            "created_at": _e("a.created_at"),
            "created_date": _e("a.created_date"),
        },
    ),
    "pipeline_snapshot": Source(
        "fact_pipeline_snapshot ps",
        "ps.deal_id",
        {
            "d": ("LEFT JOIN fact_deals d ON d.deal_id = ps.deal_id", ()),
            "s": ("LEFT JOIN dim_pipeline_stage s ON s.stage_id = ps.stage_id", ()),
            "u": _user("u", "ps.owner_id"),
        },
        {
            "snapshot_date": _e("ps.snapshot_date"),
            "deal_id": _e("ps.deal_id"),
            "deal": _e("d.name", "d"),
            "pipeline": _e("s.pipeline_name", "s"),
            "stage": _e("s.stage_name", "s"),
            "stage_order": _e("s.display_order", "s"),
            **_user_fields("ps.owner_id"),
            "amount": _e("ps.amount"),
            "probability": _e("ps.probability"),
            "weighted_amount": _e("ps.weighted_amount"),
            "expected_close_date": _e("ps.expected_close_date"),
        },
    ),
    "deal_funnel": Source(
        "deal_funnel f",
        "f.deal_id",
        {
            "d": ("LEFT JOIN fact_deals d ON d.deal_id = f.deal_id", ()),
            "s": ("LEFT JOIN dim_pipeline_stage s ON s.stage_id = f.stage_id", ()),
            "u": ("LEFT JOIN dim_user u ON u.user_id = d.owner_id", ("d",)),
        },
        {
            "deal_id": _e("f.deal_id"),
            "deal": _e("d.name", "d"),
            "pipeline": _e("s.pipeline_name", "s"),
            "stage": _e("s.stage_name", "s"),
            "stage_order": _e("f.stage_order"),
            "advanced": _e("f.advanced"),
            "deal_status": _e("d.status", "d"),
            "is_won": _e("d.is_won", "d"),
            **{k: (expr, ("d", *joins)) for k, (expr, joins) in _user_fields("d.owner_id").items()},
            "lead_source": _e("d.lead_source", "d"),
            "industry": _e("d.industry", "d"),
            "amount": _e("d.amount", "d"),
            "created_date": _e("d.created_date", "d"),
            "actual_close_date": _e("d.actual_close_date", "d"),
        },
    ),
}

_DIRECTIONS = {"asc": "ASC", "desc": "DESC"}
_BUCKETS = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}
_TIMESTAMP = CatalogueField("_", "timestamp", "_")
_COMPARISONS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass
class _Compiler:
    spec: ReportSpec
    today: date
    tz: str
    params: dict[str, Any] = field(default_factory=dict)
    joins: list[str] = field(default_factory=list)
    rollup: Rollup | None = None  # set when the summary runs on the entity's rollup

    @property
    def source(self) -> Source:
        return SOURCES[self.spec.entity]

    def fits_rollup(self) -> bool:
        """Whether the spec is a summary that the entity's rollup answers with the same numbers."""
        rollup, spec = self.source.rollup, self.spec
        if rollup is None or spec.is_listing:
            return False
        outputs = {g.output() for g in spec.group_by} | {a.output() for a in spec.aggregations}
        used = {g.field for g in spec.group_by} | {f.field for f in spec.filters}
        used |= {a.field for a in spec.aggregations if a.field is not None}
        used |= {k.field for k in spec.sort if k.field not in outputs}
        if not used <= rollup.fields:
            return False
        for a in spec.aggregations:
            kind = self.catalogue[a.field].type if a.field else None
            if a.fn not in ("count", "count_distinct", "min", "max") and not (
                a.fn == "sum" and kind in ("integer", "boolean")
            ):
                return False
        return True

    @property
    def catalogue(self) -> dict[str, CatalogueField]:
        return ENTITIES[self.spec.entity].fields

    def param(self, value: Any) -> str:
        name = f"p{sum(1 for k in self.params if k != 'tz')}"
        self.params[name] = value
        return f"${name}"

    def _need(self, alias: str) -> None:
        if alias in self.joins:
            return
        _, first = self.source.joins[alias]
        for dep in first:
            self._need(dep)
        self.joins.append(alias)

    def expr(self, name: str) -> str:
        sql, joins = self.source.fields[name]
        for alias in joins:
            self._need(alias)
        if TZ in sql:
            self.params["tz"] = self.tz
        return sql

    def local(self, sql: str) -> str:
        """A UTC timestamp as the wall-clock time in the tenant's timezone."""
        self.params["tz"] = self.tz
        return f"timezone({TZ}, {sql})"

    def start_of(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone(self.tz)).astimezone(UTC)

    def instant(self, value: datetime) -> datetime:
        return (value if value.tzinfo else value.replace(tzinfo=zone(self.tz))).astimezone(UTC)

    # SELECT parts --------------------------------------------------------------------------------------

    def shown(self, name: str) -> str:
        f = self.catalogue[name]
        sql = self.expr(name)
        if f.type == "id":
            return f"CAST({sql} AS VARCHAR)"
        if f.type == "timestamp":
            return self.local(sql)
        return sql

    def group(self, name: str, bucket: str | None) -> str:
        f = self.catalogue[name]
        if bucket is None:
            return self.shown(name)
        sql = self.expr(name)
        day = self.local(sql) if f.type == "timestamp" else sql
        if bucket == "day":
            return f"CAST({day} AS DATE)"
        return f"CAST(date_trunc('{_BUCKETS[bucket]}', {day}) AS DATE)"

    def aggregate(self, fn: str, name: str | None) -> str:
        rows = self.rollup.rows if self.rollup else None
        if name is None:
            return f"CAST(coalesce(sum({rows}), 0) AS BIGINT)" if rows else "count(*)"
        f = self.catalogue[name]
        sql = self.expr(name)
        if fn == "count" and rows:
            return f"CAST(coalesce(sum({rows}) FILTER (WHERE {sql} IS NOT NULL), 0) AS BIGINT)"
        if fn == "count":
            return f"count({sql})"
        if fn == "count_distinct":
            return f"count(DISTINCT {sql})"
        if f.type == "boolean":
            sql = f"CAST({sql} AS INTEGER)"
        if fn == "sum" and rows:
            return f"CAST(sum({sql} * {rows}) AS BIGINT)"  # whole numbers only (fits_rollup)
        if fn == "sum":
            return f"CAST(sum({sql}) AS BIGINT)" if f.type in ("integer", "boolean") else f"sum({sql})"
        if fn in ("avg", "median"):
            out = f"{fn}({sql})"
            return f"CAST({out} AS DECIMAL(18,2))" if f.type == "money" else f"CAST({out} AS DOUBLE)"
        out = f"{fn}({sql})"  # min, max
        return self.local(out) if f.type == "timestamp" else out

    # WHERE -------------------------------------------------------------------------------------------

    def condition(self, name: str, op: str, value: Any) -> str:
        f = self.catalogue[name]
        sql = self.expr(name)
        if op == "is_null":
            return f"{sql} IS NULL"
        if op == "not_null":
            return f"{sql} IS NOT NULL"
        if f.type in TEMPORAL and isinstance(value, str) and value in PERIODS:
            start, end = resolve_period(value, self.today)
            inside = self.within(f, sql, start, end)
            return f"(NOT ({inside}) OR {sql} IS NULL)" if op == "ne" else inside
        if f.type == "timestamp":
            return self.timestamp_condition(sql, op, value)
        if op == "contains":
            return f"contains(lower({sql}), lower({self.param(value)}))"
        if op in ("in", "not_in"):
            values = ", ".join(self.param(v) for v in value)
            return f"{sql} IN ({values})" if op == "in" else f"({sql} IS NULL OR {sql} NOT IN ({values}))"
        if op == "between":
            return f"{sql} BETWEEN {self.param(value[0])} AND {self.param(value[1])}"
        if op == "ne":
            return f"{sql} IS DISTINCT FROM {self.param(value)}"
        if op == "eq" and f.type == "boolean":  # the column itself: DuckDB pushes `x` / `NOT x` into the scan
            return sql if value else f"NOT {sql}"
        return f"{sql} {_COMPARISONS[op]} {self.param(value)}"

    def within(self, f: CatalogueField, sql: str, start: date, end: date) -> str:
        if f.type == "date":
            return f"{sql} BETWEEN {self.param(start)} AND {self.param(end)}"
        low, high = self.start_of(start), self.start_of(end + timedelta(days=1))
        return f"({sql} >= {self.param(low)} AND {sql} < {self.param(high)})"

    def timestamp_condition(self, sql: str, op: str, value: Any) -> str:
        """A date is its whole day in the tenant's timezone; a date and time is that instant."""

        def low(v: Any) -> str:  # the first instant at or after v
            return self.param(self.instant(v) if isinstance(v, datetime) else self.start_of(v))

        def after(v: Any) -> tuple[str, str]:  # (operator, bound) for "later than all of v"
            if isinstance(v, datetime):
                return ">", self.param(self.instant(v))
            return ">=", self.param(self.start_of(v + timedelta(days=1)))

        if op == "between":
            high_op, high = after(value[1])
            return f"({sql} >= {low(value[0])} AND NOT ({sql} {high_op} {high}))"
        if isinstance(value, datetime):
            moment = self.param(self.instant(value))
            return f"{sql} IS DISTINCT FROM {moment}" if op == "ne" else f"{sql} {_COMPARISONS[op]} {moment}"
        if op == "eq":
            return self.within(_TIMESTAMP, sql, value, value)
        if op == "ne":
            return f"(NOT ({self.within(_TIMESTAMP, sql, value, value)}) OR {sql} IS NULL)"
        if op in ("gt", "lte"):  # after the day / up to its end
            bound = self.param(self.start_of(value + timedelta(days=1)))
            return f"{sql} >= {bound}" if op == "gt" else f"{sql} < {bound}"
        bound = self.param(self.start_of(value))
        return f"{sql} >= {bound}" if op == "gte" else f"{sql} < {bound}"

    # The statement -------------------------------------------------------------------------------------

    def compile(self) -> str:
        spec = self.spec
        self.rollup = self.source.rollup if self.fits_rollup() else None
        select: list[str] = []
        outputs: dict[str, int] = {}
        if spec.is_listing:
            for column in spec.columns:
                select.append(f'{self.shown(column)} AS "{column}"')
                outputs[column] = len(select)
        else:
            for g in spec.group_by:
                select.append(f'{self.group(g.field, g.bucket)} AS "{g.output()}"')
                outputs[g.output()] = len(select)
            for a in spec.aggregations:
                select.append(f'{self.aggregate(a.fn, a.field)} AS "{a.output()}"')
                outputs[a.output()] = len(select)
        where = [self.condition(flt.field, flt.op, flt.value) for flt in spec.filters]
        order = []
        for key in spec.sort:
            target = str(outputs[key.field]) if key.field in outputs else self.expr(key.field)
            order.append(f"{target} {_DIRECTIONS[key.direction]} NULLS LAST")
        if spec.group_by and not spec.sort:
            order += [f"{i} ASC NULLS LAST" for i in range(1, len(spec.group_by) + 1)]
        if spec.is_listing:
            order.append(f"{self.source.key} ASC")
        limit = self.param(spec.limit + 1)  # one more than asked: tells whether the result was cut

        parts = [f"SELECT {', '.join(select)}", f"FROM {self.rollup.table if self.rollup else self.source.table}"]
        parts += [self.source.joins[alias][0] for alias in self.joins]
        if where:
            parts.append("WHERE " + " AND ".join(where))
        if spec.group_by:
            parts.append("GROUP BY " + ", ".join(str(i) for i in range(1, len(spec.group_by) + 1)))
        if order:
            parts.append("ORDER BY " + ", ".join(order))
        parts.append(f"LIMIT {limit}")
        return "\n".join(parts)


def compile(spec: ReportSpec | dict[str, Any], *, today: date | None = None, tz: str = "UTC") -> tuple[str, dict]:
    """(sql, params) for DuckDB: `con.sql(sql, params=params)`. The query asks for `limit + 1` rows."""
    spec = parse_spec(spec)
    zone(tz)
    compiler = _Compiler(spec, today or today_in(tz), tz)
    sql = compiler.compile()
    return sql, compiler.params


def warehouse_timezone(con: duckdb.DuckDBPyConnection) -> str:
    """The tenant timezone the loader recorded in the warehouse's state table (UTC when none is recorded)."""
    rows = con.sql(f"SELECT value FROM {schema.STATE_TABLE} WHERE name = 'timezone'").fetchall()
    return str(rows[0][0]) if rows and rows[0][0] else "UTC"


@dataclass(frozen=True)
class ReportResult:
    """A report's rows (a Polars frame, at most `spec.limit`), what its columns are, and how it was made."""

    frame: pl.DataFrame
    columns: list[OutputColumn]
    spec: ReportSpec
    sql_ms: float  # time DuckDB took to run the query and hand over the rows
    truncated: bool  # more rows matched than `spec.limit`
    today: date
    tz: str
    generated_at: datetime


def run(
    con: duckdb.DuckDBPyConnection,
    spec: ReportSpec | dict[str, Any],
    *,
    today: date | None = None,
    tz: str | None = None,
) -> ReportResult:
    """Run a report on a warehouse connection (read-only is enough). `tz` is the tenant's timezone (default: the
    one the warehouse was loaded with, else UTC); `today` (default: today in `tz`) anchors named periods such as
    `this_quarter`."""
    spec = parse_spec(spec)
    tz = tz or warehouse_timezone(con)
    today = today or today_in(tz)
    sql, params = compile(spec, today=today, tz=tz)
    columns = spec.output_columns()
    started = time.perf_counter()
    frame = con.sql(sql, params=params).pl()
    elapsed = (time.perf_counter() - started) * 1000
    truncated = frame.height > spec.limit
    if truncated:
        frame = frame.head(spec.limit)
    return ReportResult(
        frame=frame,
        columns=columns,
        spec=spec,
        sql_ms=round(elapsed, 3),
        truncated=truncated,
        today=today,
        tz=tz,
        generated_at=datetime.now(UTC),
    )
