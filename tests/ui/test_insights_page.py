"""The manager's Insights page (deals at risk, anomalies this week, thresholds, churn risk, actions taken vs ignored)
and the anomaly badges of a record's page, under AppTest on the small demo workspace. The page is added to the page
registry here until the lead registers it in app/ui/pages.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

import ai.insights.anomaly_tasks  # noqa: F401  (registers the anomalies.refresh job the button queues)
from ai.insights import anomalies
from app.ui import pages
from core.actor import Actor
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.demo.service import SeedResult
from core.insights import service as insights
from core.insights.schemas import InsightSettingsUpdate
from tests.ui.conftest import ROOT, actor_of, shown

PAGE = pages.PageDef("insights.py", "Insights", ":material/insights:", "Analytics", ("insights:manage",))


@pytest.fixture(scope="module", autouse=True)
def registered() -> Iterator[None]:
    saved = pages.PAGES
    if not any(p.file == PAGE.file for p in saved):
        pages.PAGES = (*saved, PAGE)
    yield
    pages.PAGES = saved


@pytest.fixture(scope="module")
def flagged(demo_workspace: SeedResult) -> dict[str, Any]:
    """A deal of the demo manager whose close date was pushed three times, and a pass of the detectors."""
    manager = actor_of(demo_workspace, "manager")
    with unit_of_work(manager) as session:
        deal = deals.create(
            session,
            manager,
            DealCreate(name="Slipping Insights deal", amount=Decimal(7_000), expected_close_date=date.today()),
        )
    for weeks in (2, 4, 7):
        with unit_of_work(manager) as session:
            deals.update(
                session, manager, deal.id, DealPatch(expected_close_date=date.today() + timedelta(weeks=weeks))
            )
    system = Actor.system(demo_workspace.tenant_id)
    with unit_of_work(system) as session:
        anomalies.refresh(session, system)
    return {"deal_id": deal.id, "manager": manager}


def page_as(actor: Actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "insights.py"), default_timeout=60)
    at.session_state["cf_actor"] = actor
    return at.run()


def clean(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_the_manager_sees_deals_at_risk_this_weeks_anomalies_churn_and_actions(flagged: dict[str, Any]) -> None:
    at = clean(page_as(flagged["manager"]))
    text_shown = shown(at)
    for heading in ("Deals at risk", "Anomalies this week", "Accounts by churn risk", "taken vs ignored"):
        assert heading in text_shown
    frames = [d.value for d in at.dataframe]
    at_risk = next(f for f in frames if "Why" in f.columns)
    row = at_risk[at_risk["Name"] == "Slipping Insights deal"].iloc[0]
    assert row["Why"].startswith("Close date pushed 3 times") and row["Severity"] in ("low", "medium", "high")
    week = next(f for f in frames if "Record" in f.columns)
    assert "Slipping Insights deal" in set(week["Record"])
    assert any(m.label == "Close date pushed" for m in at.metric)


def test_a_rep_cannot_open_the_page(demo_workspace: SeedResult) -> None:
    at = page_as(actor_of(demo_workspace, "rep"))
    assert [e.value for e in at.error] == ["Your role (rep) cannot open Insights."]
    assert not at.dataframe and not at.button


def test_the_refresh_button_queues_a_pass(flagged: dict[str, Any], demo_workspace: SeedResult) -> None:
    at = clean(page_as(flagged["manager"]))
    at.button(key="anomalies_refresh").click().run()
    clean(at)
    with unit_of_work(flagged["manager"]) as session:
        queued = session.execute(
            text("SELECT count(*) FROM jobs WHERE kind = :k AND status = 'queued'"), {"k": insights.REFRESH_JOB}
        ).scalar_one()
    assert queued == 1


def test_thresholds_are_saved_and_a_stale_form_changes_nothing(flagged: dict[str, Any]) -> None:
    manager = flagged["manager"]
    at = clean(page_as(manager))
    at.number_input(key="th_pushes").set_value(4)
    at.button(key="FormSubmitter:insight_thresholds-Save thresholds").click().run()
    clean(at)
    with unit_of_work(manager) as session:
        saved = insights.get_settings(session, manager)
        assert saved.close_push_min == 4 and saved.version == 1
        # someone else changes them while the form is open
        insights.update_settings(session, manager, InsightSettingsUpdate(late_cut_pct=30, version=1))
    at.number_input(key="th_pushes").set_value(6)
    at.button(key="FormSubmitter:insight_thresholds-Save thresholds").click().run()
    assert any("changed by someone else" in e.value for e in at.error)
    with unit_of_work(manager) as session:
        kept = insights.get_settings(session, manager)
        assert kept.close_push_min == 4 and kept.late_cut_pct == 30
        insights.update_settings(session, manager, InsightSettingsUpdate(close_push_min=2, late_cut_pct=25))


def _badges_script(actor, deal_id):  # type: ignore[no-untyped-def]  # AppTest runs its source alone
    from app.ui import insights as view

    view.badges(actor, "deal", deal_id)


def test_a_deal_shows_its_badge_with_the_reason_and_can_be_dismissed(flagged: dict[str, Any]) -> None:
    manager, deal_id = flagged["manager"], str(flagged["deal_id"])
    at = AppTest.from_function(_badges_script, args=(manager, deal_id), default_timeout=30).run()
    clean(at)
    line = " ".join(m.value for m in at.markdown)
    assert "Close date pushed" in line and "pushed 3 times" in line
    with unit_of_work(manager) as session:
        pushed = insights.list_anomalies(session, manager, entity_id=UUID(deal_id), code="close_date_pushed")
    assert len(pushed) == 1
    at.button(key=f"anomaly_dismiss_{pushed[0].id}").click().run()
    clean(at)
    with unit_of_work(manager) as session:
        left = insights.list_anomalies(session, manager, entity_id=UUID(deal_id), code="close_date_pushed")
        dismissed = insights.list_anomalies(session, manager, entity_id=UUID(deal_id), status="dismissed")
    assert left == [] and [a.dismissed_by for a in dismissed] == [manager.user_id]
    assert not [m for m in at.markdown if "Close date pushed" in m.value]
