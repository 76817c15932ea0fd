"""The dashboard's KPI figures (etl/reports/kpis.py) and drill-downs (etl/reports/drill.py) on a small demo tenant
loaded into its warehouse, checked against PostgreSQL counted directly."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from core.actor import Actor
from core.analytics.spec import resolve_period
from core.auth import service as auth
from core.db import unit_of_work
from core.demo import service as demo
from core.errors import ValidationFailed
from etl import pipeline
from etl.reports import drill, kpis
from etl.reports import service as reports
from etl.reports.standard import STANDARD_REPORTS
from tests.core.conftest import owner_rows
from tests.factories import PASSWORD

TODAY = datetime.now(UTC).date()
DEALS = "deals d WHERE d.tenant_id = :t AND d.deleted_at IS NULL"


@pytest.fixture(scope="module")
def seeded() -> demo.SeedResult:
    seeded = demo.seed(slug=f"kpi-{secrets.token_hex(4)}", scale="small", seed=11, as_of=TODAY, password=PASSWORD)
    pipeline.run(seeded.tenant_id, full=True)
    return seeded


def actor(seeded: demo.SeedResult, role: str) -> Actor:
    email = next(u["email"] for u in seeded.users if u["role"] == role)
    user_id = owner_rows("SELECT id FROM users WHERE tenant_id = :t AND email = :e", t=seeded.tenant_id, e=email)[0].id
    with unit_of_work(tenant_id=seeded.tenant_id) as session:
        return auth.load_actor(session, tenant_id=seeded.tenant_id, user_id=user_id)


def closed_in(seeded: demo.SeedResult, start: date, end: date, owner: Any = None) -> dict[str, Any]:
    """Won and lost deals closed from start to end, counted on PostgreSQL."""
    tz = owner_rows("SELECT timezone FROM tenants WHERE id = :t", t=seeded.tenant_id)[0].timezone
    mine = "AND d.owner_id = :o" if owner else ""
    row = owner_rows(
        "SELECT count(*) FILTER (WHERE d.is_won) AS won, count(*) FILTER (WHERE NOT d.is_won) AS lost,"
        " coalesce(sum(d.amount) FILTER (WHERE d.is_won), 0) AS won_amount,"
        " avg(d.actual_close_date - CAST(timezone(:tz, d.created_at) AS date)) FILTER (WHERE d.is_won) AS cycle"
        f" FROM {DEALS} AND d.is_closed AND d.actual_close_date BETWEEN :a AND :b {mine}",
        t=seeded.tenant_id,
        a=start,
        b=end,
        o=owner,
        tz=tz,
    )[0]
    return row._asdict()


def test_previous_period_is_as_long_and_ends_the_day_before() -> None:
    assert kpis.previous_period(date(2026, 4, 1), date(2026, 6, 30)) == (date(2025, 12, 31), date(2026, 3, 31))
    assert kpis.previous_period(date(2026, 5, 10), date(2026, 5, 10)) == (date(2026, 5, 9), date(2026, 5, 9))
    with pytest.raises(ValidationFailed):
        kpis.previous_period(date(2026, 5, 10), date(2026, 5, 9))


def test_kpis_equal_postgres_for_the_period_and_the_one_before(seeded: demo.SeedResult) -> None:
    admin = actor(seeded, "admin")
    start, end = resolve_period("last_365_days", TODAY)
    with unit_of_work(admin) as session:
        figures = kpis.period_kpis(session, admin, start=start, end=end)
    now, before = closed_in(seeded, start, end), closed_in(seeded, *kpis.previous_period(start, end))
    assert now["won"] > 0 and before["won"] > 0
    assert figures.get("won").value == now["won_amount"]
    assert figures.get("won").previous == before["won_amount"]
    assert figures.get("win_rate").value == pytest.approx(now["won"] / (now["won"] + now["lost"]))
    assert figures.get("win_rate").previous == pytest.approx(before["won"] / (before["won"] + before["lost"]))
    assert figures.get("average_deal").value == (now["won_amount"] / now["won"]).quantize(Decimal("0.01"))
    assert figures.get("cycle_days").value == pytest.approx(float(now["cycle"]))
    open_now = owner_rows(
        f"SELECT coalesce(sum(d.amount), 0) AS a FROM {DEALS} AND NOT d.is_closed", t=seeded.tenant_id
    )
    assert figures.pipeline_as_of == TODAY
    assert figures.get("open_pipeline").value == open_now[0].a
    assert (
        figures.get("open_pipeline").change
        == figures.get("open_pipeline").value - figures.get("open_pipeline").previous
    )
    assert figures.scope == []


def test_a_reps_kpis_count_their_own_deals_only(seeded: demo.SeedResult) -> None:
    rep = actor(seeded, "rep")
    start, end = resolve_period("last_365_days", TODAY)
    with unit_of_work(rep) as session:
        figures = kpis.period_kpis(session, rep, start=start, end=end)
    assert figures.get("won").value == closed_in(seeded, start, end, owner=rep.user_id)["won_amount"]
    assert figures.scope == ["Your records only"]


def test_a_period_after_the_last_load_reads_the_pipeline_at_that_load(seeded: demo.SeedResult) -> None:
    admin = actor(seeded, "admin")
    with unit_of_work(admin) as session:
        figures = kpis.period_kpis(
            session,
            admin,
            start=TODAY - timedelta(days=9),
            end=TODAY,
            last_load=datetime.now(UTC) - timedelta(days=3),
        )
    assert figures.pipeline_as_of <= TODAY - timedelta(days=2)


def test_drilling_into_pipeline_by_stage_lists_that_stages_open_deals(seeded: demo.SeedResult) -> None:
    admin = actor(seeded, "admin")
    with unit_of_work(admin) as session:
        summary = reports.run_standard(session, admin, "pipeline_by_stage").result.frame
        row = summary.row(0, named=True)
        point = {k: row[k] for k in ("pipeline", "stage_order", "stage")}
        behind = drill.drill_standard(session, admin, "pipeline_by_stage", point)
    frame = behind.result.frame
    assert frame.height == row["deals"]
    assert sum(frame["amount"]) == row["amount"]
    expected = owner_rows(
        f"SELECT CAST(d.id AS text) AS id FROM {DEALS} AND NOT d.is_closed"
        " AND d.stage_id IN (SELECT id FROM deal_stages WHERE name = :s)",
        t=seeded.tenant_id,
        s=row["stage"],
    )
    assert set(frame["deal_id"]) == {r.id for r in expected}
    assert behind.name == f"Pipeline by stage: {row['pipeline']} · {row['stage']}"


def test_drilling_into_a_month_lists_the_deals_won_that_month(seeded: demo.SeedResult) -> None:
    admin = actor(seeded, "admin")
    with unit_of_work(admin) as session:
        months = reports.run_standard(session, admin, "revenue_by_month").result.frame
        row = months.row(months.height - 1, named=True)
        behind = drill.drill_standard(session, admin, "revenue_by_month", {"month": row["month"]})
    assert behind.result.frame.height == row["won"]
    assert set(behind.result.frame["status"]) == {"won"}
    first, last = drill.bucket_span(row["month"], "month")
    assert all(first <= d <= last for d in behind.result.frame["actual_close_date"])
    assert drill.bucket_span(date(2026, 2, 1), "month") == (date(2026, 2, 1), date(2026, 2, 28))
    assert drill.bucket_span(date(2026, 10, 1), "quarter") == (date(2026, 10, 1), date(2026, 12, 31))


def test_an_empty_group_drills_with_is_null_and_a_listing_cannot_drill() -> None:
    spec = STANDARD_REPORTS["lost_reasons"].spec
    assert drill.point_filters(spec, {"lost_reason": None}) == [{"field": "lost_reason", "op": "is_null"}]
    with pytest.raises(ValidationFailed):
        drill.drill_spec(STANDARD_REPORTS["stale_deals"].spec, {})
    with pytest.raises(ValidationFailed):
        drill.drill_spec(spec, {"stage": "x"})
