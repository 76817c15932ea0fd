"""Lead scoring where users see it: the score panel of a contact, the hottest leads of My day, the pipeline sorted
and filtered by score, and the admin's Models page (metrics, activate / roll back, retrain, rules)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from streamlit.testing.v1 import AppTest

import ai.scoring.tasks  # noqa: F401  (registers the scoring jobs the Retrain button queues)
from ai.models import registry
from ai.scoring import crm
from app.ui import scoring as view
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from core.demo.service import SeedResult
from core.jobs import queue
from core.jobs import service as jobs
from core.pipelines import service as pipelines
from core.scoring import service as scoring
from core.scoring.schemas import RuleCreate
from tests.ui.conftest import ROOT, actor_of, as_role, open_page, shown

PLANTED = (("Hotte", "Webinar", "100.00"), ("Warmer", "Referral", "500.00"), ("Colder", None, "900.00"))


def clean(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture(scope="module")
def scored(demo_workspace: SeedResult) -> dict[str, Any]:
    """Rules (a positive and a negative one), three fresh leads of the rep with deals, a model trained on the
    workspace's outcomes, then the rules made champion again and everything rescored: each planted lead has a
    history (rules, model, rules) and rules reasons."""
    system = Actor.system(demo_workspace.tenant_id)
    rep = actor_of(demo_workspace, "rep")
    with unit_of_work(system) as session:
        for rule in (
            RuleCreate(field="lead_source", operator="equals", value="Webinar", points=40),
            RuleCreate(field="lead_source", operator="is_set", points=15),
            RuleCreate(field="lead_age_days", operator="gte", value=0, points=-5),
        ):
            scoring.create_rule(session, system, rule)
    with unit_of_work(rep) as session:
        stage = pipelines.to_read(session, rep, pipelines.default_pipeline(session, rep)).stages[0].id
        planted = {}
        for last, source, amount in PLANTED:
            contact = contacts.create(
                session, rep, ContactCreate(first_name="Lead", last_name=last, lead_source=source)
            )
            deal = deals.create(
                session,
                rep,
                DealCreate(name=f"{last} deal", stage_id=stage, amount=Decimal(amount), contact_id=contact.id),
            )
            planted[last] = (contact.id, deal.id)
    with unit_of_work(system) as session:
        crm.rescore(session, system)
        trained = crm.train_workspace(session, system)
        if not trained.get("activated"):
            crm.activate(session, system, UUID(trained["modelId"]))
        crm.rescore(session, system)
        rules_row = crm.current_rules(session, system, scoring.get_settings(session, system))
        crm.activate(session, system, rules_row.id)
        crm.rescore(session, system)
    return {"planted": planted, "model": UUID(trained["modelId"]), "version": trained["version"], "stage": stage}


def test_the_contact_shows_its_badge_method_reasons_and_trend_and_no_score_input(
    scored: dict[str, Any], demo_workspace: SeedResult
) -> None:
    contact_id = scored["planted"]["Hotte"][0]
    admin = actor_of(demo_workspace, "admin")
    with unit_of_work(admin) as session:
        expected = scoring.contact_score(session, admin, contact_id)
    assert expected.score == 70 and expected.method == "rules" and len(expected.history) == 3
    at = as_role(demo_workspace, "admin")
    at.query_params["id"] = str(contact_id)
    clean(open_page(at, "contact.py"))
    text = shown(at)
    assert ":red-badge[70 · hot]" in text and "Points rules" in text
    reasons = [view.reason(f) for f in expected.current.factors]
    assert len(reasons) == 3 and reasons[0] == "Lead source is Webinar: +40" and reasons[-1].endswith(": −5")
    for line in reasons:
        assert line in text
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # the trend of three scores
    assert "Lead score" not in [n.label for n in at.number_input]
    at.text_input(key=f"ce_{contact_id}_city").input("Lyon")
    next(b for b in at.button if b.label == "Save changes").click().run()
    clean(at)
    with unit_of_work(admin) as session:
        saved = contacts.get(session, admin, contact_id)
        assert (saved.address_city, saved.lead_score) == ("Lyon", 70)


def test_my_day_lists_the_reps_hottest_leads_highest_first(scored: dict[str, Any], demo_workspace: SeedResult) -> None:
    at = clean(as_role(demo_workspace, "rep"))
    assert "Hottest leads" in shown(at)
    links = [p.proto.label for p in at.get("page_link") if "-badge[" in p.proto.label]
    scores = [int(label.split("[")[1].split(" ")[0]) for label in links]
    assert scores == sorted(scores, reverse=True) and links
    planted = [f"Lead {last}" for last, _, _ in PLANTED]
    names = [next(n for n in planted if n in label) for label in links if any(n in label for n in planted)]
    assert names == planted
    top = next(label for label in links if "Hotte" in label)
    assert "Lead source is Webinar: +40" in top  # the top reason
    rep = actor_of(demo_workspace, "rep")
    with unit_of_work(rep) as session:
        assert all(c.owner_id == rep.user_id for c, _ in scoring.hottest_leads(session, rep, mine=True))


def test_the_pipeline_sorts_and_filters_by_lead_score(scored: dict[str, Any], demo_workspace: SeedResult) -> None:
    at = clean(open_page(as_role(demo_workspace, "rep"), "pipeline.py"))
    at.segmented_control(key="pl_order").set_value("score").run()
    at.segmented_control(key="pl_view").set_value("Table").run()
    frame = clean(at).dataframe[0].value
    for _, stage in frame.groupby("Stage", sort=False):
        known = stage["Lead score"].dropna().tolist()
        assert known == sorted(known, reverse=True)
    ours = [d for d in frame["Deal"] if d in ("Hotte deal", "Warmer deal", "Colder deal")]
    assert ours == ["Hotte deal", "Warmer deal", "Colder deal"]  # by score, though amounts run the other way
    at.number_input(key="pl_min_score").set_value(50).run()
    frame = clean(at).dataframe[0].value
    assert "Hotte deal" in set(frame["Deal"]) and not {"Warmer deal", "Colder deal"} & set(frame["Deal"])
    assert (frame["Lead score"] >= 50).all()


def test_the_contacts_list_keeps_contacts_from_a_minimum_score(
    scored: dict[str, Any], demo_workspace: SeedResult
) -> None:
    at = clean(open_page(as_role(demo_workspace, "rep"), "contacts.py"))
    at.number_input(key="contacts_min_score").set_value(70).run()
    frame = clean(at).dataframe[0].value
    assert len(frame) and (frame["Score"] >= 70).all() and "Lead Hotte" in set(frame["Name"])


def models_page(workspace: SeedResult) -> AppTest:
    return clean(open_page(as_role(workspace, "admin"), "models.py"))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_admin_activates_a_model_sees_its_metrics_and_rolls_back(
    scored: dict[str, Any], demo_workspace: SeedResult
) -> None:
    admin = actor_of(demo_workspace, "admin")
    at = models_page(demo_workspace)
    assert metric(at, "Champion") == "Points rules"
    assert scored["version"] in set(at.dataframe[0].value["Version"])
    at.selectbox(key="sm_model").set_value(scored["version"]).run()
    at.button(key="sm_activate").click().run()
    clean(at)
    with unit_of_work(admin) as session:
        active = registry.active(session, admin, scoring.MODEL_TYPE)
        roc = float(active.metrics["roc_auc"])
    assert active.id == scored["model"]
    assert metric(at, "Champion") == f"Predictive model v{scored['version']}"
    assert metric(at, "ROC AUC") == f"{roc:.3f}"
    assert "Calibration" in shown(at) and "Drift since training" in shown(at)
    at.button(key="sm_rollback").click().run()
    clean(at)
    with unit_of_work(admin) as session:
        assert registry.active(session, admin, scoring.MODEL_TYPE).algorithm == "rules"
    assert metric(at, "Champion") == "Points rules"

    # the inactive model becomes the challenger of an A/B test
    at.selectbox(key="sm_ab_model").set_value(scored["model"])
    next(b for b in at.button if b.label == "Save the A/B test").click().run()
    clean(at)
    with unit_of_work(admin) as session:
        assert scoring.get_settings(session, admin).challenger_model_id == scored["model"]
    assert f"against challenger {scored['version']}" in shown(at) and "Verdict:" in shown(at)


def test_a_bad_rule_is_explained_and_changes_nothing_and_a_good_one_is_added(
    scored: dict[str, Any], demo_workspace: SeedResult
) -> None:
    admin = actor_of(demo_workspace, "admin")
    with unit_of_work(admin) as session:
        before = len(scoring.list_rules(session, admin))
    at = models_page(demo_workspace)
    at.selectbox(key="sm_rule_new_field").set_value("annual_revenue")
    at.selectbox(key="sm_rule_new_operator").set_value("gt")
    at.text_input(key="sm_rule_new_value").input("lots")
    at.number_input(key="sm_rule_new_points").set_value(12)
    next(b for b in at.button if b.label == "Add rule").click().run()
    assert any("compares numbers" in e.value for e in at.error)
    with unit_of_work(admin) as session:
        assert len(scoring.list_rules(session, admin)) == before
    at.text_input(key="sm_rule_new_value").input("1000000")
    next(b for b in at.button if b.label == "Add rule").click().run()
    clean(at)
    with unit_of_work(admin) as session:
        added = [r for r in scoring.list_rules(session, admin) if r.field == "annual_revenue"]
    assert [(r.operator, r.value, r.points) for r in added] == [("gt", 1000000, 12)]
    rules_table = next(d.value for d in at.dataframe if {"Condition", "Points"} <= set(d.value.columns))
    assert "Company revenue" in set(rules_table["Field"])


def test_retrain_now_queues_the_job_and_shows_its_outcome(scored: dict[str, Any], demo_workspace: SeedResult) -> None:
    admin = actor_of(demo_workspace, "admin")
    at = models_page(demo_workspace)
    at.button(key="sm_retrain").click().run()
    job_id, what = at.session_state["sm_job"]
    with unit_of_work(admin) as session:
        assert jobs.get(session, admin, UUID(job_id)).kind == scoring.TRAIN_JOB
    assert what == "Training" and at.get("progress")
    assert queue.drain(60) == 0
    clean(at.run())  # the progress sees the job finished and starts the page again, which says how it went
    assert "Training finished" in shown(at)
    with unit_of_work(admin) as session:
        assert jobs.get(session, admin, UUID(job_id)).status == "succeeded"
    at.button(key="sm_rescore").click().run()
    job_id, what = at.session_state["sm_job"]
    assert what == "Rescoring" and queue.drain(60) == 0
    clean(at.run())
    assert "Rescoring finished" in shown(at)


def test_a_rep_cannot_open_the_models_page(demo_workspace: SeedResult) -> None:
    at = clean(as_role(demo_workspace, "rep"))
    assert "models" not in {p.proto.label.lower() for p in at.get("page_link")}
    page = AppTest.from_file(str(ROOT / "pages" / "models.py"), default_timeout=30)
    page.session_state["cf_actor"] = actor_of(demo_workspace, "rep")
    page.run()
    assert [e.value for e in page.error] == ["Your role (rep) cannot open Models."]
    assert not page.metric and not page.button
