"""Churn risk of customer accounts, on hand-built workspaces whose history says who churned: point-in-time features
(the leakage test), the rules score on a young workspace (labelled as such, with reasons a rep reads), a model
trained on the workspace's own churned accounts that is used only when it beats the rules on the latest outcomes,
the accounts going quiet now ranked above loyal ones, record scope on the list, and a change (a complaint, a
contact leaving) reflected by the worker's pass over what changed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
import polars as pl
import pytest
from sqlalchemy import select, text

import ai.insights.churn_tasks  # noqa: F401  (the churn.refresh job the refresh button queues)
from ai.insights import churn
from ai.models import registry
from core.accounts.models import Account
from core.activities.models import Activity
from core.actor import Actor
from core.churn import service as risks
from core.churn.models import ChurnRisk
from core.contacts.models import Contact
from core.db import unit_of_work
from core.deals.models import Deal
from core.ids import new_id
from core.notes.models import Note
from core.pipelines.models import Pipeline, Stage
from tests.factories import TenantWorld, create_tenant, quiesce

NOW = datetime.now(UTC)


@dataclass
class Planted:
    """What the builder made: each account's fate (loyal, churned in the past, going quiet now)."""

    world: TenantWorld
    fate: dict[UUID, str] = field(default_factory=dict)
    contacts: dict[UUID, list[UUID]] = field(default_factory=dict)

    def of(self, kind: str) -> list[UUID]:
        return [a for a, f in self.fate.items() if f == kind]


def _stages(session: Any, tenant_id: UUID) -> tuple[UUID, Stage, Stage, Stage]:
    pipeline = session.scalars(select(Pipeline).where(Pipeline.tenant_id == tenant_id, Pipeline.is_default)).one()
    stages = list(session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id)))
    won = next(s for s in stages if s.is_won_stage)
    lost = next(s for s in stages if s.is_closed_stage and not s.is_won_stage)
    first = min((s for s in stages if not s.is_closed_stage), key=lambda s: s.display_order)
    return pipeline.id, won, lost, first


def build(world: TenantWorld, *, loyal: int, churned: int, quiet: int, seed: int = 7) -> Planted:
    """Customer accounts with three years of history, as of now:
    - loyal: an activity every ~12 days, a renewal won every year;
    - churned: the same until a day 200-900 days ago, fading over the 90 days before, often with a lost deal, a
      complaint note and a contact leaving; nothing after;
    - quiet: the same story, the silence starting 45-100 days ago (the ones a rep should call now)."""
    rng = np.random.default_rng(seed)
    planted = Planted(world)
    t, owner = world.tenant_id, world.admin_id
    fates = ["loyal"] * loyal + ["churned"] * churned + ["quiet"] * quiet
    with unit_of_work(world.admin) as session:
        pipeline_id, won, lost, first = _stages(session, t)
        rows: list[Any] = []
        later: list[Any] = []

        def at(day: float) -> datetime:
            return NOW + timedelta(days=float(day))

        def deal(account: UUID, day: float, stage: Stage | None, name: str, expected: float | None = None) -> Deal:
            closed = stage is not None
            return Deal(
                id=new_id(),
                tenant_id=t,
                owner_id=owner,
                pipeline_id=pipeline_id,
                stage_id=(stage or first).id,
                account_id=account,
                name=name,
                amount=10_000,
                is_closed=closed,
                is_won=stage.is_won_stage if stage is not None else None,
                actual_close_date=at(day).date() if closed else None,
                expected_close_date=at(expected if expected is not None else day).date(),
                created_at=at(day - 30),
            )

        for i, fate in enumerate(fates):
            account = Account(id=new_id(), tenant_id=t, owner_id=owner, name=f"Customer {i:03d} {fate}")
            rows.append(account)
            planted.fate[account.id] = fate
            people = [
                Contact(
                    id=new_id(),
                    tenant_id=t,
                    owner_id=owner,
                    account_id=account.id,
                    first_name=f"C{i}",
                    last_name=f"P{k}",
                    lifecycle_stage="customer",
                    created_at=at(-1100),
                )
                for k in range(2)
            ]
            rows.extend(people)
            planted.contacts[account.id] = [p.id for p in people]
            start = -float(rng.uniform(800, 1000))
            end = {"loyal": 0.0, "churned": -float(rng.uniform(200, 900)), "quiet": -float(rng.uniform(45, 100))}[fate]
            end = max(end, start + 120)
            day = start
            later.append(deal(account.id, start, won, "First order"))
            renewal = start + 365
            while renewal < min(end, -1):
                later.append(deal(account.id, renewal, won, "Renewal"))
                renewal += 365
            if fate != "loyal" and renewal < -1:
                later.append(deal(account.id, renewal - 30, None, "Renewal", expected=renewal))  # never signed
            while True:
                fading = fate != "loyal" and day > end - 90
                day += float(rng.exponential(24.0 if fading else 12.0))
                if day >= min(end, 0):
                    break
                later.append(
                    Activity(
                        id=new_id(),
                        tenant_id=t,
                        owner_id=owner,
                        type=str(rng.choice(["call", "meeting", "email"])),
                        subject="Check-in",
                        occurred_at=at(day),
                        account_id=account.id,
                        contact_id=people[0].id,
                    )
                )
            if fate != "loyal":
                if rng.random() < 0.6:
                    later.append(deal(account.id, end - 20, lost, "Expansion"))
                if rng.random() < 0.6:
                    later.append(
                        Note(
                            id=new_id(),
                            tenant_id=t,
                            entity_type="accounts",
                            entity_id=account.id,
                            body="Customer complained about the outage and asked about cancelling.",
                            created_at=at(end - 15),
                        )
                    )
                if rng.random() < 0.6:
                    people[1].deleted_at = at(end - 25)
        session.add_all(rows)
        session.flush()
        session.add_all(later)
    return planted


@pytest.fixture(scope="module")
def history_world() -> Iterator[Planted]:
    world = create_tenant()
    planted = build(world, loyal=30, churned=30, quiet=12)
    yield planted
    quiesce(world.tenant_id)


def _auc(planted: Planted, scores: dict[UUID, float], positive: str, negative: str) -> float:
    pos = [scores[a] for a in planted.of(positive)]
    neg = [scores[a] for a in planted.of(negative)]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_features_are_point_in_time(history_world: Planted) -> None:
    """Features as of a past day ignore everything after it: adding later records changes nothing."""
    system = Actor.system(history_world.world.tenant_id)
    day = churn._day(NOW - timedelta(days=300))
    with unit_of_work(system) as session:
        before = churn.features_at(churn.load_history(session), day).sort("account")
    account = history_world.of("loyal")[0]
    with unit_of_work(system) as session:
        _, won, lost, _ = _stages(session, system.tenant_id)
        session.add_all(
            [
                Activity(
                    id=new_id(),
                    tenant_id=system.tenant_id,
                    owner_id=history_world.world.admin_id,
                    type="call",
                    subject="Later call",
                    occurred_at=NOW - timedelta(days=299),
                    account_id=account,
                ),
                Note(
                    id=new_id(),
                    tenant_id=system.tenant_id,
                    entity_type="accounts",
                    entity_id=account,
                    body="A complaint, later",
                ),
            ]
        )
        session.flush()
        after = churn.features_at(churn.load_history(session), day).sort("account")
        session.rollback()
    assert before.height > 0
    assert before.equals(after)
    assert set(before.columns) >= set(churn.RAW)


def test_a_young_workspace_gets_the_rules_score_with_reasons() -> None:
    """Too little history to learn from: the rules give the risks, say so, and an account going quiet with a
    complaint and a departed contact ranks above an engaged one, with that said in words."""
    world = create_tenant()
    try:
        planted = build(world, loyal=2, churned=0, quiet=2, seed=3)
        system = Actor.system(world.tenant_id)
        with unit_of_work(system) as session:
            result = churn.train_workspace(session, system)
            refreshed = churn.refresh(session, system)
        assert result["status"] == "cold_start" and result["method"] == "rules"
        assert "rules" in result["message"]
        assert refreshed["scored"] == 4 and refreshed["method"] == "rules"
        with unit_of_work(world.admin) as session:
            listed = risks.list_risks(session, world.admin, limit=10)
        assert len(listed) == 4
        assert {r.method for r in listed} == {"rules"}
        assert [r.score for r in listed] == sorted((r.score for r in listed), reverse=True)
        top = {r.account_id for r in listed[:2]}
        assert top == set(planted.of("quiet")), [(r.account_name, r.score) for r in listed]
        quiet = listed[0]
        assert quiet.level in ("medium", "high")
        assert quiet.reasons and all(r.points > 0 for r in quiet.reasons[:2])
        texts = " | ".join(r.text for r in quiet.reasons)
        assert any(words in texts for words in ("No activity", "Activity down", "Last activity")), texts
        engaged = listed[-1]
        assert engaged.score < quiet.score - 20
        assert any(r.points < 0 for r in engaged.reasons), engaged.reasons  # a recent renewal lowers the risk
    finally:
        quiesce(world.tenant_id)


@pytest.fixture(scope="module")
def trained(history_world: Planted) -> dict[str, Any]:
    system = Actor.system(history_world.world.tenant_id)
    with unit_of_work(system) as session:
        result = churn.train_workspace(session, system)
        refreshed = churn.refresh(session, system)
    return {"result": result, "refreshed": refreshed, "system": system}


def test_the_model_learns_from_the_workspaces_churned_accounts_and_is_used_only_when_better(
    history_world: Planted, trained: dict[str, Any]
) -> None:
    result, system = trained["result"], trained["system"]
    assert result["status"] == "trained", result
    assert result["training_rows"] >= churn.MIN_ROWS and result["validation_rows"] > 0
    with unit_of_work(system) as session:
        models = registry.list_models(session, system, churn.MODEL_TYPE)
        active = registry.active(session, system, churn.MODEL_TYPE)
        assert active is not None
        learned = next(m for m in models if m.algorithm == churn.MODEL_ALGORITHM)
        rules = next(m for m in models if m.algorithm == churn.RULES_ALGORITHM)
        metrics = learned.metrics
        assert 0.5 < metrics["roc_auc"] <= 1 and 0 < metrics["rules_roc_auc"] <= 1
        assert metrics["rules_roc_auc"] == rules.metrics["rules_roc_auc"]
        better = metrics["roc_auc"] > metrics["rules_roc_auc"] + churn.TIE / 2
        assert active.id == (learned.id if better else rules.id)
        assert result["method"] == ("model" if better else "rules")
        stored = session.scalars(select(ChurnRisk).where(ChurnRisk.tenant_id == system.tenant_id)).all()
        assert {r.model_id for r in stored} == {active.id}
        assert {r.method for r in stored} == {result["method"]}
        # the artefact is plain JSON, checked against its hash
        content = registry.load_artifact(system.tenant_id, learned.artifact_sha256)
        assert content["format"] == churn.FORMAT and len(content["coef"]) == len(churn.MODEL_FEATURES)
        # a model that lost to the rules is not used
        registry.activate_model(session, system, learned.id)
        assert churn.champion(session, system).name == "model"
        session.rollback()


def test_accounts_going_quiet_now_rank_above_loyal_ones(history_world: Planted, trained: dict[str, Any]) -> None:
    system = trained["system"]
    with unit_of_work(system) as session:
        listed = risks.list_risks(session, system, limit=500)
    scores = {r.account_id: float(r.probability) for r in listed}
    assert set(scores) == set(history_world.fate), "every customer account has a risk"
    assert _auc(history_world, scores, "quiet", "loyal") >= 0.9
    assert _auc(history_world, scores, "churned", "loyal") >= 0.9
    by_fate = {f: np.mean([scores[a] for a in history_world.of(f)]) for f in ("loyal", "quiet")}
    assert by_fate["quiet"] > by_fate["loyal"] + 0.2, by_fate
    top = listed[0]
    assert top.reasons and top.measured.roc_auc is not None and top.measured.outcome_days == churn.OUTCOME_DAYS
    assert all(r.text and r.factor for r in top.reasons)


def test_reps_see_the_risks_of_their_own_accounts_only(history_world: Planted, trained: dict[str, Any]) -> None:
    world = history_world.world
    rep_id = world.add_user("rep")
    mine = history_world.of("quiet")[0]
    with unit_of_work(world.admin) as session:
        session.execute(text("UPDATE accounts SET owner_id = :rep WHERE id = :a"), {"rep": rep_id, "a": mine})
    rep = world.actor(rep_id)
    with unit_of_work(rep) as session:
        listed = risks.list_risks(session, rep, limit=100)
        assert [r.account_id for r in listed] == [mine]
        assert risks.count_risks(session, rep) == 1
        assert risks.account_risk(session, rep, mine) is not None
        other = history_world.of("loyal")[1]
        with pytest.raises(Exception, match="not found"):
            risks.account_risk(session, rep, other)
    read_only = world.actor(world.add_user("read_only"))
    with unit_of_work(read_only) as session, pytest.raises(Exception, match="insights"):
        risks.list_risks(session, read_only)


def test_a_change_is_reflected_by_the_pass_over_what_changed(history_world: Planted, trained: dict[str, Any]) -> None:
    """A complaint and a contact leaving at a loyal account: the worker's pass re-scores that account only, and the
    risk rises with those reasons."""
    system = trained["system"]
    account = history_world.of("loyal")[2]
    with unit_of_work(system) as session:
        churn.refresh_changed(session, system)  # what earlier tests changed
    with unit_of_work(system) as session:
        before = risks.account_risk(session, system, account)
        untouched = risks.account_risk(session, system, history_world.of("loyal")[3])
    assert before is not None and untouched is not None
    with unit_of_work(system) as session:
        session.add(
            Note(
                id=new_id(),
                tenant_id=system.tenant_id,
                entity_type="accounts",
                entity_id=account,
                body="Escalation: the customer is unhappy with support and threatens to cancel.",
            )
        )
        session.execute(
            text("UPDATE contacts SET deleted_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": history_world.contacts[account]},
        )
    with unit_of_work(system) as session:
        result = churn.refresh_changed(session, system, overlap_seconds=0)
    assert result["scored"] == 1, result
    with unit_of_work(system) as session:
        after = risks.account_risk(session, system, account)
        same = risks.account_risk(session, system, history_world.of("loyal")[3])
    assert after is not None and same is not None
    assert after.score > before.score
    assert after.features["open_issues"] >= 1 and after.features["contact_departures_180d"] == 2
    assert same.computed_at == untouched.computed_at
    if after.method == "rules":
        assert any("left in the last 180 days" in r.text for r in after.reasons), after.reasons


def test_snapshot_outcomes_follow_the_definition(history_world: Planted) -> None:
    """Training rows: accounts active at the snapshot; churned = no win and no activity in the next 180 days."""
    system = Actor.system(history_world.world.tenant_id)
    with unit_of_work(system) as session:
        rows = churn.snapshots(churn.load_history(session), now=NOW)
    assert rows["at"].max() <= churn._day(NOW) - churn.OUTCOME_DAYS
    loyal = rows.filter(pl.col("account").is_in([str(a) for a in history_world.of("loyal")]))
    assert loyal.height > 0 and loyal["churned"].sum() == 0
    churned = rows.filter(pl.col("account").is_in([str(a) for a in history_world.of("churned")]))
    assert churned["churned"].sum() > 0


def test_sentiment_of_the_accounts_text_counts_when_it_is_stored() -> None:
    """Negative calls lately after positive ones before: sentiment falling and open issues, in the features and in
    the rules' reasons (the trend from `text_sentiments`, a rep's correction counting over the model's label)."""
    from core.sentiment.models import TextSentiment

    world = create_tenant()
    try:
        planted = build(world, loyal=1, churned=0, quiet=0, seed=5)
        account = planted.of("loyal")[0]
        system = Actor.system(world.tenant_id)
        with unit_of_work(system) as session:
            rows: list[Any] = []
            for k, (days, label, corrected) in enumerate(
                [(150, "positive", None), (120, "positive", None), (40, "negative", None), (20, "neutral", "negative")]
            ):
                activity = Activity(
                    id=new_id(),
                    tenant_id=world.tenant_id,
                    owner_id=world.admin_id,
                    type="call",
                    subject=f"Call {k}",
                    occurred_at=NOW - timedelta(days=days),
                    account_id=account,
                )
                session.add(activity)
                session.flush()
                rows.append(
                    TextSentiment(
                        id=new_id(),
                        tenant_id=world.tenant_id,
                        entity_type="activities",
                        entity_id=activity.id,
                        label=label,
                        score={"positive": 0.8, "negative": -0.8, "neutral": 0.0}[label],
                        confidence=0.9,
                        model_version="out_of_box-test",
                        content_hash="0" * 64,
                        corrected_label=corrected,
                        occurred_at=activity.occurred_at,
                    )
                )
            session.add_all(rows)
            session.flush()
            feats = churn.features_at(churn.load_history(session), churn._day(NOW)).row(0, named=True)
            refreshed = churn.refresh(session, system)
            risk = risks.account_risk(session, system, account)
        assert feats["sentiment_trend"] == pytest.approx(-1.7)  # (-0.8 - 1) / 2 lately against 0.8 before
        assert feats["open_issues"] == 2
        assert refreshed["scored"] == 1 and risk is not None
        assert any(r.factor == "sentiment_trend" and r.points > 0 for r in risk.reasons), risk.reasons
        assert any("Sentiment falling" in r.text for r in risk.reasons)
    finally:
        quiesce(world.tenant_id)


def _account_page(tenant_id: str, user_id: str, account_id: str, limit: int) -> None:
    """A stand-in for the account page and the Insights page: the two render functions as the signed-in user."""
    from uuid import UUID

    from app.ui import churn as churn_ui
    from core.auth import service as auth
    from core.db import unit_of_work

    with unit_of_work(tenant_id=UUID(tenant_id)) as session:
        actor = auth.load_actor(session, tenant_id=UUID(tenant_id), user_id=UUID(user_id))
    churn_ui.risk_badge(actor, account_id)
    churn_ui.top_risks(actor, limit=limit)


def test_the_account_badge_and_the_insights_table_show_the_risk_and_why(
    history_world: Planted, trained: dict[str, Any]
) -> None:
    from streamlit.testing.v1 import AppTest

    world = history_world.world
    quiet = history_world.of("quiet")[1]
    with unit_of_work(trained["system"]) as session:
        risk = risks.account_risk(session, trained["system"], quiet)
    assert risk is not None
    at = AppTest.from_function(
        _account_page, args=(str(world.tenant_id), str(world.admin_id), str(quiet), 5), default_timeout=30
    )
    at.run()
    assert not at.exception and not at.error
    text_shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert f"Churn risk {risk.score}" in text_shown
    assert risk.reasons[0].text in text_shown
    table = at.dataframe[0].value
    assert len(table) == 5 and list(table["Risk"]) == sorted(table["Risk"], reverse=True)
    assert at.button(key="churn_refresh")  # an admin may refresh
    at.button(key="churn_refresh").click().run()
    assert not at.exception
    with unit_of_work(world.admin) as session:
        queued = session.execute(
            text("SELECT count(*) FROM jobs WHERE kind = 'churn.refresh' AND status = 'queued'")
        ).scalar_one()
    assert queued == 1


def test_a_change_through_the_crm_queues_one_debounced_pass_that_updates_the_risk(
    history_world: Planted, trained: dict[str, Any]
) -> None:
    """A note and a contact deleted as a user would: the events queue one `churn.changes` job for the tenant at the
    end of the debounce window; run, it gives the account its new risk."""
    from ai.insights import churn_tasks
    from core.contacts import service as contacts
    from core.jobs import queue
    from core.jobs.models import Job
    from core.notes import service as notes
    from core.notes.schemas import NoteCreate

    churn_tasks.subscribe_changes()  # (the suite unsubscribes every reaction after each test)
    world, system = history_world.world, trained["system"]
    account = history_world.of("loyal")[4]
    with unit_of_work(system) as session:
        before = risks.account_risk(session, system, account)
    admin = world.admin
    with unit_of_work(admin) as session:
        notes.create(session, admin, "accounts", account, NoteCreate(body="They complained: the outage hurt them."))
        notes.create(session, admin, "accounts", account, NoteCreate(body="Unhappy with support, may cancel."))
        contacts.delete(session, admin, history_world.contacts[account][1])
    queue.dispatch_events()
    with unit_of_work(system) as session:
        jobs = session.scalars(
            select(Job).where(Job.tenant_id == world.tenant_id, Job.kind == churn_tasks.CHANGES)
        ).all()
    assert len(jobs) == 1, "one pass per tenant and window, however many changes"
    assert jobs[0].run_at is not None and jobs[0].run_at > jobs[0].created_at
    queue.run_job(str(jobs[0].id), str(world.tenant_id))
    with unit_of_work(system) as session:
        after = risks.account_risk(session, system, account)
        status = session.scalar(select(Job.status).where(Job.id == jobs[0].id))
    assert status == "succeeded"
    assert before is not None and after is not None
    assert after.computed_at > before.computed_at
    assert after.features["open_issues"] == before.features["open_issues"] + 2
    assert after.features["contact_departures_180d"] == before.features["contact_departures_180d"] + 1
    assert after.score >= before.score
