"""Forecast page: the empty state before any run, the run button queuing the job whose forecasts then show,
the page per role on the demo data (chart, accuracy card, totals, deals, reps against quota), a rep seeing only
their own forecast, a role without `forecasts:read` refused; and the admin's Quotas tab (create, edit, delete,
bad input refused)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete
from streamlit.testing.v1 import AppTest

import ai.forecasting.tasks  # noqa: F401  (registers the forecasts.revenue job the button queues)
from ai.forecasting import revenue
from app.ui import forecast as view
from app.ui import widgets as ui
from core.db import unit_of_work
from core.demo.service import SeedResult
from core.forecasts import service as forecasts
from core.forecasts.models import SalesForecast
from core.forecasts.periods import period_of
from core.jobs import queue
from core.jobs import service as jobs
from core.tenants import calendar
from core.users import service as users
from tests.api.conftest import add_role
from tests.factories import TenantWorld
from tests.ui.conftest import ROOT, actor_of, as_role, open_page, shown

# Back-test fewer past periods than the nightly run does, to keep the module short (the job is the real one).
SHORT_BACKTEST = {"month": 0, "quarter": 2, "year": 0}


def run_short(max_seconds: float = 240) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for kind, count in SHORT_BACKTEST.items():
            patch.setitem(revenue.DEFAULT_BACKTEST, kind, count)
        assert queue.drain(max_seconds) == 0


@pytest.fixture(scope="module")
def forecasted(loaded: SeedResult) -> Iterator[dict[str, Any]]:
    """A manager opens the page before any forecast exists, presses "Run the forecast now"; the worker runs the
    job; the page then shows the forecast. What was seen at each step is kept for the tests."""
    manager = actor_of(loaded, "manager")
    with unit_of_work(tenant_id=loaded.tenant_id) as session:
        # The session's demo workspace is shared: another module (the browser test) may have forecast it already.
        session.execute(delete(SalesForecast).where(SalesForecast.tenant_id == loaded.tenant_id))
    with unit_of_work(manager) as session:
        before = forecasts.list_forecasts(session, manager, limit=1)[1]
    at = open_page(as_role(loaded, "manager"), "forecast.py")
    seen: dict[str, Any] = {"before": before, "empty": shown(at), "errors": [e.value for e in at.error]}
    at.button(key="fc_run").click().run()
    job_id = at.session_state["fc_job"]
    with unit_of_work(manager) as session:
        job = jobs.get(session, manager, UUID(job_id))
        seen["queued"] = (job.kind, job.status, job.created_by)
    seen["progress"] = " ".join(p.proto.text for p in at.get("progress"))
    run_short()
    at.run()  # the progress fragment sees the job finished and starts the page again
    at.run()
    with unit_of_work(manager) as session:
        job = jobs.get(session, manager, UUID(job_id))
        seen["finished"] = (job.status, job.progress, job.error)
    seen["after"] = at
    seen["manager"] = manager
    yield seen


def page_as(workspace: SeedResult, role: str) -> AppTest:
    at = open_page(as_role(workspace, role), "forecast.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_the_run_button_queues_the_job_whose_forecasts_then_show(
    forecasted: dict[str, Any], loaded: SeedResult
) -> None:
    assert forecasted["before"] == 0
    assert "No forecast has been computed yet" in forecasted["empty"], forecasted["empty"]
    assert not forecasted["errors"]
    kind, status, created_by = forecasted["queued"]
    assert (kind, status, created_by) == ("forecasts.revenue", "queued", forecasted["manager"].user_id)
    assert "Computing the forecasts" in forecasted["progress"]
    assert forecasted["finished"][:2] == ("succeeded", 100), forecasted["finished"]
    at = forecasted["after"]
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "No forecast has been computed yet" not in shown(at)
    assert metric(at, "Forecast") != "—"
    admin = actor_of(loaded, "admin")
    with unit_of_work(admin) as session:
        stored, total = forecasts.list_forecasts(session, admin, limit=500)
    assert total > 0 and {f.level for f in stored} == {"company", "team", "rep"}


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_each_role_sees_the_chart_accuracy_card_and_totals(
    forecasted: dict[str, Any], loaded: SeedResult, role: str
) -> None:
    at = page_as(loaded, role)
    text = shown(at)
    assert at.get("vega_lite_chart"), "the chart of history, forecast and bands"
    assert "How far to trust it" in text
    assert "Over the last" in text or "Not enough history" in text, text
    for label in ("Booked", "Commit", "Best case", "Pipeline", "Forecast", "80% interval", "95% interval"):
        assert metric(at, label)
    level = at.selectbox(key="fc_level").value
    actor = actor_of(loaded, role)
    with unit_of_work(actor) as session:
        rows, _ = forecasts.list_forecasts(session, actor, level=level, period="quarter", limit=100)
    first = rows[0]  # the newest quarter; the page opens on the first subject of its level
    if level == "company":
        assert metric(at, "Commit") == ui.money(first.commit_amount)
        assert metric(at, "Best case") == ui.money(first.best_case_amount)
        assert metric(at, "Pipeline") == ui.money(first.pipeline_amount)
        assert metric(at, "Forecast") == ui.money(first.forecasted_revenue)
    tables = [d.value for d in at.dataframe]
    assert any("deal" in t.columns for t in tables) or "No deal is behind" in text
    assert any("rep" in t.columns and "gap" in t.columns for t in tables)  # reps against quota


def test_a_manager_picks_levels_and_periods_within_their_team(forecasted: dict[str, Any], loaded: SeedResult) -> None:
    at = page_as(loaded, "manager")
    manager = forecasted["manager"]
    assert at.selectbox(key="fc_level").options == ["Team", "Rep"]  # no company forecast for a team's manager
    at.selectbox(key="fc_level").select("rep").run()
    assert not at.exception and not at.error
    with unit_of_work(manager) as session:
        reps, _ = forecasts.list_forecasts(session, manager, level="rep", period="quarter", limit=500)
    newest = [r for r in reps if r.period_start_date == reps[0].period_start_date]
    assert newest and all(r.team_id == manager.team_id for r in newest)
    assert sorted(at.selectbox(key="fc_rep").options) == sorted(r.details["subjectName"] for r in newest)
    # Quotas of their own team (the Admin page is not theirs): only their team and its people are offered.
    with unit_of_work(manager) as session:
        team_people = list(users.list_users(session, manager, limit=1000, include_inactive=False)[0])
    members = {f"{u.first_name} {u.last_name} (rep)" for u in team_people if u.team_id == manager.team_id}
    offered = at.selectbox(key="adm_quota_subject").options
    assert sum(o.endswith("(team)") for o in offered) == 1
    assert {o for o in offered if o.endswith("(rep)")} == members
    at.segmented_control(key="fc_period").set_value("month").run()
    assert not at.exception and not at.error
    assert "month" in shown(at)


def test_a_rep_sees_only_their_own_forecast(forecasted: dict[str, Any], loaded: SeedResult) -> None:
    at = page_as(loaded, "rep")
    rep = actor_of(loaded, "rep")
    assert at.selectbox(key="fc_level").options == ["Rep"]
    assert len(at.selectbox(key="fc_rep").options) == 1
    with unit_of_work(rep) as session:
        mine, _ = forecasts.list_forecasts(session, rep, period="quarter", limit=500)
        names = {f.details.get("subjectName") for f in mine}
    assert {f.user_id for f in mine} == {rep.user_id} and len(names) == 1
    assert at.selectbox(key="fc_rep").options == list(names)
    assert "Reps and quota" not in shown(at)
    for table in (d.value for d in at.dataframe):
        if "owner" in table.columns:
            assert set(table["owner"]) <= names


def test_exports_hold_the_deals_and_the_figures(forecasted: dict[str, Any], loaded: SeedResult) -> None:
    admin = actor_of(loaded, "admin")
    with unit_of_work(admin) as session:
        info = view.overview(session, admin, "quarter")
        company = info.find("company", None, None)
        assert company is not None
        detail = view.detail(session, admin, company.forecast_id)
    csv = view.to_csv(detail).decode()
    assert csv.splitlines()[0].startswith("deal,owner,stage,category")
    assert len(csv.splitlines()) == len(detail.deals) + 1
    book = view.to_xlsx(detail, "Company", info.currency)
    assert book[:2] == b"PK"  # an xlsx is a zip
    sheets = load_workbook(io.BytesIO(book), read_only=True)
    assert sheets.sheetnames == ["Forecast", "Deals", "Reps", "Forecast vs actual"]
    values = [row[1] for row in sheets["Forecast"].iter_rows(min_row=2, values_only=True)]
    assert str(float(detail.forecast.forecasted_revenue)) in values


def test_a_role_without_forecasts_read_is_refused(tenant: TenantWorld) -> None:
    add_role(tenant, "no-forecasts", ["contacts:read"])
    user = tenant.add_user("no-forecasts")
    page = AppTest.from_file(str(ROOT / "pages" / "forecast.py"), default_timeout=30)
    page.session_state["cf_actor"] = tenant.actor(user)
    page.run()
    assert [e.value for e in page.error] == ["Your role (no-forecasts) cannot open Forecast."]
    assert not page.metric


# The admin's Quotas tab ----------------------------------------------------------------------------------------


def quotas_tab(at: AppTest) -> AppTest:
    assert "Quotas" in [t.label for t in at.tabs]
    return at


def test_quotas_tab_creates_edits_and_deletes_a_quota_and_refuses_bad_input(loaded: SeedResult) -> None:
    admin = actor_of(loaded, "admin")
    rep = actor_of(loaded, "rep")
    with unit_of_work(admin) as session:
        today = calendar.today(session, admin)
        fiscal = forecasts.fiscal_start_month(session, admin)
    next_quarter = period_of("quarter", today, fiscal).next(fiscal)
    at = quotas_tab(open_page(as_role(loaded, "admin"), "admin.py"))
    assert not at.exception, at.exception

    def mine() -> list[Any]:
        with unit_of_work(admin) as session:
            return forecasts.list_quotas(session, admin, user_id=rep.user_id, period="quarter")[0]

    before = len(mine())
    at.selectbox(key="adm_quota_subject").select(f"user:{rep.user_id}")
    start_key = "adm_quota_start_quarter"
    # Bad input: a day that does not start a quarter, then no amount: messages, nothing stored.
    at.date_input(key=start_key).set_value(next_quarter.start + timedelta(days=3))
    at.number_input(key="adm_quota_amount").set_value(120000.0)
    at.button(key="FormSubmitter:adm_quota_new-Set quota").click().run()
    assert any("periodStart" in e.value for e in at.error), [e.value for e in at.error]
    assert len(mine()) == before
    at.date_input(key=start_key).set_value(next_quarter.start)
    at.number_input(key="adm_quota_amount").set_value(None)
    at.button(key="FormSubmitter:adm_quota_new-Set quota").click().run()
    assert any("amount" in e.value for e in at.error), [e.value for e in at.error]
    assert len(mine()) == before
    # Good input: stored.
    at.number_input(key="adm_quota_amount").set_value(120000.0)
    at.button(key="FormSubmitter:adm_quota_new-Set quota").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    made = next(q for q in mine() if q.period_start_date == next_quarter.start)
    assert made.amount == Decimal("120000.00")
    # Edit.
    at.selectbox(key="adm_quota_pick").select(str(made.id)).run()
    suffix = f"{made.id}_{made.version}"
    at.number_input(key=f"adm_quota_amount_{suffix}").set_value(-5.0)
    at.button(key=f"FormSubmitter:adm_quota_edit_{suffix}-Save quota").click().run()
    assert at.error, "a negative quota is refused"
    with unit_of_work(admin) as session:
        assert forecasts.get_quota(session, admin, made.id).amount == Decimal("120000.00")
    at.number_input(key=f"adm_quota_amount_{suffix}").set_value(150000.0)
    at.button(key=f"FormSubmitter:adm_quota_edit_{suffix}-Save quota").click().run()
    assert not at.error, [e.value for e in at.error]
    with unit_of_work(admin) as session:
        assert forecasts.get_quota(session, admin, made.id).amount == Decimal("150000.00")
    # Delete.
    at.selectbox(key="adm_quota_pick").select(str(made.id)).run()
    at.button(key=f"adm_quota_delete_{made.id}").click().run()
    assert not at.error, [e.value for e in at.error]
    assert all(q.id != made.id for q in mine())
