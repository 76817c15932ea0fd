"""Albedo's figure tools (metric, compare_periods, lost_reasons, forecast) and insight tools (next_actions,
insights) on a small demo workspace loaded into its warehouse. Every figure is checked against a truth computed
independently with SQL on PostgreSQL (as the database owner), to the cent; a rep gets only their own figures;
forecasts, actions and insights are those stored by the jobs and services that make them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

import ai.forecasting.tasks  # noqa: F401  (registers the forecasts.revenue job in this process)
from ai.albedo.contract import ToolResult
from ai.albedo.tools import ToolContext, call
from ai.insights import actions as nba
from ai.models import registry
from core.actor import Actor
from core.auth import service as auth
from core.churn import service as churn
from core.db import unit_of_work
from core.demo import service as demo
from core.forecasts import service as forecasts
from core.insights import service as insights
from core.jobs import queue
from core.jobs import service as jobs
from core.tenants import calendar
from etl import pipeline
from tests.core.conftest import owner_rows
from tests.factories import PASSWORD, quiesce

H1 = (date(2026, 1, 1), date(2026, 6, 30))
H2_2025 = (date(2025, 7, 1), date(2025, 12, 31))


@dataclass
class World:
    seeded: demo.SeedResult
    tenant_id: UUID
    admin: Actor
    rep: Actor
    rep_id: UUID
    system: Actor
    today: date


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    seeded = demo.seed(slug=f"alm-{secrets.token_hex(4)}", scale="small", seed=7, password=PASSWORD)
    pipeline.run(seeded.tenant_id, full=True)
    t = seeded.tenant_id
    admin_id = owner_rows("SELECT id FROM users WHERE tenant_id = :t AND email = :e", t=t, e=seeded.admin_email)[0][0]
    # the rep who owns the most deals (so their figures are not empty)
    rep_id = owner_rows(
        """SELECT u.id FROM users u JOIN roles r ON r.id = u.role_id JOIN deals d ON d.owner_id = u.id
           WHERE u.tenant_id = :t AND r.name = 'rep' GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT 1""",
        t=t,
    )[0][0]
    system = Actor.system(t)
    with unit_of_work(tenant_id=t) as session:
        admin = auth.load_actor(session, tenant_id=t, user_id=admin_id)
        rep = auth.load_actor(session, tenant_id=t, user_id=rep_id)
    with unit_of_work(system) as session:
        today = calendar.today(session, system)
    assert rep.scope == "own" and admin.scope == "all"
    yield World(seeded, t, admin, rep, rep_id, system, today)
    quiesce(t)


def ask(world: World, actor: Actor, name: str, **arguments: Any) -> ToolResult:
    with unit_of_work(actor) as session:
        ctx = ToolContext(session=session, actor=actor, today=world.today, now=datetime.now(UTC), tz="UTC")
        _, result = call(ctx, name, arguments)
    return result


def period(span: tuple[date, date]) -> dict[str, str]:
    return {"start": span[0].isoformat(), "end": span[1].isoformat()}


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def sql(world: World, query: str, **params: Any) -> list[Any]:
    return owner_rows(query, t=world.tenant_id, **params)


LIVE = "d.tenant_id = :t AND d.deleted_at IS NULL"
CLOSED_IN = "d.is_closed AND d.actual_close_date BETWEEN :a AND :b"


def rows_of(result: ToolResult) -> list[list[Any]]:
    assert result.ok, result.error
    assert result.table is not None
    return result.table.rows


def table_of(result: ToolResult) -> dict[Any, list[Any]]:
    return {row[0]: row[1:] for row in rows_of(result)}


# Metrics -----------------------------------------------------------------------------------------------------------


def test_counts_and_amounts_equal_the_database(world: World) -> None:
    a, b = H1
    created = sql(
        world, f"SELECT count(*) FROM deals d WHERE {LIVE} AND d.created_at::date BETWEEN :a AND :b", a=a, b=b
    )
    result = ask(world, world.admin, "metric", measure="count_deals", period=period(H1))
    assert result.ok, result.error
    assert result.value == created[0][0] > 0
    assert result.facts["date_field"] == "created" and result.facts["scope"] == "All records you may see"
    assert result.facts["period"] == "2026-01-01 to 2026-06-30"

    open_amount, open_weighted = sql(
        world,
        f"SELECT sum(amount), sum(round(amount * probability / 100.0, 2)) FROM deals d WHERE {LIVE} AND NOT is_closed",
    )[0]
    pipeline_now = ask(world, world.admin, "metric", measure="pipeline_amount")
    assert money(pipeline_now.value) == open_amount > 0
    assert pipeline_now.facts["period"] == "all time"
    weighted = ask(world, world.admin, "metric", measure="weighted_pipeline")
    assert money(weighted.value) == open_weighted

    won, won_n = sql(
        world,
        f"SELECT coalesce(sum(amount), 0), count(*) FROM deals d WHERE {LIVE} AND {CLOSED_IN} AND is_won",
        a=a,
        b=b,
    )[0]
    result = ask(world, world.admin, "metric", measure="won_amount", period=period(H1))
    assert money(result.value) == won > 0 and result.facts["deals"] == won_n
    assert result.facts["date_field"] == "closed" and any("Status is won" in w for w in result.facts["filters"])
    assert result.facts["currency"] == "USD" and result.facts["kind"] == "money"

    avg = ask(world, world.admin, "metric", measure="avg_deal_size", period=period(H1))
    assert money(avg.value) == (won / won_n).quantize(Decimal("0.01"))

    closed, wins = sql(
        world, f"SELECT count(*), count(*) FILTER (WHERE is_won) FROM deals d WHERE {LIVE} AND {CLOSED_IN}", a=a, b=b
    )[0]
    rate = ask(world, world.admin, "metric", measure="win_rate", period=period(H1))
    assert rate.value == pytest.approx(wins / closed, abs=1e-4)
    assert (rate.facts["won"], rate.facts["closed"]) == (wins, closed)

    cycle = sql(
        world,
        f"SELECT avg(actual_close_date - created_at::date) FROM deals d WHERE {LIVE} AND {CLOSED_IN} AND is_won",
        a=a,
        b=b,
    )[0][0]
    days = ask(world, world.admin, "metric", measure="cycle_time", period=period(H1))
    assert days.value == pytest.approx(float(cycle), abs=0.05)

    activities = sql(
        world,
        "SELECT count(*) FROM activities WHERE tenant_id = :t AND deleted_at IS NULL"
        " AND occurred_at::date BETWEEN :a AND :b",
        a=a,
        b=b,
    )[0][0]
    assert ask(world, world.admin, "metric", measure="count_activities", period=period(H1)).value == activities

    leads, converted = sql(
        world,
        "SELECT count(*), count(*) FILTER (WHERE lifecycle_stage IN ('opportunity', 'customer', 'evangelist'))"
        " FROM contacts WHERE tenant_id = :t AND deleted_at IS NULL AND merged_into_id IS NULL",
    )[0]
    conversion = ask(world, world.admin, "metric", measure="conversion")
    assert conversion.value == pytest.approx(converted / leads, abs=1e-4)
    assert (conversion.facts["converted"], conversion.facts["contacts"]) == (converted, leads)


def test_grouped_by_owner_and_by_stage_with_a_chart(world: World) -> None:
    a, b = H1
    truth = {
        name: money(amount)
        for name, amount in sql(
            world,
            f"""SELECT u.first_name || ' ' || u.last_name, sum(d.amount) FROM deals d JOIN users u ON u.id = d.owner_id
                WHERE {LIVE} AND {CLOSED_IN} AND d.is_won GROUP BY 1""",
            a=a,
            b=b,
        )
    }
    result = ask(world, world.admin, "metric", measure="won_amount", period=period(H1), group_by="owner")
    rows = table_of(result)
    assert {k: money(v[0]) for k, v in rows.items()} == truth
    assert [r[1] for r in rows_of(result)] == sorted((r[1] for r in rows_of(result)), reverse=True)
    assert result.chart is not None and (result.chart.type, result.chart.x, result.chart.y) == ("bar", "group", "value")
    assert result.facts["grouped_by"] == "owner"

    by_stage = sql(
        world,
        f"""SELECT s.name, s.display_order, count(*), sum(d.amount) FROM deals d JOIN deal_stages s ON s.id = d.stage_id
            WHERE {LIVE} AND NOT d.is_closed GROUP BY 1, 2 ORDER BY 2""",
    )
    result = ask(world, world.admin, "metric", measure="pipeline_amount", group_by="stage")
    assert [(r[0], money(r[1]), r[2]) for r in rows_of(result)] == [(n, money(s), c) for n, _, c, s in by_stage]

    rate = ask(world, world.admin, "metric", measure="win_rate", group_by="lead_source", period=period(H1))
    truth_rate = {
        (src or "(none)"): w / n
        for src, n, w in sql(
            world,
            f"SELECT lead_source, count(*), count(*) FILTER (WHERE is_won) FROM deals d WHERE {LIVE} AND {CLOSED_IN}"
            " GROUP BY 1",
            a=a,
            b=b,
        )
    }
    got = table_of(rate)
    assert set(got) == set(truth_rate)
    for key, value in truth_rate.items():
        assert got[key][0] == pytest.approx(value, abs=1e-4)

    monthly = ask(world, world.admin, "metric", measure="won_amount", period=period(H1), group_by="month")
    assert monthly.chart is not None and monthly.chart.type == "line"
    months = sql(
        world,
        f"""SELECT to_char(date_trunc('month', actual_close_date), 'YYYY-MM-DD'), sum(amount) FROM deals d
            WHERE {LIVE} AND {CLOSED_IN} AND is_won GROUP BY 1 ORDER BY 1""",
        a=a,
        b=b,
    )
    assert [(r[0], money(r[1])) for r in rows_of(monthly)] == [(m, money(s)) for m, s in months]


def test_filters_and_owner_me(world: World) -> None:
    a, b = H1
    truth = sql(
        world,
        f"SELECT count(*) FROM deals d WHERE {LIVE} AND {CLOSED_IN} AND NOT is_won AND amount >= 20000",
        a=a,
        b=b,
    )[0][0]
    result = ask(
        world,
        world.admin,
        "metric",
        measure="count_deals",
        period=period(H1),
        date_field="closed",
        filters=[{"field": "status", "value": "lost"}, {"field": "amount", "op": "gte", "value": 20000}],
    )
    assert result.value == truth
    assert "Amount is at least 20000" in result.facts["filters"]

    mine = ask(world, world.rep, "metric", measure="count_deals", owner="me")
    assert (
        mine.value == sql(world, f"SELECT count(*) FROM deals d WHERE {LIVE} AND owner_id = :r", r=world.rep_id)[0][0]
    )


def test_a_rep_gets_only_their_own_figures(world: World) -> None:
    a, b = H2_2025
    rep = world.rep
    won, n = sql(
        world,
        f"SELECT coalesce(sum(amount), 0), count(*) FROM deals d WHERE {LIVE} AND {CLOSED_IN} AND is_won"
        " AND owner_id = :r",
        a=a,
        b=b,
        r=world.rep_id,
    )[0]
    everyone = sql(world, f"SELECT sum(amount) FROM deals d WHERE {LIVE} AND {CLOSED_IN} AND is_won", a=a, b=b)[0][0]
    result = ask(world, rep, "metric", measure="won_amount", period=period(H2_2025))
    assert money(result.value) == money(won) and result.facts["deals"] == n
    assert money(result.value) < everyone
    assert result.facts["scope"] == "Your records only"
    # grouping by owner cannot reveal anyone else
    grouped = ask(world, rep, "metric", measure="count_deals", group_by="owner")
    name = sql(world, "SELECT first_name || ' ' || last_name FROM users WHERE id = :r", r=world.rep_id)[0][0]
    assert list(table_of(grouped)) == [name]
    # nor can a filter on another owner widen it
    other = sql(world, "SELECT owner_id FROM deals d WHERE tenant_id = :t AND owner_id <> :r LIMIT 1", r=world.rep_id)
    probe = ask(world, rep, "metric", measure="count_deals", owner=str(other[0][0]))
    assert probe.ok and probe.value == 0
    pipeline_rep = ask(world, rep, "metric", measure="pipeline_amount")
    truth = sql(
        world,
        f"SELECT coalesce(sum(amount), 0) FROM deals d WHERE {LIVE} AND NOT is_closed AND owner_id = :r",
        r=world.rep_id,
    )[0][0]
    assert money(pipeline_rep.value) == money(truth)


def test_compare_periods(world: World) -> None:
    def won(span: tuple[date, date]) -> Decimal:
        return money(
            sql(
                world,
                f"SELECT coalesce(sum(amount), 0) FROM deals d WHERE {LIVE} AND {CLOSED_IN} AND is_won",
                a=span[0],
                b=span[1],
            )[0][0]
        )

    result = ask(
        world, world.admin, "compare_periods", measure="won_amount", period_a=period(H1), period_b=period(H2_2025)
    )
    assert result.ok, result.error
    f = result.facts
    assert (money(f["a"]), money(f["b"])) == (won(H1), won(H2_2025))
    assert money(f["change"]) == won(H1) - won(H2_2025)
    assert f["change_pct"] == pytest.approx(float((won(H1) - won(H2_2025)) / won(H2_2025) * 100), abs=0.05)

    grouped = ask(
        world,
        world.admin,
        "compare_periods",
        measure="count_deals",
        period_a=period(H1),
        period_b=period(H2_2025),
        date_field="closed",
        group_by="team",
    )
    truth = {
        team or "(none)": (int(na), int(nb))
        for team, na, nb in sql(
            world,
            """SELECT tm.name, count(*) FILTER (WHERE d.actual_close_date BETWEEN :a1 AND :b1),
                      count(*) FILTER (WHERE d.actual_close_date BETWEEN :a2 AND :b2)
               FROM deals d JOIN users u ON u.id = d.owner_id LEFT JOIN teams tm ON tm.id = u.team_id
               WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.is_closed GROUP BY 1""",
            a1=H1[0],
            b1=H1[1],
            a2=H2_2025[0],
            b2=H2_2025[1],
        )
        if na or nb
    }
    got = {k: (v[0], v[1]) for k, v in table_of(grouped).items()}
    assert got == truth
    for group, (na, nb, change, _pct) in table_of(grouped).items():
        assert change == na - nb, group

    # no period_b: the same number of days just before
    default = ask(world, world.admin, "compare_periods", measure="won_amount", period_a=period(H1))
    days = (H1[1] - H1[0]).days + 1
    before = (H1[0] - timedelta(days=days), H1[0] - timedelta(days=1))
    assert money(default.facts["b"]) == won(before)


def test_lost_reasons(world: World) -> None:
    a, b = date(2025, 1, 1), date(2026, 6, 30)
    truth = sql(
        world,
        f"SELECT coalesce(lost_reason, '(no reason given)'), count(*), sum(amount) FROM deals d"
        f" WHERE {LIVE} AND {CLOSED_IN} AND NOT is_won GROUP BY 1",
        a=a,
        b=b,
    )
    result = ask(world, world.admin, "lost_reasons", period=period((a, b)))
    rows = table_of(result)
    total = sum(n for _, n, _ in truth)
    assert {k: (v[0], money(v[1])) for k, v in rows.items()} == {r: (n, money(s)) for r, n, s in truth}
    for reason, n, _ in truth:
        assert rows[reason][2] == pytest.approx(n / total, abs=1e-4)
    assert result.facts["lost_deals"] == total
    assert result.chart is not None and result.chart.type == "pie"
    counts = [r[1] for r in rows_of(result)]
    assert counts == sorted(counts, reverse=True) and result.facts["top_reason"] == rows_of(result)[0][0]

    mine = ask(world, world.rep, "lost_reasons", period=period((a, b)))
    rep_total = sql(
        world,
        f"SELECT count(*) FROM deals d WHERE {LIVE} AND {CLOSED_IN} AND NOT is_won AND owner_id = :r",
        a=a,
        b=b,
        r=world.rep_id,
    )[0][0]
    assert mine.facts["lost_deals"] == rep_total < total


def test_errors_are_failed_results_that_say_what_to_fix(world: World) -> None:
    unknown = ask(world, world.admin, "metric", measure="count_deals", filters=[{"field": "colour", "value": "red"}])
    assert not unknown.ok and "'colour' is not a field of deals" in (unknown.error or "")
    backwards = ask(
        world, world.admin, "metric", measure="won_amount", period={"start": "2026-03-01", "end": "2026-01-01"}
    )
    assert not backwards.ok and "start must be on or before end" in (backwards.error or "")
    gibberish = ask(world, world.admin, "metric", measure="won_amount", period={"text": "when pigs fly"})
    assert not gibberish.ok and "not a period" in (gibberish.error or "")
    stage = ask(world, world.admin, "metric", measure="count_activities", group_by="stage")
    assert not stage.ok and "cannot be grouped by stage" in (stage.error or "")
    bad_value = ask(
        world, world.admin, "metric", measure="count_deals", filters=[{"field": "amount", "op": "gt", "value": "lots"}]
    )
    assert not bad_value.ok and "amount" in (bad_value.error or "")
    date_field = ask(world, world.admin, "metric", measure="count_activities", date_field="closed", period=period(H1))
    assert not date_field.ok and "occurred" in (date_field.error or "")


def test_a_time_expression_resolves_in_the_users_calendar(world: World) -> None:
    result = ask(world, world.admin, "metric", measure="won_amount", period={"text": "last year"})
    year = world.today.year - 1
    truth = sql(
        world,
        f"SELECT coalesce(sum(amount), 0) FROM deals d WHERE {LIVE} AND {CLOSED_IN} AND is_won",
        a=date(year, 1, 1),
        b=date(year, 12, 31),
    )[0][0]
    assert money(result.value) == money(truth)
    assert f"{year}-01-01 to {year}-12-31" in result.facts["period"]
    bare = ask(world, world.admin, "metric", measure="won_amount", period="last year")
    assert bare.value == result.value


# Forecast ----------------------------------------------------------------------------------------------------------


def test_forecast_reads_the_stored_one_with_interval_and_accuracy(world: World) -> None:
    none_yet = ask(world, world.admin, "forecast")
    assert not none_yet.ok and "has not been run yet" in (none_yet.error or "")
    assert "/forecasts/run" in (none_yet.error or "")

    with unit_of_work(world.system) as session:
        job = jobs.enqueue_system(
            session,
            tenant_id=world.tenant_id,
            kind=forecasts.RUN_JOB,
            params={"levels": ["company"], "periods": ["quarter"], "backtest_periods": 2},
        )
    assert queue.drain(120.0) == 0
    status = owner_rows("SELECT status, error FROM jobs WHERE id = :j", j=job.id)[0]
    assert status.status == "succeeded", status.error

    result = ask(world, world.admin, "forecast", period={"text": "this quarter"})
    assert result.ok, result.error
    row = sql(
        world,
        """SELECT f.*, m.version, m.algorithm FROM sales_forecasts f JOIN ml_models m ON m.id = f.model_id
           WHERE f.tenant_id = :t AND f.kind = 'live' AND f.level = 'company' AND f.forecast_period = 'quarter'
           ORDER BY f.forecast_date DESC LIMIT 1""",
    )[0]
    f = result.facts
    assert money(result.value) == row.forecasted_revenue == money(f["expected"])
    assert (money(f["low_80"]), money(f["high_80"])) == (row.confidence_interval_low, row.confidence_interval_high)
    assert (money(f["low_95"]), money(f["high_95"])) == (
        row.confidence_interval_low_95,
        row.confidence_interval_high_95,
    )
    assert money(f["booked"]) == row.booked_revenue
    assert f["mape"] == row.backtest["meanAbsolutePercentageError"]
    assert f["coverage_80"] == row.backtest["coverage80"] and f["accuracy"] == row.backtest["sentence"]
    assert row.version in f["model"] and row.algorithm in f["model"]
    assert f["period_kind"] == "quarter" and f["level"] == "company"
    assert f"USD {row.forecasted_revenue:,.0f}" in f["summary"] and row.backtest["sentence"] in f["summary"]

    # the default (current quarter, company level for an all-records role) is the same forecast
    assert ask(world, world.admin, "forecast").facts["expected"] == f["expected"]
    # a rep sees only their own level, and none was run for reps here
    rep = ask(world, world.rep, "forecast")
    assert not rep.ok and "The rep forecast" in (rep.error or "")
    company_for_rep = ask(world, world.rep, "forecast", level="company")
    assert not company_for_rep.ok
    odd = ask(world, world.admin, "forecast", period={"start": "2026-01-05", "end": "2026-02-10"})
    assert not odd.ok and "whole months, quarters and fiscal years" in (odd.error or "")


# Next best actions and insights ------------------------------------------------------------------------------------


def test_next_actions_for_a_deal_and_for_me(world: World) -> None:
    with unit_of_work(world.system) as session:
        nba.refresh(session, world.system)
    top = sql(
        world,
        "SELECT deal_id, count(*) FROM next_best_actions WHERE tenant_id = :t AND deal_id IS NOT NULL"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
    )
    assert top, "the demo workspace has deal actions"
    deal_id = top[0][0]
    truth = sql(
        world,
        "SELECT title, reason, expected_value FROM next_best_actions WHERE tenant_id = :t AND deal_id = :d"
        " ORDER BY expected_value DESC, id",
        d=deal_id,
    )
    result = ask(world, world.admin, "next_actions", record={"type": "deal", "id": str(deal_id)}, limit=10)
    assert result.ok, result.error
    assert [(r[0], r[2], money(r[3])) for r in rows_of(result)] == [(t, r, money(v)) for t, r, v in truth]
    assert result.records and result.records[0].type == "deal" and result.records[0].id == str(deal_id)

    mine = ask(world, world.rep, "next_actions", limit=5)
    truth = sql(
        world,
        "SELECT title, expected_value FROM next_best_actions WHERE tenant_id = :t AND owner_id = :r"
        " ORDER BY expected_value DESC, id LIMIT 5",
        r=world.rep_id,
    )
    assert [(r[0], money(r[3])) for r in rows_of(mine)] == [(t, money(v)) for t, v in truth]
    assert mine.facts["count"] == len(truth) and mine.facts["for"] == "you"
    # a deal the rep does not own is not theirs to see
    other = sql(
        world,
        "SELECT deal_id FROM next_best_actions WHERE tenant_id = :t AND owner_id <> :r AND deal_id IS NOT NULL LIMIT 1",
        r=world.rep_id,
    )
    denied = ask(world, world.rep, "next_actions", record={"type": "deal", "id": str(other[0][0])})
    assert not denied.ok


def test_insights_for_a_deal_an_account_and_overall(world: World) -> None:
    deal_id, account_id = sql(
        world,
        f"SELECT d.id, d.account_id FROM deals d WHERE {LIVE} AND NOT d.is_closed AND d.account_id IS NOT NULL"
        " AND d.owner_id = :r ORDER BY d.amount DESC LIMIT 1",
        r=world.rep_id,
    )[0]
    now = datetime.now(UTC)
    reason = "Close date pushed 3 times in 30 days (last: to 2027-01-15)"
    with unit_of_work(world.system) as session:
        insights.record_anomalies(
            session,
            world.system,
            [insights.Found("close_date_pushed", "deals", deal_id, "high", 3.0, reason, {"pushes": 3})],
            computed_at=now,
            model="rules",
            model_version="test",
        )
        model = registry.record(
            session,
            world.system,
            model_type="churn_prediction",
            version="t1",
            algorithm="rules",
            metrics={"rules_roc_auc": 0.71},
        )
        churn.record_risks(
            session,
            world.system,
            [
                churn.NewRisk(
                    account_id,
                    model.id,
                    "t1",
                    "rules",
                    0.72,
                    [
                        {
                            "factor": "engagement",
                            "text": "No activity in the last 90 days (12 before): +30",
                            "points": 30,
                        }
                    ],
                    {"activity_90d": 0},
                )
            ],
            computed_at=now,
        )

    deal = ask(world, world.rep, "insights", record={"type": "deal", "id": str(deal_id)})
    assert deal.ok, deal.error
    assert deal.facts["anomalies"] == 1 and deal.facts["anomaly_reasons"] == [reason]
    assert deal.facts["deals_at_risk"] == 1
    kinds = {r[0]: r for r in rows_of(deal)}
    assert kinds["anomaly: close_date_pushed"][3] == "high"
    assert reason in kinds["deal at risk"][4]

    account = ask(world, world.rep, "insights", record={"type": "account", "id": str(account_id)}, kinds=["churn"])
    assert account.ok, account.error
    assert account.facts["churn"]["score"] == 72 and account.facts["churn"]["level"] == "high"
    assert account.facts["churn"]["reasons"] == ["No activity in the last 90 days (12 before): +30"]

    overall = ask(world, world.admin, "insights", limit=50)
    assert overall.ok, overall.error
    names = {r.id for r in overall.records}
    assert {str(deal_id), str(account_id)} <= names
    at_risk = sql(world, "SELECT count(*) FROM anomalies WHERE tenant_id = :t AND status = 'open'")[0][0]
    assert overall.facts["anomalies"] == at_risk


def test_tasks_contacts_and_the_funnel(world: World) -> None:
    a, b = H1
    tasks = dict(
        sql(
            world,
            """SELECT u.first_name || ' ' || u.last_name, count(*) FROM tasks k JOIN users u ON u.id = k.assignee_id
               WHERE k.tenant_id = :t AND k.deleted_at IS NULL AND k.due_at::date BETWEEN :a AND :b GROUP BY 1""",
            a=a,
            b=b,
        )
    )
    result = ask(world, world.admin, "metric", measure="count_tasks", period=period(H1), group_by="owner")
    assert {k: v[0] for k, v in table_of(result).items()} == tasks and result.facts["date_field"] == "due"

    sources = dict(
        sql(
            world,
            "SELECT coalesce(lead_source, '(none)'), count(*) FROM contacts WHERE tenant_id = :t"
            " AND deleted_at IS NULL AND merged_into_id IS NULL GROUP BY 1",
        )
    )
    result = ask(world, world.admin, "metric", measure="count_contacts", group_by="lead_source")
    assert {k: v[0] for k, v in table_of(result).items()} == sources

    funnel = ask(world, world.admin, "metric", measure="stage_conversion", period=period(H1))
    rows = rows_of(funnel)
    closed = sql(world, f"SELECT count(*) FROM deals d WHERE {LIVE} AND {CLOSED_IN}", a=a, b=b)[0][0]
    assert rows and rows[0][2] == closed, "every closed deal reached the first stage (a skipped stage counts)"
    assert all(0 <= r[1] <= 1 for r in rows) and funnel.facts["grouped_by"] == "stage"
    reached = [r[2] for r in rows]
    assert reached == sorted(reached, reverse=True), "fewer deals reach each later stage"


def test_a_manager_gets_their_teams_figures(world: World) -> None:
    manager_id, team_id = sql(
        world,
        """SELECT u.id, u.team_id FROM users u JOIN roles r ON r.id = u.role_id
           WHERE u.tenant_id = :t AND r.name = 'manager' AND u.team_id IS NOT NULL ORDER BY u.email LIMIT 1""",
    )[0]
    with unit_of_work(tenant_id=world.tenant_id) as session:
        manager = auth.load_actor(session, tenant_id=world.tenant_id, user_id=manager_id)
    truth = sql(
        world,
        f"""SELECT coalesce(sum(d.amount), 0) FROM deals d JOIN users u ON u.id = d.owner_id
            WHERE {LIVE} AND {CLOSED_IN} AND d.is_won AND u.team_id = :team""",
        a=H1[0],
        b=H1[1],
        team=team_id,
    )[0][0]
    result = ask(world, manager, "metric", measure="won_amount", period=period(H1))
    assert money(result.value) == money(truth) and result.facts["scope"] == "Records of your team only"
    teams = ask(world, manager, "metric", measure="count_deals", group_by="team")
    assert len(table_of(teams)) == 1


def test_the_pipeline_as_it_stood_at_the_end_of_past_periods(world: World) -> None:
    def stood(day: date) -> tuple[Decimal, int]:
        """Open deals at the end of `day` from PostgreSQL's stage history: each deal's last change that day."""
        amount, n = sql(
            world,
            """WITH last AS (
                 SELECT DISTINCT ON (h.deal_id) h.deal_id, h.to_stage_id, h.amount FROM deal_stage_history h
                 WHERE h.tenant_id = :t AND h.changed_at::date <= :d ORDER BY h.deal_id, h.changed_at DESC, h.id DESC)
               SELECT coalesce(sum(l.amount), 0), count(*) FROM last l
               JOIN deal_stages s ON s.id = l.to_stage_id JOIN deals d ON d.id = l.deal_id
               WHERE NOT s.is_closed_stage AND d.deleted_at IS NULL""",
            d=day,
        )[0]
        return money(amount), n

    end_a = world.today.replace(day=1) - timedelta(days=1)
    a = (end_a.replace(day=1), end_a)
    end_b = a[0] - timedelta(days=1)
    b = (end_b.replace(day=1), end_b)
    result = ask(
        world,
        world.admin,
        "compare_periods",
        measure="pipeline_amount",
        date_field="snapshot",
        period_a=period(a),
        period_b=period(b),
    )
    assert result.ok, result.error
    assert (money(result.facts["a"]), money(result.facts["b"])) == (stood(end_a)[0], stood(end_b)[0])
    assert (result.facts["as_of"], result.facts["as_of_b"]) == (end_a.isoformat(), end_b.isoformat())
    now = ask(world, world.admin, "metric", measure="pipeline_amount", date_field="snapshot")
    assert now.value == ask(world, world.admin, "metric", measure="pipeline_amount").value
    wrong = ask(world, world.admin, "metric", measure="won_amount", date_field="snapshot")
    assert not wrong.ok and "pipeline_amount and weighted_pipeline only" in (wrong.error or "")
