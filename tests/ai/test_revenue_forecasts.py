"""Revenue forecasts (ai/forecasting/revenue.py, revenue_store.py, tasks.py) on a small demo tenant loaded into its
warehouse, checked against numbers computed independently (direct SQL on PostgreSQL), and run as the real job.

The engine runs on few series here (company and teams; one back-tested period per kind) to keep the module
quick; benchmarks/revenue_forecasts.py measures the method on a medium demo tenant.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest

import ai.forecasting.tasks  # noqa: F401  (registers the forecasts.revenue job in this process)
from ai.forecasting import revenue
from core.actor import Actor
from core.db import unit_of_work
from core.demo import service as demo
from core.forecasts import service as forecasts
from core.forecasts.periods import period_of
from core.jobs import queue
from core.jobs import service as jobs
from core.tenants import calendar
from etl import pipeline, warehouse
from tests.core.conftest import owner_execute, owner_rows
from tests.factories import PASSWORD, quiesce

DRAIN_SECONDS = 120.0
WON_SQL = """
    SELECT coalesce(sum(d.amount), 0) FROM deals d JOIN users u ON u.id = d.owner_id
    WHERE d.tenant_id = :t AND d.deleted_at IS NULL AND d.is_won AND d.currency = 'USD'
      AND d.actual_close_date BETWEEN :first AND :last
"""


@pytest.fixture(scope="module")
def seeded() -> Iterator[demo.SeedResult]:
    seeded = demo.seed(slug=f"fc-{secrets.token_hex(4)}", scale="small", seed=11, password=PASSWORD)
    pipeline.run(seeded.tenant_id, full=True)
    yield seeded
    quiesce(seeded.tenant_id)


@pytest.fixture(scope="module")
def system(seeded: demo.SeedResult) -> Actor:
    return Actor.system(seeded.tenant_id)


@pytest.fixture(scope="module")
def today(system: Actor) -> date:
    with unit_of_work(system) as session:
        return calendar.today(session, system)


@pytest.fixture
def con(seeded: demo.SeedResult) -> Iterator[duckdb.DuckDBPyConnection]:
    with contextlib.closing(warehouse.open_tenant(seeded.tenant_id)) as con:
        yield con


def won_sql(seeded: demo.SeedResult, first: date, last: date, extra: str = "", **params: Any) -> Decimal:
    return Decimal(owner_rows(WON_SQL + extra, t=seeded.tenant_id, first=first, last=last, **params)[0][0])


def run_job(system: Actor, **params: Any) -> dict[str, Any]:
    with unit_of_work(system) as session:
        job = jobs.enqueue_system(session, tenant_id=system.tenant_id, kind=forecasts.RUN_JOB, params=params)
    assert queue.drain(DRAIN_SECONDS) == 0
    row = owner_rows("SELECT status, progress, result, error FROM jobs WHERE id = :j", j=job.id)[0]
    assert (row.status, row.progress) == ("succeeded", 100), row.error
    return dict(row.result)


@pytest.fixture(scope="module")
def first_run(seeded: demo.SeedResult, system: Actor, today: date) -> dict[str, Any]:
    """The job as of the 15th of last month (company and teams; months and quarters; one back-tested period)."""
    as_of = (today.replace(day=1) - timedelta(days=1)).replace(day=15)
    result = run_job(
        system, as_of=as_of.isoformat(), levels=["company", "team"], periods=["month", "quarter"], backtest_periods=1
    )
    assert result["asOf"] == as_of.isoformat()
    return result


def stored(seeded: demo.SeedResult, where: str = "", **params: Any) -> list[Any]:
    return owner_rows(f"SELECT * FROM sales_forecasts WHERE tenant_id = :t {where}", t=seeded.tenant_id, **params)


def test_learned_probabilities_are_a_direct_count_of_past_outcomes(
    seeded: demo.SeedResult, con: duckdb.DuckDBPyConnection, today: date
) -> None:
    """Of the deals that stood in a stage on past Mondays, how many were won within 30 days: counted here from
    PostgreSQL's stage history, independently of the warehouse's snapshots."""
    origin, window = today - timedelta(days=45), 30
    forecaster = revenue.RevenueForecaster(con, currency="USD", levels=("company",))
    learned = revenue.learn(forecaster.history.samples, origin=origin, window_days=window)
    tz = owner_rows("SELECT timezone FROM tenants WHERE id = :t", t=seeded.tenant_id)[0][0]
    first = forecaster.history.first_snapshot
    assert first is not None
    first_monday = first + timedelta(days=(7 - first.weekday()) % 7)
    direct = owner_rows(
        """
        WITH days AS (
            SELECT g::date AS t FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '7 day') g
        ),
        state AS (
            SELECT days.t, h.deal_id, h.to_stage_id,
                   row_number() OVER (PARTITION BY days.t, h.deal_id ORDER BY h.changed_at DESC, h.id DESC) AS rn
            FROM days JOIN deal_stage_history h ON (h.changed_at AT TIME ZONE :tz)::date <= days.t
            WHERE h.tenant_id = :t
        )
        SELECT s.to_stage_id,
               date_trunc('quarter', s.t + 1) <> date_trunc('quarter', s.t + :w + 1) AS crosses, count(*) AS n,
               count(*) FILTER (WHERE d.is_won AND d.actual_close_date > s.t AND d.actual_close_date <= s.t + :w) AS won
        FROM state s JOIN deals d ON d.id = s.deal_id JOIN deal_stages st ON st.id = s.to_stage_id
        WHERE s.rn = 1 AND NOT st.is_closed_stage AND d.deleted_at IS NULL AND d.currency = 'USD'
        GROUP BY 1, 2
        """,
        t=seeded.tenant_id,
        tz=tz,
        first=first_monday,
        last=origin - timedelta(days=window),
        w=window,
    )
    counted: dict[str, tuple[int, int]] = {}
    for r in direct:
        n, won = counted.get(str(r.to_stage_id), (0, 0))
        counted[str(r.to_stage_id)] = (n + r.n, won + r.won)
    learned_counts = {r["stage_id"]: (r["n"], r["won"]) for r in learned.stages.iter_rows(named=True)}
    assert learned_counts == counted
    # Learned for a window that crosses a quarter's end: only the samples whose windows crossed one count.
    crossing = revenue.learn(forecaster.history.samples, origin=origin, window_days=window, quarter_end=True)
    expected = {str(r.to_stage_id): (r.n, r.won) for r in direct if r.crosses}
    if sum(n for n, _ in expected.values()) >= revenue.MIN_CONDITIONED_SAMPLES:
        assert {r["stage_id"]: (r["n"], r["won"]) for r in crossing.stages.iter_rows(named=True)} == expected
    assert learned.samples == sum(n for n, _ in counted.values()) > 100
    assert learned.overall == pytest.approx(sum(w for _, w in counted.values()) / learned.samples)
    # Shrunk towards all stages, and ordered as the funnel: the deals furthest along win most often.
    order = {r["stage_id"]: r["display_order"] for r in forecaster.history.stages.iter_rows(named=True)}
    by_order = sorted(learned.stages.iter_rows(named=True), key=lambda r: order[r["stage_id"]])
    for row in by_order:
        raw = row["won"] / row["n"]
        assert min(raw, learned.overall) - 1e-9 <= row["p"] <= max(raw, learned.overall) + 1e-9
    assert by_order[-1]["p"] > by_order[0]["p"]
    # An origin before any history knows nothing: the stages' nominal probabilities stand in.
    nothing = forecaster.probabilities(first, window)
    assert nothing.overall is None and nothing.samples == 0


def test_booked_is_a_direct_sum_of_won_deals_at_every_level(
    seeded: demo.SeedResult, con: duckdb.DuckDBPyConnection, today: date
) -> None:
    forecaster = revenue.RevenueForecaster(con, currency="USD")
    assert {s.level for s in forecaster.subjects} == {"company", "team", "rep"}
    assert len([s for s in forecaster.subjects if s.level == "rep"]) == 6
    quarter = period_of("quarter", today)
    year = period_of("year", today)
    nonzero = 0
    for subject in forecaster.subjects:
        extra = {"company": "", "team": " AND u.team_id = :s", "rep": " AND d.owner_id = :s"}[subject.level]
        s = subject.team_id if subject.level == "team" else subject.user_id
        for period in (quarter, year):
            booked = forecaster.booked_deals(subject, period, today).get_column("amount").sum()
            expected = won_sql(seeded, period.start, today, extra, s=s)
            assert Decimal(str(round(booked, 2))) == expected, (subject, period)
            nonzero += expected > 0
    assert nonzero > 5
    # Before its first day a period has booked nothing.
    assert forecaster.booked_deals(forecaster.subjects[0], year.next(), today).height == 0


def test_the_job_stores_forecasts_that_add_up(seeded: demo.SeedResult, first_run: dict[str, Any]) -> None:
    as_of = date.fromisoformat(first_run["asOf"])
    rows = stored(seeded, "AND kind = 'live' AND forecast_date = :d", d=as_of)
    assert {(r.level, r.forecast_period) for r in rows} == {
        (level, period) for level in ("company", "team") for period in ("month", "quarter")
    }
    assert len(rows) == 2 * (1 + 3)
    for r in rows:
        assert r.forecasted_revenue == r.booked_revenue + r.pipeline_revenue + r.run_rate_revenue
        assert r.confidence_interval_low_95 <= r.confidence_interval_low <= r.forecasted_revenue
        assert r.forecasted_revenue <= r.confidence_interval_high <= r.confidence_interval_high_95
        assert r.booked_revenue <= r.confidence_interval_low_95
        assert r.booked_revenue <= r.commit_amount <= r.best_case_amount <= r.pipeline_amount
        assert r.currency == "USD" and r.model_id is not None
        assert "Over the last" in r.backtest["sentence"] or "Not enough history" in r.backtest["sentence"]
        # Booked as PostgreSQL has it; the breakdown is each deal's part of booked + pipeline.
        period = period_of(r.forecast_period, as_of)
        extra = " AND u.team_id = :s" if r.level == "team" else ""
        assert r.booked_revenue == won_sql(seeded, period.start, as_of, extra, s=r.team_id)
        parts = owner_rows(
            "SELECT category, sum(forecasted_amount) AS part, count(*) AS n FROM forecast_breakdown"
            " WHERE forecast_id = :f GROUP BY category",
            f=r.id,
        )
        by_category = {p.category: p for p in parts}
        assert sum((p.part for p in parts), Decimal(0)) == pytest.approx(
            r.booked_revenue + r.pipeline_revenue, abs=Decimal("0.01") * sum(p.n for p in parts)
        )
        assert by_category.get("won", None) is None or by_category["won"].part == r.booked_revenue
    company = next(r for r in rows if r.level == "company" and r.forecast_period == "quarter")
    teams = [r for r in rows if r.level == "team" and r.forecast_period == "quarter"]
    assert sum(t.booked_revenue for t in teams) == company.booked_revenue  # every demo rep is in a team
    assert company.pipeline_revenue > 0 and company.details["openDeals"] > 0
    # The method is in the registry, with its back-test and the learned table as a stored artefact.
    model = owner_rows("SELECT * FROM ml_models WHERE id = :m", m=company.model_id)[0]
    assert (model.model_type, model.version) == ("revenue_forecast", f"1.{as_of:%Y%m%d}")
    assert set(model.metrics["backtest"]) == {"month", "quarter"}
    assert model.hyperparameters["ageEdgesDays"] == list(revenue.AGE_EDGES)
    from ai.models import registry

    table = registry.load_artifact(seeded.tenant_id, model.artifact_sha256)
    assert table["probabilities"]["quarter"] and {"stage", "age", "samples", "won", "probability"} == set(
        table["probabilities"]["quarter"][0]
    )


def test_the_backtest_is_stored_with_its_actuals(seeded: demo.SeedResult, first_run: dict[str, Any]) -> None:
    as_of = date.fromisoformat(first_run["asOf"])
    rows = stored(seeded, "AND kind = 'backtest' AND level = 'company'")
    assert {r.forecast_period for r in rows} == {"month", "quarter"}
    for r in rows:
        assert r.period_end_date < as_of and r.forecast_date == r.period_start_date - timedelta(days=1)
        assert r.booked_revenue == 0  # nothing is booked before the period starts
        assert r.actual_revenue == won_sql(seeded, r.period_start_date, r.period_end_date)
        expected = revenue.accuracy_percentage(float(r.forecasted_revenue), float(r.actual_revenue))
        assert float(r.accuracy_percentage) == pytest.approx(expected, abs=0.01)
    # ... which is also what the demo generator says it planted (its truth file counts wins by close month).
    truth = demo.read_truth(seeded.slug)["realized"]["monthly"]
    for r in rows:
        if r.forecast_period == "month":
            assert float(r.actual_revenue) == pytest.approx(truth[f"{r.period_start_date:%Y-%m}"].get("won_amount", 0))
    live = stored(
        seeded, "AND kind = 'live' AND level = 'company' AND forecast_period = 'month' AND forecast_date = :d", d=as_of
    )
    point = live[0].backtest["points"][0]
    month = next(r for r in rows if r.forecast_period == "month")
    assert (point["periodStart"], point["actual"]) == (month.period_start_date.isoformat(), float(month.actual_revenue))


def test_the_job_fills_actuals_when_a_period_closes(
    seeded: demo.SeedResult, system: Actor, first_run: dict[str, Any], today: date
) -> None:
    as_of = date.fromisoformat(first_run["asOf"])
    month = period_of("month", as_of)
    before = stored(seeded, "AND kind = 'live' AND forecast_period = 'month' AND forecast_date = :d", d=as_of)
    assert before and all(r.actual_revenue is None for r in before)  # the month had not closed on its 15th
    result = run_job(system, levels=["company"], periods=["month"], backtest_periods=0)
    assert result["asOf"] == today.isoformat() and result["actualsFilled"] >= len(before)
    after = stored(seeded, "AND kind = 'live' AND forecast_period = 'month' AND forecast_date = :d", d=as_of)
    for r in after:
        extra = " AND u.team_id = :s" if r.level == "team" else ""
        assert r.actual_revenue == won_sql(seeded, month.start, month.end, extra, s=r.team_id)
        expected = revenue.accuracy_percentage(float(r.forecasted_revenue), float(r.actual_revenue))
        assert float(r.accuracy_percentage) == pytest.approx(expected, abs=0.01)
    # The period in progress has no actual yet; today's forecast of it was stored beside the older one.
    current = stored(seeded, "AND kind = 'live' AND level = 'company' AND forecast_date = :d", d=today)
    assert [(r.forecast_period, r.actual_revenue) for r in current] == [("month", None)]


def test_an_owners_category_counts_and_the_rest_is_derived(
    seeded: demo.SeedResult, con: duckdb.DuckDBPyConnection, today: date
) -> None:
    quarter = period_of("quarter", today)
    base = revenue.RevenueForecaster(con, currency="USD", levels=("company",))
    open_now = base.open_deals(today, (quarter.end - today).days)
    closing = open_now.filter(
        open_now["expected_close_date"].is_null()
        | ((open_now["expected_close_date"] >= quarter.start) & (open_now["expected_close_date"] <= quarter.end))
    )
    later = open_now.filter(open_now["expected_close_date"] > quarter.end)
    assert closing.height and later.height
    chosen = closing.sort("p").row(0, named=True)  # the least likely deal of the quarter: its owner commits
    elsewhere = later.row(0, named=True)  # expected next quarter: the owner's category is for that one
    owner = revenue.RevenueForecaster(
        con,
        currency="USD",
        levels=("company",),
        categories={chosen["deal_id"]: "commit", elsewhere["deal_id"]: "commit"},
    )
    result = owner.forecast(today, quarter)[0]
    plain = base.forecast(today, quarter)[0]
    assert result.deals is not None and plain.deals is not None

    def row(forecast: revenue.SubjectForecast, deal_id: str) -> dict[str, Any]:
        assert forecast.deals is not None
        return forecast.deals.filter(forecast.deals["deal_id"] == deal_id).row(0, named=True)

    assert (row(result, chosen["deal_id"])["category"], row(result, chosen["deal_id"])["source"]) == ("commit", "owner")
    assert row(result, elsewhere["deal_id"])["source"] == "derived"
    assert row(result, elsewhere["deal_id"])["category"] == row(plain, elsewhere["deal_id"])["category"]
    for d in plain.deals.filter(plain.deals["category"] != "won").iter_rows(named=True):
        p = d["confidence"] / 100
        expected = "commit" if p >= 0.6 else "best_case" if p >= 0.3 else "pipeline" if p >= 0.05 else "omitted"
        assert (d["category"], d["source"]) == (expected, "derived")
    # The forecast is the learned one either way; categories regroup the totals (commit includes booked).
    assert result.forecast == plain.forecast
    if row(plain, chosen["deal_id"])["category"] != "commit":
        assert result.commit == pytest.approx(plain.commit + chosen["amount"])
    assert plain.commit >= plain.booked


def test_the_backtest_uses_only_what_was_known_at_its_origin(seeded: demo.SeedResult, today: date) -> None:
    """Leakage: a deal won after an origin, and a deal created and won after it, change that period's actual but
    nothing in the forecast made at its start. (Last in the module: it changes the tenant's deals.)"""
    period = period_of("month", today).previous()
    origin = period.start - timedelta(days=1)

    def forecast_then() -> tuple[revenue.SubjectForecast, list[tuple[Any, ...]]]:
        with contextlib.closing(warehouse.open_tenant(seeded.tenant_id)) as con:
            forecaster = revenue.RevenueForecaster(con, currency="USD", levels=("company",))
            result = forecaster.forecast(origin, period, kind="backtest")[0]
            result.actual = revenue.actual_revenue(forecaster.history, result.subject, period)
            learned = forecaster.probabilities(origin, period.days)
            return result, sorted(learned.cells.rows())

    before, learned_before = forecast_then()
    # A deal open at the origin is won inside the period; a deal created after the origin is won too.
    open_at_origin = owner_rows(
        "SELECT d.id, d.amount FROM deals d JOIN deal_stage_history h ON h.deal_id = d.id"
        " WHERE d.tenant_id = :t AND NOT d.is_closed AND d.amount > 0 AND d.created_at < :o"
        " ORDER BY d.amount DESC LIMIT 1",
        t=seeded.tenant_id,
        o=origin,
    )[0]
    won_stage = owner_rows(
        "SELECT s.id FROM deal_stages s JOIN deals d ON d.stage_id IS NOT NULL AND s.pipeline_id = d.pipeline_id"
        " WHERE d.id = :d AND s.is_won_stage",
        d=open_at_origin.id,
    )[0][0]
    close = origin + timedelta(days=5)
    owner_execute(
        "UPDATE deals SET stage_id = :s, is_closed = true, is_won = true, actual_close_date = :c, probability = 100,"
        " stage_entered_at = :c WHERE id = :d",
        s=won_stage,
        c=close,
        d=open_at_origin.id,
    )
    owner_execute(
        "INSERT INTO deal_stage_history (id, tenant_id, deal_id, to_stage_id, changed_at, amount, probability)"
        " VALUES (cf_uuid7(), :t, :d, :s, :c, :a, 100)",
        t=seeded.tenant_id,
        d=open_at_origin.id,
        s=won_stage,
        c=close,
        a=open_at_origin.amount,
    )
    owner_execute(
        "INSERT INTO deals (id, tenant_id, pipeline_id, stage_id, owner_id, name, amount, currency, probability,"
        " is_closed, is_won, actual_close_date, created_at, stage_entered_at)"
        " SELECT cf_uuid7(), tenant_id, pipeline_id, :s, owner_id, 'Late win', 12345, currency, 100, true, true,"
        " :c, :c, :c FROM deals WHERE id = :d",
        s=won_stage,
        c=close,
        d=open_at_origin.id,
    )
    pipeline.run(seeded.tenant_id, full=True)
    after, learned_after = forecast_then()
    assert after.actual == pytest.approx((before.actual or 0) + float(open_at_origin.amount) + 12345)
    for name in ("forecast", "booked", "pipeline", "run_rate", "lo_80", "hi_80", "lo_95", "hi_95", "baseline"):
        assert getattr(after, name) == getattr(before, name), name
    assert learned_after == learned_before


def test_the_nightly_schedule_queues_one_run_per_workspace_and_day(seeded: demo.SeedResult, today: date) -> None:
    from datetime import UTC, datetime, time

    from ai.forecasting.tasks import RUN, nightly

    tz = owner_rows("SELECT timezone FROM tenants WHERE id = :t", t=seeded.tenant_id)[0][0]
    noon = int(datetime.combine(today, time(12), UTC).timestamp())
    try:
        assert nightly(noon) >= 1
        nightly(noon + 3600)  # an hour later, the same local day (for this workspace's zone)
        queued = owner_rows(
            "SELECT params, dedupe_key FROM jobs WHERE tenant_id = :t AND kind = :k AND dedupe_key LIKE :n",
            t=seeded.tenant_id,
            k=RUN,
            n=f"{RUN}:nightly:%",
        )
        if tz in ("UTC", "Etc/UTC"):
            assert len(queued) == 1 and queued[0].dedupe_key == f"{RUN}:nightly:{today.isoformat()}"
        assert 1 <= len(queued) <= 2 and queued[0].params == {"trigger": "schedule"}
    finally:  # every workspace of this test run got one: none of them may run in a later test's drain()
        owner_execute(
            "DELETE FROM procrastinate_jobs WHERE status = 'todo' AND args->>'job_id' IN"
            " (SELECT id::text FROM jobs WHERE kind = :k AND status = 'queued' AND dedupe_key LIKE :n)",
            k=RUN,
            n=f"{RUN}:nightly:%",
        )
        owner_execute(
            "UPDATE jobs SET status = 'cancelled' WHERE kind = :k AND status = 'queued' AND dedupe_key LIKE :n",
            k=RUN,
            n=f"{RUN}:nightly:%",
        )


def test_live_intervals_widen_to_the_backtests_errors(today: date) -> None:
    def live() -> revenue.SubjectForecast:
        return revenue.SubjectForecast(
            subject=revenue.Subject("company"),
            period=period_of("quarter", today),
            forecast_date=today,
            kind="live",
            booked=100.0,
            pipeline=80.0,
            run_rate=20.0,
            forecast=200.0,
            lo_80=190.0,
            hi_80=210.0,
            lo_95=180.0,
            hi_95=220.0,
        )

    # Back-tested forecasts were off by 0%, 20%, 20%, 50%, 50%: the part not yet booked (100) may be off by 50%.
    points = [{"forecast": 100.0, "actual": a} for a in (50.0, 80.0, 120.0, 150.0, 100.0)]
    result = live()
    revenue.calibrate(result, {"points": points})
    assert (result.lo_80, result.hi_80, result.lo_95, result.hi_95) == (150.0, 250.0, 150.0, 250.0)
    assert result.forecast == 200.0 and "widened" in result.details["intervals"]
    # Intervals already wider than the errors stay as they are; too few periods leave them alone.
    wide = live()
    wide.lo_80, wide.hi_80, wide.lo_95, wide.hi_95 = 120.0, 300.0, 100.0, 400.0
    revenue.calibrate(wide, {"points": points})
    assert (wide.lo_80, wide.hi_80, wide.lo_95, wide.hi_95) == (120.0, 300.0, 100.0, 400.0)
    few = live()
    revenue.calibrate(few, {"points": points[:2]})
    assert (few.lo_80, few.hi_80) == (190.0, 210.0)
