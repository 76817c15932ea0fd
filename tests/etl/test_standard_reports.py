"""The standard reports (etl/reports/standard.py) on a real small demo tenant loaded into its warehouse by
etl.pipeline.run, each checked against numbers computed independently: the demo generator's truth file (what
the history realised, counted while it was made) or a direct SQL count on PostgreSQL."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from core.demo import service as demo
from etl import pipeline, warehouse
from etl.reports import builder
from etl.reports.standard import STANDARD_REPORTS
from tests.core.conftest import owner_rows
from tests.factories import PASSWORD

AS_OF = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def seeded() -> demo.SeedResult:
    seeded = demo.seed(slug=f"rep-{secrets.token_hex(4)}", scale="small", seed=7, as_of=AS_OF, password=PASSWORD)
    pipeline.run(seeded.tenant_id, full=True)
    return seeded


@pytest.fixture(scope="module")
def truth(seeded: demo.SeedResult) -> dict[str, Any]:
    return demo.read_truth(seeded.slug)


@pytest.fixture(scope="module")
def tz(seeded: demo.SeedResult) -> str:
    return str(owner_rows("SELECT timezone FROM tenants WHERE id = :t", t=seeded.tenant_id)[0].timezone)


@pytest.fixture(scope="module")
def con(seeded: demo.SeedResult) -> Iterator[duckdb.DuckDBPyConnection]:
    con = warehouse.open_tenant(seeded.tenant_id)
    yield con
    con.close()


def report(con: duckdb.DuckDBPyConnection, key: str, tz: str) -> list[dict[str, Any]]:
    result = builder.run(con, STANDARD_REPORTS[key].spec)  # the timezone the warehouse was loaded with
    assert not result.truncated and result.tz == tz
    return result.frame.to_dicts()


def pg(sql: str, seeded: demo.SeedResult, **params: Any) -> list[Any]:
    return owner_rows(sql, t=seeded.tenant_id, **params)


LIVE_DEALS = "deals d WHERE d.tenant_id = :t AND d.deleted_at IS NULL"


def names(truth: dict[str, Any]) -> dict[str, str]:
    """email -> full name of each demo user."""
    return {p["email"]: f"{p['first_name']} {p['last_name']}" for p in truth["planted"]["people"]}


def test_every_standard_report_runs_and_has_rows(con: duckdb.DuckDBPyConnection, tz: str) -> None:
    assert len(STANDARD_REPORTS) == 14
    for key, standard in STANDARD_REPORTS.items():
        assert standard.name and standard.description and standard.key == key
        result = builder.run(con, standard.spec, tz=tz)
        assert result.frame.height > 0, key
        assert result.frame.columns == [c.name for c in result.columns]


def test_pipeline_by_stage_matches_postgres(con: duckdb.DuckDBPyConnection, seeded: demo.SeedResult, tz: str) -> None:
    expected = pg(
        "SELECT s.name, count(*) AS n, sum(d.amount) AS amount,"
        " sum(d.amount * d.probability / 100.0) AS weighted FROM deals d JOIN deal_stages s ON s.id = d.stage_id"
        " WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND NOT d.is_closed"
        " GROUP BY s.name, s.display_order ORDER BY s.display_order",
        seeded,
    )
    rows = report(con, "pipeline_by_stage", tz)
    assert [(r["stage"], r["deals"], r["amount"]) for r in rows] == [(e.name, e.n, e.amount) for e in expected]
    for row, e in zip(rows, expected, strict=True):
        assert abs(row["weighted_amount"] - e.weighted) <= Decimal("0.01") * e.n  # rounded per deal
    assert sum(r["deals"] for r in rows) > 0


def test_funnel_conversion_matches_stage_history_in_postgres(
    con: duckdb.DuckDBPyConnection, seeded: demo.SeedResult, tz: str
) -> None:
    # Per closed deal, the furthest open stage it was ever in; a won deal passed every open stage.
    expected = pg(
        """
        WITH furthest AS (
            SELECT d.id, d.is_won, max(s.display_order) FILTER (WHERE NOT s.is_closed_stage) AS reached
            FROM deals d
            JOIN deal_stage_history h ON h.deal_id = d.id
            JOIN deal_stages s ON s.id = h.to_stage_id
            WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.is_closed
            GROUP BY d.id, d.is_won
        )
        SELECT o.name, count(*) FILTER (WHERE f.is_won OR f.reached >= o.display_order) AS reached,
               count(*) FILTER (WHERE f.is_won OR f.reached > o.display_order) AS advanced
        FROM deal_stages o CROSS JOIN furthest f
        WHERE o.tenant_id = :t AND NOT o.is_closed_stage
        GROUP BY o.name, o.display_order ORDER BY o.display_order
        """,
        seeded,
    )
    rows = report(con, "funnel_conversion", tz)
    assert [(r["stage"], r["reached"], r["advanced"]) for r in rows] == [
        (e.name, e.reached, e.advanced) for e in expected
    ]
    for row in rows:
        assert row["conversion"] == pytest.approx(row["advanced"] / row["reached"])
    assert rows[0]["reached"] >= rows[-1]["reached"]  # a funnel narrows


def test_win_rate_by_rep_is_what_the_generator_realised(
    con: duckdb.DuckDBPyConnection, truth: dict[str, Any], tz: str
) -> None:
    rows = {r["owner"]: r for r in report(con, "win_rate_by_rep", tz)}
    reps = truth["realized"]["win_rate_by_rep"]
    full_names = names(truth)
    assert len(reps) == 6
    for email, realised in reps.items():
        row = rows[full_names[email]]
        assert (row["closed"], row["won"]) == (realised["closed"], realised["won"]), email
        assert row["win_rate"] == pytest.approx(realised["win_rate"], abs=5e-5)
    assert sum(r["closed"] for r in rows.values()) == sum(r["closed"] for r in reps.values())


def test_win_rate_by_team_is_the_sum_of_its_reps(
    con: duckdb.DuckDBPyConnection, truth: dict[str, Any], tz: str
) -> None:
    teams: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for realised in truth["realized"]["win_rate_by_rep"].values():
        teams[realised["team"]][0] += realised["closed"]
        teams[realised["team"]][1] += realised["won"]
    rows = report(con, "win_rate_by_team", tz)
    assert {r["team"]: [r["closed"], r["won"]] for r in rows} == teams
    assert [r["win_rate"] for r in rows] == sorted((r["win_rate"] for r in rows), reverse=True)


def test_win_rate_by_lead_source_is_what_the_generator_realised(
    con: duckdb.DuckDBPyConnection, truth: dict[str, Any], tz: str
) -> None:
    rows = {r["lead_source"]: r for r in report(con, "win_rate_by_lead_source", tz)}
    by_source = {k: v for k, v in truth["realized"]["by_source"].items() if v.get("closed")}
    assert {k: (r["closed"], r["won"]) for k, r in rows.items()} == {
        k: (v["closed"], v["won"]) for k, v in by_source.items()
    }
    for source, realised in by_source.items():
        assert rows[source]["win_rate"] == pytest.approx(realised["win_rate"], abs=5e-5)


def test_win_rate_by_industry_matches_postgres(
    con: duckdb.DuckDBPyConnection, seeded: demo.SeedResult, tz: str
) -> None:
    expected = pg(
        "SELECT a.industry, count(*) AS closed, count(*) FILTER (WHERE d.is_won) AS won FROM deals d"
        " LEFT JOIN accounts a ON a.id = d.account_id AND a.deleted_at IS NULL"
        " WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.is_closed GROUP BY a.industry",
        seeded,
    )
    rows = report(con, "win_rate_by_industry", tz)
    assert {r["industry"]: (r["closed"], r["won"]) for r in rows} == {e.industry: (e.closed, e.won) for e in expected}
    assert len(rows) >= 5


def test_average_deal_size_and_sales_cycle(
    con: duckdb.DuckDBPyConnection, seeded: demo.SeedResult, truth: dict[str, Any], tz: str
) -> None:
    reps = truth["realized"]["win_rate_by_rep"].values()
    won = sum(r["won"] for r in reps)
    won_amount = sum(Decimal(str(r["won_amount"])) for r in reps)
    [size] = report(con, "average_deal_size", tz)
    assert size["won"] == won and size["won_amount"] == won_amount
    assert size["average_amount"] == (won_amount / won).quantize(Decimal("0.01"))
    [median] = pg(f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS m FROM {LIVE_DEALS} AND is_won",
                  seeded)  # fmt: skip
    assert size["median_amount"] == pytest.approx(median.m, abs=0.01)

    [cycle] = report(con, "sales_cycle_length", tz)
    [expected] = pg(
        f"SELECT avg(d.actual_close_date - (d.created_at AT TIME ZONE :tz)::date) AS days FROM {LIVE_DEALS}"
        " AND d.is_won",
        seeded,
        tz=tz,
    )
    assert cycle["won"] == won
    assert cycle["average_days"] == pytest.approx(float(expected.days), abs=1e-6)
    # The generator's own mean (fractional days from creation to close) is within a day of whole calendar days.
    realised = sum(r["mean_won_cycle_days"] * r["won"] for r in reps if r["won"]) / won
    assert cycle["average_days"] == pytest.approx(realised, abs=1.0)


def test_time_in_stage_matches_postgres(con: duckdb.DuckDBPyConnection, seeded: demo.SeedResult, tz: str) -> None:
    expected = pg(
        """
        WITH stays AS (
            SELECT h.to_stage_id, h.changed_at,
                   lead(h.changed_at) OVER (PARTITION BY h.deal_id ORDER BY h.changed_at, h.id) AS left_at
            FROM deal_stage_history h JOIN deals d ON d.id = h.deal_id
            WHERE h.tenant_id = :t AND d.deleted_at IS NULL
        )
        SELECT s.name, count(*) AS n, avg(extract(epoch FROM st.left_at - st.changed_at) / 86400.0) AS days
        FROM stays st JOIN deal_stages s ON s.id = st.to_stage_id
        WHERE st.left_at IS NOT NULL AND NOT s.is_closed_stage
        GROUP BY s.name, s.display_order ORDER BY s.display_order
        """,
        seeded,
    )
    rows = report(con, "time_in_stage", tz)
    assert [(r["stage"], r["stays"]) for r in rows] == [(e.name, e.n) for e in expected]
    for row, e in zip(rows, expected, strict=True):
        assert row["average_days"] == pytest.approx(float(e.days), rel=1e-6)
    means = {s["name"]: s["mean_days"] for s in demo.read_truth(seeded.slug)["stages"] if "mean_days" in s}
    assert set(means) == {r["stage"] for r in rows}


def test_activities_per_rep_and_per_won_and_lost_deal_match_postgres(
    con: duckdb.DuckDBPyConnection, seeded: demo.SeedResult, tz: str
) -> None:
    expected = pg(
        "SELECT u.first_name || ' ' || u.last_name AS owner, count(*) AS n, count(a.deal_id) AS on_deals"
        " FROM activities a JOIN users u ON u.id = a.owner_id WHERE a.tenant_id = :t AND a.deleted_at IS NULL"
        " GROUP BY 1",
        seeded,
    )
    rows = report(con, "activities_per_rep", tz)
    assert {r["owner"]: (r["activities"], r["on_deals"]) for r in rows} == {
        e.owner: (e.n, e.on_deals) for e in expected
    }
    assert [r["activities"] for r in rows] == sorted((r["activities"] for r in rows), reverse=True)

    outcomes = pg(
        "SELECT CASE WHEN d.is_won THEN 'won' ELSE 'lost' END AS status, count(DISTINCT d.id) AS deals,"
        " count(a.id) AS activities FROM deals d"
        " LEFT JOIN activities a ON a.deal_id = d.id AND a.deleted_at IS NULL"
        " WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.is_closed GROUP BY 1",
        seeded,
    )
    rows = {r["status"]: r for r in report(con, "activities_by_outcome", tz)}
    for e in outcomes:
        assert (rows[e.status]["deals"], rows[e.status]["activities"]) == (e.deals, e.activities)
        assert rows[e.status]["activities_per_deal"] == pytest.approx(e.activities / e.deals)
    # The demo plants engagement as a driver of winning: won deals carry more activities than lost ones.
    assert rows["won"]["activities_per_deal"] > rows["lost"]["activities_per_deal"]


def test_lost_reasons_are_what_the_generator_realised(
    con: duckdb.DuckDBPyConnection, truth: dict[str, Any], tz: str
) -> None:
    rows = report(con, "lost_reasons", tz)
    assert {r["lost_reason"] or "": r["deals"] for r in rows} == truth["realized"]["lost_reasons"]
    assert [r["deals"] for r in rows] == sorted((r["deals"] for r in rows), reverse=True)


def test_revenue_by_month_is_what_the_generator_realised(
    con: duckdb.DuckDBPyConnection, truth: dict[str, Any], tz: str
) -> None:
    assert tz == "UTC"  # the generator counts months in UTC
    rows = report(con, "revenue_by_month", tz)
    expected = {m: v for m, v in truth["realized"]["monthly"].items() if v.get("won")}
    assert {r["month"].strftime("%Y-%m"): (r["won"], r["revenue"]) for r in rows} == {
        m: (v["won"], Decimal(str(v["won_amount"])).quantize(Decimal("0.01"))) for m, v in expected.items()
    }
    assert [r["month"] for r in rows] == sorted(r["month"] for r in rows)


def test_stale_deals_match_the_rotting_rule_in_postgres(
    con: duckdb.DuckDBPyConnection, seeded: demo.SeedResult, truth: dict[str, Any], tz: str
) -> None:
    [(loaded_at,)] = con.sql("SELECT value FROM etl_state WHERE name = 'loaded_at'").fetchall()
    expected = pg(
        "SELECT d.name, floor(extract(epoch FROM :now - d.stage_entered_at) / 86400) AS days FROM deals d"
        " JOIN deal_stages s ON s.id = d.stage_id WHERE d.tenant_id = :t AND d.deleted_at IS NULL"
        " AND NOT d.is_closed AND s.rotting_days IS NOT NULL"
        " AND floor(extract(epoch FROM :now - d.stage_entered_at) / 86400) > s.rotting_days",
        seeded,
        now=datetime.fromisoformat(loaded_at),
    )
    rows = report(con, "stale_deals", tz)
    assert sorted(r["name"] for r in rows) == sorted(e.name for e in expected)
    assert [r["days_in_stage"] for r in rows] == sorted((r["days_in_stage"] for r in rows), reverse=True)
    assert abs(len(rows) - truth["realized"]["open_deals_rotting"]) <= 2  # the generator counted at its as-of
