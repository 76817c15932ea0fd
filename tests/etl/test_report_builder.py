"""The report spec (core/analytics/spec.py) and its compiler (etl/reports/builder.py) on a real in-memory DuckDB
warehouse built from etl/schema.py plus the report views, with a handful of rows whose answers are known."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl
import pytest

from core.analytics.spec import ENTITIES, MAX_LIMIT, PERIODS, ReportSpec, catalogue, parse_spec, resolve_period
from core.errors import ValidationFailed
from etl import schema
from etl.reports import builder, views
from etl.reports.standard import STANDARD_REPORTS

TODAY = date(2026, 3, 31)
PIPELINE = uuid.UUID(int=1)
STAGES = {name: uuid.UUID(int=10 + i) for i, name in enumerate(("S1", "S2", "S3", "S4", "W", "L"))}
ALICE, BOB = uuid.UUID(int=100), uuid.UUID(int=101)
ACME, GLOBEX = uuid.UUID(int=200), uuid.UUID(int=201)
D = {n: uuid.UUID(int=300 + n) for n in range(1, 6)}


def insert(con: duckdb.DuckDBPyConnection, table: str, **values: Any) -> None:
    names = list(values)
    marks = ", ".join(f"${n}" for n in names)
    con.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", values)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for statement in schema.create_statements() + views.statements():
        con.execute(statement)
    stages = [
        ("S1", "Prospecting", 1, 10, False, False, 14),
        ("S2", "Qualification", 2, 20, False, False, 14),
        ("S3", "Proposal", 3, 50, False, False, 21),
        ("S4", "Negotiation", 4, 75, False, False, 14),
        ("W", "Closed Won", 5, 100, True, True, None),
        ("L", "Closed Lost", 6, 0, True, False, None),
    ]
    for key, name, order, prob, closed, won, rotting in stages:
        insert(
            con,
            "dim_pipeline_stage",
            stage_id=STAGES[key],
            pipeline_id=PIPELINE,
            pipeline_name="Sales",
            stage_name=name,
            display_order=order,
            probability=prob,
            is_closed=closed,
            is_won=won,
            rotting_days=rotting,
        )
    for user_id, first, team in ((ALICE, "Alice", "East"), (BOB, "Bob", "West")):
        insert(
            con,
            "dim_user",
            user_id=user_id,
            first_name=first,
            full_name=f"{first} Rep",
            email=f"{first.lower()}@example.com",
            team_name=team,
        )
    insert(con, "dim_account", account_id=ACME, name="Acme", industry="Technology", company_size="11-50")
    insert(con, "dim_account", account_id=GLOBEX, name="Globex", industry="Finance", company_size="1000+")
    deals = [  # n, owner, account, stage, status, amount, prob, created, closed, source, lost reason, path
        (1, ALICE, ACME, "W", "won", "1000.00", 100, "2026-01-10 09:00", date(2026, 2, 15), "Website", None,
         ["S1", "S2", "S3", "S4", "W"]),
        (2, ALICE, GLOBEX, "L", "lost", "500.00", 0, "2026-01-31 23:30", date(2026, 3, 20), None, "No budget",
         ["S1", "S2", "L"]),
        (3, BOB, ACME, "S3", "open", "2000.00", 50, "2026-02-01 10:00", None, "Referral", None, ["S1", "S3"]),
        (4, BOB, None, "L", "lost", "300.00", 0, "2026-02-10 10:00", date(2026, 3, 31), "Referral",
         "Price too high", ["S2", "S3", "L"]),
        (5, BOB, GLOBEX, "W", "won", "700.00", 100, "2026-03-01 10:00", date(2026, 3, 5), "Website", None, ["W"]),
    ]  # fmt: skip
    for n, owner, account, stage, status, amount, prob, created, closed, source, reason, path in deals:
        created_at = ts(created)
        insert(
            con,
            "fact_deals",
            deal_id=D[n],
            name=f"Deal {n}",
            pipeline_id=PIPELINE,
            stage_id=STAGES[stage],
            account_id=account,
            owner_id=owner,
            amount=Decimal(amount),
            currency="USD",
            probability=prob,
            weighted_amount=Decimal(amount) * prob / 100,
            lead_source=source,
            industry={ACME: "Technology", GLOBEX: "Finance"}.get(account),  # type: ignore[call-overload]
            status=status,
            is_closed=status != "open",
            is_won=status == "won",
            lost_reason=reason,
            actual_close_date=closed,
            created_at=created_at,
            created_date=created_at.date(),
            days_in_stage=30 if status == "open" else None,
            is_rotting=status == "open",
            cycle_days=(closed - created_at.date()).days if closed else None,
        )
        previous = None
        for i, key in enumerate(path):
            insert(
                con,
                "fact_deal_stage_history",
                history_id=uuid.uuid4(),
                deal_id=D[n],
                pipeline_id=PIPELINE,
                from_stage_id=previous,
                to_stage_id=STAGES[key],
                changed_at=ts(f"2026-02-{i + 1:02d} 12:00"),
                owner_id=owner,
                hours_in_stage=24.0 * (i + 1),
                left_at=None if i == len(path) - 1 else ts(f"2026-02-{i + 2:02d} 12:00"),
            )
            previous = STAGES[key]
    for i, (owner, deal) in enumerate(((ALICE, 1), (ALICE, 1), (ALICE, 1), (ALICE, 2), (BOB, None), (BOB, None))):
        insert(
            con,
            "fact_activities",
            activity_id=uuid.UUID(int=400 + i),
            type="call" if i % 2 else "email",
            owner_id=owner,
            deal_id=D[deal] if deal else None,
            occurred_at=ts(f"2026-03-0{i + 1} 08:00"),
            occurred_date=date(2026, 3, i + 1),
            duration_seconds=60 * (i + 1),
        )
    views.refresh(con)  # what the loader derives after a load: activity counts, the funnel
    return con


def run(con: duckdb.DuckDBPyConnection, spec: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    return builder.run(con, spec, today=kw.pop("today", TODAY), **kw).frame.to_dicts()


def refusal(spec: dict[str, Any]) -> str:
    with pytest.raises(ValidationFailed) as info:
        parse_spec(spec)
    return info.value.message


# Every field of the catalogue compiles and runs ----------------------------------------------------------------

SAMPLES = {
    "text": "x",
    "number": "1.5",
    "money": "10.00",
    "integer": 3,
    "boolean": True,
    "date": "2026-03-01",
    "timestamp": "2026-03-01",
    "id": str(uuid.UUID(int=1)),
}


def test_catalogue_and_whitelist_cover_the_same_fields() -> None:
    assert set(builder.SOURCES) == set(ENTITIES)
    for name, entity in ENTITIES.items():
        assert set(builder.SOURCES[name].fields) == set(entity.fields), name
        assert set(entity.default_columns) <= set(entity.fields)
    assert catalogue()["deals"]["fields"][0] == {
        "name": "deal_id",
        "type": "id",
        "label": "Deal ID",
        "groupable": True,
        "filterable": True,
        "aggregatable": False,
    }


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_every_catalogue_field_compiles_and_runs(con: duckdb.DuckDBPyConnection, entity: str) -> None:
    fields = ENTITIES[entity].fields.values()
    listing = builder.run(con, {"entity": entity, "columns": [f.name for f in fields]}, today=TODAY, tz="Asia/Tokyo")
    assert listing.frame.columns == [f.name for f in fields]
    for f in fields:
        if f.groupable:
            bucket = "month" if f.type in ("date", "timestamp") else None
            spec = {
                "entity": entity,
                "groupBy": [{"field": f.name, "bucket": bucket}],
                "aggregations": [{"fn": "count"}],
            }
            builder.run(con, spec, today=TODAY, tz="Asia/Tokyo")
        if f.filterable:
            for op, value in (("eq", SAMPLES[f.type]), ("not_null", None)):
                builder.run(con, {"entity": entity, "filters": [{"field": f.name, "op": op, "value": value}]})
        fns = ["count", "count_distinct"]
        if f.aggregatable:
            fns += {
                "boolean": ["sum", "avg"],
                "date": ["min", "max"],
                "timestamp": ["min", "max"],
            }.get(f.type, ["sum", "avg", "min", "max", "median"])
        spec = {"entity": entity, "aggregations": [{"fn": fn, "field": f.name} for fn in fns]}
        result = builder.run(con, spec, today=TODAY, tz="America/New_York")
        assert result.frame.height == 1 and result.frame.width == len(fns)


# Answers ---------------------------------------------------------------------------------------------------


def test_win_rate_by_rep_counts_and_rates(con: duckdb.DuckDBPyConnection) -> None:
    spec = {
        "entity": "deals",
        "filters": [{"field": "is_closed", "value": True}],
        "groupBy": [{"field": "owner"}],
        "aggregations": [
            {"fn": "count", "name": "closed"},
            {"fn": "sum", "field": "is_won", "name": "won"},
            {"fn": "avg", "field": "is_won", "name": "win_rate"},
            {"fn": "sum", "field": "amount", "name": "amount"},
            {"fn": "median", "field": "amount", "name": "median_amount"},
        ],
    }
    result = builder.run(con, spec, today=TODAY)
    assert result.frame.to_dicts() == [
        {"owner": "Alice Rep", "closed": 2, "won": 1, "win_rate": 0.5, "amount": Decimal("1500.00"),
         "median_amount": Decimal("750.00")},
        {"owner": "Bob Rep", "closed": 2, "won": 1, "win_rate": 0.5, "amount": Decimal("1000.00"),
         "median_amount": Decimal("500.00")},
    ]  # fmt: skip
    assert [(c.name, c.label, c.type) for c in result.columns] == [
        ("owner", "Owner", "text"),
        ("closed", "Count", "integer"),
        ("won", "Total won", "integer"),
        ("win_rate", "Won rate", "rate"),
        ("amount", "Total amount", "money"),
        ("median_amount", "Median amount", "money"),
    ]
    assert result.frame.schema["win_rate"] == pl.Float64 and result.frame.schema["won"] == pl.Int64
    assert not result.truncated and result.sql_ms >= 0


def test_deal_fields_from_joins_and_activity_counts(con: duckdb.DuckDBPyConnection) -> None:
    rows = run(
        con,
        {
            "entity": "deals",
            "columns": ["name", "team", "stage", "stage_order", "account", "industry", "activity_count", "deal_id"],
            "sort": [{"field": "activity_count", "direction": "desc"}],
            "limit": 2,
        },
    )
    assert rows == [
        {"name": "Deal 1", "team": "East", "stage": "Closed Won", "stage_order": 5, "account": "Acme",
         "industry": "Technology", "activity_count": 3, "deal_id": str(D[1])},
        {"name": "Deal 2", "team": "East", "stage": "Closed Lost", "stage_order": 6, "account": "Globex",
         "industry": "Finance", "activity_count": 1, "deal_id": str(D[2])},
    ]  # fmt: skip
    by_outcome = run(
        con,
        {
            "entity": "activities",
            "filters": [{"field": "has_deal", "value": True}],
            "groupBy": [{"field": "deal_status"}],
            "aggregations": [{"fn": "count", "name": "activities"}, {"fn": "count_distinct", "field": "deal_id"}],
        },
    )
    assert by_outcome == [
        {"deal_status": "lost", "activities": 1, "count_distinct_deal_id": 1},
        {"deal_status": "won", "activities": 3, "count_distinct_deal_id": 1},
    ]


def test_open_pipeline_by_stage_and_rotting(con: duckdb.DuckDBPyConnection) -> None:
    spec = {
        "entity": "deals",
        "filters": [{"field": "status", "value": "open"}],
        "groupBy": [{"field": "stage_order"}, {"field": "stage"}],
        "aggregations": [
            {"fn": "count", "name": "deals"},
            {"fn": "sum", "field": "amount", "name": "amount"},
            {"fn": "sum", "field": "weighted_amount", "name": "weighted"},
            {"fn": "sum", "field": "is_rotting", "name": "rotting"},
        ],
    }
    assert run(con, spec) == [
        {"stage_order": 3, "stage": "Proposal", "deals": 1, "amount": Decimal("2000.00"),
         "weighted": Decimal("1000.00"), "rotting": 1},
    ]  # fmt: skip


def test_funnel_view_counts_reached_stages_and_advances(con: duckdb.DuckDBPyConnection) -> None:
    spec = {
        "entity": "deal_funnel",
        "groupBy": [{"field": "stage_order"}, {"field": "stage"}],
        "aggregations": [{"fn": "count", "name": "reached"}, {"fn": "sum", "field": "advanced", "name": "advanced"}],
    }
    # d1 won through all; d2 lost at S2; d3 open at S3 (skipped S2: reached it); d4 lost at S3; d5 won directly.
    assert [(r["stage"], r["reached"], r["advanced"]) for r in run(con, spec)] == [
        ("Prospecting", 5, 5),
        ("Qualification", 5, 4),
        ("Proposal", 4, 2),
        ("Negotiation", 2, 2),
    ]


def test_time_in_stage_from_history(con: duckdb.DuckDBPyConnection) -> None:
    spec = {
        "entity": "stage_history",
        "filters": [{"field": "stage_is_closed", "value": False}, {"field": "is_current", "value": False}],
        "groupBy": [{"field": "stage"}],
        "aggregations": [{"fn": "avg", "field": "days_in_stage", "name": "days"}, {"fn": "count"}],
        "sort": [{"field": "days", "direction": "desc"}],
    }
    # S1 is first (1 day) in d1, d2, d3; S2 is 2nd in d1, d2 (2 days) and 1st in d4 (1 day); S3 3rd in d1 ...
    assert run(con, spec) == [
        {"stage": "Negotiation", "days": 4.0, "count": 1},
        {"stage": "Proposal", "days": 2.5, "count": 2},
        {"stage": "Qualification", "days": 5 / 3, "count": 3},
        {"stage": "Prospecting", "days": 1.0, "count": 3},
    ]


# Boolean filters keep rows whose value is that boolean (not unknown ones), written as the column itself.
def test_a_boolean_filter_is_the_column_itself(con: duckdb.DuckDBPyConnection) -> None:
    count = [{"fn": "count"}]
    spec = {"entity": "stage_history", "filters": [{"field": "is_current", "value": False}], "aggregations": count}
    assert "WHERE NOT (h.left_at IS NULL)\n" in builder.compile(spec)[0]
    assert run(con, spec) == [{"count": 9}]  # 14 stays, 5 of them current
    closed = {"entity": "deals", "filters": [{"field": "is_closed", "value": True}], "aggregations": count}
    assert run(con, closed) == [{"count": 4}]
    lost = {"entity": "activities", "filters": [{"field": "deal_is_won", "value": False}], "aggregations": count}
    assert run(con, lost) == [{"count": 1}]  # the activity on deal 2; those on no deal are neither


# Summaries of activities that need only the owner and the deal run on the rollup (one row per owner and deal)
# and give the numbers the activities give: checked with duplicate names, unknown and missing owners.
PER_REP = STANDARD_REPORTS["activities_per_rep"].spec.model_dump(mode="json", by_alias=True)
ROLLUP_SPECS: list[tuple[dict[str, Any], str]] = [
    (PER_REP, "activity_counts"),
    ({"entity": "activities", "groupBy": [{"field": "team"}],
      "filters": [{"field": "owner_id", "op": "in", "value": [str(ALICE), str(uuid.UUID(int=999))]}],
      "aggregations": [{"fn": "count"}, {"fn": "count", "field": "deal", "name": "named"},
                       {"fn": "count_distinct", "field": "deal_id", "name": "deals"},
                       {"fn": "sum", "field": "deal_is_won", "name": "won"}]}, "activity_counts"),
    ({"entity": "activities", "filters": [{"field": "has_deal", "value": False}],
      "aggregations": [{"fn": "count"}, {"fn": "count_distinct", "field": "owner_id", "name": "owners"}]},
     "activity_counts"),
    ({"entity": "activities", "groupBy": [{"field": "deal_status"}, {"field": "deal_is_won"}],
      "filters": [{"field": "deal_status", "op": "ne", "value": "won"}],
      "aggregations": [{"fn": "count"}, {"fn": "count", "field": "owner", "name": "named"}],
      "sort": [{"field": "count", "direction": "desc"}]}, "activity_counts"),
    ({"entity": "activities", "groupBy": [{"field": "owner_email"}],
      "filters": [{"field": "owner_id", "value": str(BOB)}], "aggregations": [{"fn": "count"}]}, "activity_counts"),
    ({"entity": "activities", "filters": [{"field": "owner_id", "value": str(uuid.UUID(int=999))}],
      "aggregations": [{"fn": "count"}, {"fn": "sum", "field": "has_deal"}, {"fn": "count_distinct", "field": "deal"}]},
     "activity_counts"),
    ({**PER_REP, "filters": [{"field": "occurred_date", "value": "this_month"}]}, "fact_activities"),
    ({"entity": "activities", "groupBy": [{"field": "type"}], "aggregations": [{"fn": "count"}]}, "fact_activities"),
    ({"entity": "activities", "groupBy": [{"field": "owner"}], "aggregations": [{"fn": "avg", "field": "has_deal"}]},
     "fact_activities"),
    ({"entity": "activities", "columns": ["owner", "deal_id"], "sort": [{"field": "owner"}]}, "fact_activities"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "table"), ROLLUP_SPECS)
def test_activity_summaries_on_the_rollup_give_the_activities_numbers(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, spec: dict[str, Any], table: str
) -> None:
    carol, carol_too, gone = uuid.UUID(int=102), uuid.UUID(int=103), uuid.UUID(int=104)
    con.execute("BEGIN")
    try:
        for user_id in (carol, carol_too):  # two reps of the same name in the same team
            insert(con, "dim_user", user_id=user_id, full_name="Carol Rep", email="carol@example.com", team_name="East")
        for i, (owner, deal) in enumerate(
            ((carol, 1), (carol, 3), (carol_too, 1), (carol_too, 1), (gone, 4), (None, 5), (None, None), (carol, None))
        ):
            insert(
                con,
                "fact_activities",
                activity_id=uuid.UUID(int=500 + i),
                type="meeting",
                owner_id=owner,
                deal_id=D[deal] if deal else None,
                occurred_at=ts(f"2026-03-1{i} 08:00"),
                occurred_date=date(2026, 3, 10 + i),
            )
        views.refresh(con)
        sql, _ = builder.compile(spec, today=TODAY)
        assert f"FROM {table} t" in sql
        rolled = run(con, spec)
        monkeypatch.setitem(builder.SOURCES, "activities", replace(builder.SOURCES["activities"], rollup=None))
        assert "FROM fact_activities t" in builder.compile(spec, today=TODAY)[0]
        assert rolled == run(con, spec) and rolled
    finally:
        con.execute("ROLLBACK")


# Dates, periods and timezones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "today", "expected"),
    [
        ("this_quarter", date(2026, 3, 31), {1, 2, 4, 5}),
        ("this_quarter", date(2026, 4, 1), set()),
        ("last_quarter", date(2026, 4, 1), {1, 2, 4, 5}),
        ("last_30_days", date(2026, 3, 31), {2, 4, 5}),
        ("this_month", date(2026, 3, 31), {2, 4, 5}),
        ("last_month", date(2026, 3, 31), {1}),
        ("ytd", date(2026, 2, 28), {1}),
        ("this_year", date(2026, 2, 28), {1, 2, 4, 5}),
    ],
)
def test_relative_periods_resolve_against_today(
    con: duckdb.DuckDBPyConnection, period: str, today: date, expected: set[int]
) -> None:
    spec = {"entity": "deals", "columns": ["name"], "filters": [{"field": "actual_close_date", "value": period}]}
    assert {int(r["name"].split()[1]) for r in run(con, spec, today=today)} == expected


def test_every_named_period_is_a_valid_span() -> None:
    for period in PERIODS:
        for today in (date(2026, 1, 1), date(2026, 2, 28), date(2024, 2, 29), date(2026, 12, 31)):
            start, end = resolve_period(period, today)
            assert start <= end
    assert resolve_period("last_quarter", date(2026, 2, 10)) == (date(2025, 10, 1), date(2025, 12, 31))
    assert resolve_period("this_week", date(2026, 3, 5)) == (date(2026, 3, 2), date(2026, 3, 8))
    assert resolve_period("next_quarter", date(2026, 11, 30)) == (date(2027, 1, 1), date(2027, 3, 31))


def test_timestamps_are_days_and_buckets_in_the_tenant_timezone(con: duckdb.DuckDBPyConnection) -> None:
    # Deal 2 was created 2026-01-31 23:30 UTC: already February 1st in Paris.
    on_feb_first = {"entity": "deals", "columns": ["name"], "filters": [{"field": "created_at", "value": "2026-02-01"}]}
    assert [r["name"] for r in run(con, on_feb_first, tz="Europe/Paris")] == ["Deal 2", "Deal 3"]
    assert [r["name"] for r in run(con, on_feb_first, tz="UTC")] == ["Deal 3"]
    by_month = {
        "entity": "deals",
        "groupBy": [{"field": "created_at", "bucket": "month"}],
        "aggregations": [{"fn": "count"}],
    }
    assert run(con, by_month, tz="Europe/Paris") == [
        {"created_at_month": date(2026, 1, 1), "count": 1},
        {"created_at_month": date(2026, 2, 1), "count": 3},
        {"created_at_month": date(2026, 3, 1), "count": 1},
    ]
    assert run(con, by_month, tz="UTC")[0] == {"created_at_month": date(2026, 1, 1), "count": 2}
    shown = run(con, {"entity": "deals", "columns": ["created_at"], "limit": 2}, tz="Europe/Paris")
    assert shown[1] == {"created_at": datetime(2026, 2, 1, 0, 30)}  # wall-clock time in Paris
    instant = {
        "entity": "deals",
        "columns": ["name"],
        "filters": [{"field": "created_at", "op": "between", "value": ["2026-01-31T23:00:00Z", "2026-02-01"]}],
    }
    assert [r["name"] for r in run(con, instant, tz="UTC")] == ["Deal 2", "Deal 3"]
    weeks = {
        "entity": "deals",
        "filters": [{"field": "status", "op": "ne", "value": "open"}],
        "groupBy": [{"field": "actual_close_date", "bucket": "quarter"}],
        "aggregations": [{"fn": "count"}],
    }
    assert run(con, weeks) == [{"actual_close_date_quarter": date(2026, 1, 1), "count": 4}]


# Operators ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"field": "lead_source", "op": "ne", "value": "Website"}, {2, 3, 4}),  # empty sources kept
        ({"field": "lead_source", "op": "not_in", "value": ["Referral"]}, {1, 2, 5}),
        ({"field": "lead_source", "op": "in", "value": ["Referral", "Website"]}, {1, 3, 4, 5}),
        ({"field": "lead_source", "op": "is_null"}, {2}),
        ({"field": "account", "op": "not_null"}, {1, 2, 3, 5}),
        ({"field": "lost_reason", "op": "contains", "value": "PRICE"}, {4}),
        ({"field": "amount", "op": "between", "value": [500, "1000"]}, {1, 2, 5}),
        ({"field": "amount", "op": "gt", "value": 700}, {1, 3}),
        ({"field": "amount", "op": "lte", "value": "700.00"}, {2, 4, 5}),
        ({"field": "owner_id", "value": str(ALICE)}, {1, 2}),
        ({"field": "deal_id", "op": "in", "value": [str(D[3]), str(D[4])]}, {3, 4}),
        ({"field": "is_won", "op": "ne", "value": True}, {2, 3, 4}),
        ({"field": "created_date", "op": "gte", "value": "2026-02-10"}, {4, 5}),
        ({"field": "created_at", "op": "lt", "value": "2026-02-01"}, {1, 2}),
        ({"field": "created_at", "op": "gt", "value": "2026-02-01"}, {4, 5}),
        ({"field": "actual_close_date", "op": "ne", "value": "this_month"}, {1, 3}),
        ({"field": "cycle_days", "op": "eq", "value": 4}, {5}),
    ],
)
def test_filter_operators(con: duckdb.DuckDBPyConnection, flt: dict[str, Any], expected: set[int]) -> None:
    rows = run(con, {"entity": "deals", "columns": ["name"], "filters": [flt]})
    assert {int(r["name"].split()[1]) for r in rows} == expected


def test_limit_cuts_and_says_so(con: duckdb.DuckDBPyConnection) -> None:
    result = builder.run(con, {"entity": "deals", "columns": ["name"], "limit": 3}, today=TODAY)
    assert result.frame.height == 3 and result.truncated
    assert not builder.run(con, {"entity": "deals", "limit": 5}, today=TODAY).truncated
    assert ReportSpec(entity="deals").limit == 1000
    assert "limit: Input should be less than or equal to 10000" in refusal({"entity": "deals", "limit": MAX_LIMIT + 1})


def test_a_saved_spec_round_trips_through_json(con: duckdb.DuckDBPyConnection) -> None:
    spec = parse_spec(
        {
            "entity": "deals",
            "filters": [
                {"field": "amount", "op": "between", "value": ["10.5", 5000]},
                {"field": "created_at", "op": "gte", "value": "2026-01-01T00:00:00+01:00"},
                {"field": "owner_id", "op": "in", "value": [str(ALICE)]},
                {"field": "expected_close_date", "value": "next_quarter"},
            ],
            "groupBy": [{"field": "created_date", "bucket": "week", "name": "week"}],
            "aggregations": [{"fn": "sum", "field": "amount", "name": "total", "label": "Pipeline"}],
            "chart": {"type": "line"},
        }
    )
    stored = spec.model_dump(mode="json", by_alias=True)
    assert stored["groupBy"] == [{"field": "created_date", "bucket": "week", "name": "week"}]
    assert stored["chart"] == {"type": "line", "x": "week", "y": ["total"], "series": None}
    again = parse_spec(stored)
    assert builder.compile(again, today=TODAY) == builder.compile(spec, today=TODAY)


# Refusals and injection ------------------------------------------------------------------------------------


def test_errors_name_the_path_and_what_to_fix() -> None:
    message = refusal({"entity": "deals", "groupBy": [{"field": "colour"}]})
    assert message.startswith("Invalid report spec: groupBy[0].field: 'colour' is not a field of deals; fields: ")
    assert "amount" in message and "is_won" in message
    cases = [
        ({"entity": "deals", "filters": [{"field": "amount", "value": "lots"}]}, "filters[0].value: expected an"),
        ({"entity": "deals", "filters": [{"field": "is_won", "value": "maybe"}]}, "filters[0].value: expected true or"),
        ({"entity": "deals", "filters": [{"field": "amount", "op": "contains", "value": "1"}]}, "applies to text"),
        ({"entity": "deals", "filters": [{"field": "stage", "op": "gt", "value": "a"}]}, "applies to numbers and"),
        ({"entity": "deals", "filters": [{"field": "created_date", "value": "last_fortnight"}]}, "expected a date"),
        ({"entity": "deals", "filters": [{"field": "amount", "op": "between", "value": [9, 1]}]}, "from <= to"),
        ({"entity": "deals", "filters": [{"field": "name", "op": "is_null", "value": "x"}]}, "takes no value"),
        ({"entity": "deals", "filters": [{"field": "name", "op": "in", "value": []}]}, "non-empty list"),
        ({"entity": "deals", "filters": [{"field": "name", "op": "like"}]}, "filters[0].op: Input should be"),
        ({"entity": "deals", "groupBy": [{"field": "amount"}]}, "groupBy[0].field: 'amount' cannot be grouped"),
        ({"entity": "deals", "groupBy": [{"field": "created_at"}]}, "groupBy[0].bucket: a timestamp needs a bucket"),
        ({"entity": "deals", "groupBy": [{"field": "stage", "bucket": "month"}]}, "bucket applies to dates"),
        ({"entity": "deals", "aggregations": [{"fn": "sum", "field": "stage"}]}, "aggregations[0].fn: 'stage' cannot"),
        ({"entity": "deals", "aggregations": [{"fn": "median", "field": "is_won"}]}, "median does not apply"),
        ({"entity": "deals", "aggregations": [{"fn": "avg"}]}, "aggregations[0].field: avg needs a field"),
        (
            {"entity": "deals", "aggregations": [{"fn": "count", "name": "n"}, {"fn": "sum", "field": "amount",
                                                                                "name": "n"}]},
            "output name 'n' is used twice",
        ),
        ({"entity": "deals", "aggregations": [{"fn": "count"}], "sort": [{"field": "amount"}]}, "sort[0].field: "),
        ({"entity": "deals", "aggregations": [{"fn": "count"}], "columns": ["name"]}, "columns: a report with"),
        ({"entity": "deals", "aggregations": [{"fn": "count"}], "chart": {"type": "bar"}}, "chart.x: a bar chart"),
        ({"entity": "deals", "columns": ["name"], "chart": {"type": "pie", "x": "name"}}, "chart.y: a pie chart"),
        ({"entity": "deals", "columns": ["name"], "chart": {"type": "bar", "x": "nope"}}, "chart.x: 'nope' is not"),
        ({"entity": "deals", "colour": 1}, "colour: unknown field: remove it"),
        ({"entity": "leads"}, "entity: Input should be 'deals'"),
    ]  # fmt: skip
    for spec, expected in cases:
        assert expected in refusal(spec), spec
    with pytest.raises(ValidationFailed) as info:
        parse_spec({"entity": "deals", "groupBy": [{"field": "x"}], "filters": [{"field": "y"}]})
    assert [d["field"] for d in info.value.details] == ["filters[0].field", "groupBy[0].field"]


@pytest.mark.parametrize(
    "spec",
    [
        {"entity": "deals", "columns": ['name" FROM dim_user; --']},
        {"entity": "deals", "columns": ["name; DROP TABLE fact_deals"]},
        {"entity": "deals", "groupBy": [{"field": "d.name"}]},
        {"entity": "deals", "groupBy": [{"field": "stage", "name": 'x" FROM dim_user --'}]},
        {"entity": "deals", "aggregations": [{"fn": "count", "name": "n; DROP TABLE fact_deals"}]},
        {"entity": "deals", "aggregations": [{"fn": "sum(amount)); --", "field": "amount"}]},
        {"entity": "deals", "filters": [{"field": "1=1 OR name", "value": "x"}]},
        {"entity": "deals", "filters": [{"field": "name", "op": "= 'x' OR 1=1 --", "value": "x"}]},
        {"entity": "deals", "sort": [{"field": "name", "direction": "desc; DROP TABLE fact_deals"}]},
        {"entity": "fact_deals; DROP TABLE fact_deals"},
        {"entity": "deals", "groupBy": [{"field": "created_date", "bucket": "month') --"}]},
    ],
)
def test_identifiers_outside_the_catalogue_are_refused(spec: dict[str, Any]) -> None:
    assert refusal(spec)  # refused at validation (pytest.raises in `refusal`), with a message; never compiled


def test_values_are_bound_parameters_and_harmless(con: duckdb.DuckDBPyConnection) -> None:
    attacks = [
        "x'; DROP TABLE fact_deals; --",
        "' OR '1'='1",
        "%' OR 1=1 --",
        'Deal 1" OR "1"="1',
        "$p0",
    ]
    for attack in attacks:
        for op in ("eq", "contains", "in"):
            value = [attack] if op == "in" else attack
            spec = {"entity": "deals", "columns": ["name"], "filters": [{"field": "name", "op": op, "value": value}]}
            benign = {**spec, "filters": [{"field": "name", "op": op, "value": ["x"] if op == "in" else "x"}]}
            sql, params = builder.compile(spec, today=TODAY)
            assert sql == builder.compile(benign, today=TODAY)[0]  # the SQL text never depends on a value
            assert attack in params.values()
            assert run(con, spec) == []
    assert con.execute("SELECT count(*) FROM fact_deals").fetchone() == (5,)
    # Typed values refuse what is not of the field's type before any SQL exists.
    assert "expected an id" in refusal({"entity": "deals", "filters": [{"field": "deal_id", "value": "1 OR 1=1"}]})
    assert "expected a whole number" in refusal(
        {"entity": "deals", "filters": [{"field": "probability", "value": "1; DROP TABLE x"}]}
    )


def test_unknown_timezone_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValidationFailed, match="Unknown timezone"):
        builder.run(con, {"entity": "deals"}, tz="Mars/Olympus")
