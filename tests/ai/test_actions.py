"""Next best actions: valued from the workspace's own history (a hand-built history whose answer is known), one
per condition on the right records with a reason carrying its figures, gone when the condition no longer holds,
taken (the task it implies, in the same transaction) or ignored for good, with taken/ignored rates; and on a small
demo workspace, every deal kind found and ranked by expected value."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, text

from ai.insights import actions as nba
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.actions import service as actions
from core.actions.models import NextActionDecision, NextBestAction
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.models import Deal
from core.deals.schemas import DealCreate
from core.demo import service as demo
from core.errors import Conflict
from core.pipelines.models import Stage
from core.tasks import service as tasks
from core.tasks.models import Task
from core.tasks.schemas import TaskCreate
from tests.factories import PASSWORD, TenantWorld, create_tenant, quiesce

# The planted history: deals at accounts with two contacts won 30 of 40, at single-contact accounts 10 of 40.
MULTI, MULTI_WON, SINGLE, SINGLE_WON = 40, 30, 40, 10


def stages(session: Any, actor: Actor) -> dict[str, Stage]:
    return {s.name: s for s in session.scalars(select(Stage).where(Stage.tenant_id == actor.tenant_id))}


def account_with(session: Any, actor: Actor, name: str, people: int) -> tuple[UUID, UUID]:
    """An account with `people` contacts; returns (account id, first contact id)."""
    account = accounts.create(session, actor, AccountCreate(name=name))
    first = None
    for i in range(people):
        contact = contacts.create(
            session, actor, ContactCreate(first_name=f"P{i}", last_name=name, account_id=account.id)
        )
        first = first or contact.id
    assert first is not None
    return account.id, first


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    tenant = create_tenant()
    admin = tenant.admin
    with unit_of_work(admin) as session:
        named = stages(session, admin)
        for i in range(MULTI + SINGLE):
            multi = i < MULTI
            won = i < MULTI_WON if multi else i - MULTI < SINGLE_WON
            account_id, contact_id = account_with(session, admin, f"Past {i}", 2 if multi else 1)
            deals.create(
                session,
                admin,
                DealCreate(
                    name=f"Past deal {i}",
                    amount=Decimal(5000),
                    stage_id=named["Closed Won" if won else "Closed Lost"].id,
                    lost_reason=None if won else "Price",
                    account_id=account_id,
                    contact_id=contact_id,
                ),
            )
    yield {"tenant": tenant, "system": Actor.system(tenant.tenant_id)}
    quiesce(tenant.tenant_id)


def open_deal(tenant: TenantWorld, name: str, amount: int, *, people: int = 1) -> tuple[UUID, UUID, UUID]:
    """An open deal in Prospecting at a new account with `people` contacts: (deal, account, contact)."""
    admin = tenant.admin
    with unit_of_work(admin) as session:
        account_id, contact_id = account_with(session, admin, f"{name} Inc {secrets.token_hex(2)}", people)
        deal = deals.create(
            session,
            admin,
            DealCreate(name=name, amount=Decimal(amount), account_id=account_id, contact_id=contact_id),
        )
        return deal.id, account_id, contact_id


def refresh(world: dict[str, Any], now: datetime | None = None, remeasure: bool = False) -> dict[str, Any]:
    with unit_of_work(world["system"]) as session:
        return nba.refresh(session, world["system"], now=now, remeasure=remeasure)


def of_deal(world: dict[str, Any], deal_id: UUID) -> dict[str, NextBestAction]:
    with unit_of_work(world["system"]) as session:
        found = actions.list_actions(session, world["system"], entity_type="deals", entity_id=deal_id)
        session.expunge_all()
    return {a.kind: a for a in found}


def test_the_uplift_is_measured_on_the_workspaces_history_and_values_each_deal(world: dict[str, Any]) -> None:
    big, _, _ = open_deal(world["tenant"], "Big single", 10_000)
    small, _, _ = open_deal(world["tenant"], "Small single", 1_000)
    threaded, _, _ = open_deal(world["tenant"], "Threaded", 10_000, people=2)
    refresh(world, remeasure=True)

    mine = of_deal(world, big)["multi_thread"]
    # 75% vs 25%: relative lift 2.0 on 40 deals, shrunk towards 0.10 with 50 pseudo-deals
    lift = round((MULTI * 2.0 + nba.PRIOR_WEIGHT * nba.PRIOR_LIFT) / (MULTI + nba.PRIOR_WEIGHT), 4)
    p = 0.10  # Prospecting's own probability: no closed deal passed through it
    assert float(mine.win_probability) == pytest.approx(p)
    assert float(mine.uplift) == pytest.approx(p * lift, abs=1e-4)
    assert mine.expected_value == Decimal(str(round(10_000 * p * lift, 2)))
    assert "won 75% vs 25% without (80 deals)" in mine.reason
    assert f"= USD {10_000 * p * lift:,.0f} expected" in mine.reason
    assert mine.change["type"] == "task" and "Find a second contact" in mine.change["title"]

    assert of_deal(world, small)["multi_thread"].expected_value < mine.expected_value
    assert "multi_thread" not in of_deal(world, threaded), "an account with two contacts is already multi-threaded"
    with unit_of_work(world["system"]) as session:
        model = session.execute(
            text("SELECT version, metrics FROM ml_models WHERE model_type = 'next_best_action' AND is_active")
        ).one()
    assert mine.model_version == model.version
    measured = model.metrics["uplifts"]["multi_thread"]
    assert (measured["treated"], measured["treated_won"], measured["untreated"], measured["untreated_won"]) == (
        MULTI,
        MULTI_WON,
        SINGLE,
        SINGLE_WON,
    )
    assert measured["source"] == "measured"


def test_actions_follow_their_conditions_and_a_decision_sticks(world: dict[str, Any]) -> None:
    tenant, system = world["tenant"], world["system"]
    first, _, _ = open_deal(tenant, "First", 4_000)
    second, _, _ = open_deal(tenant, "Second", 3_000)
    refresh(world)
    assert {"schedule_next_step", "multi_thread"} <= set(of_deal(world, first))
    assert "follow_up_rotting" not in of_deal(world, first), "a deal created today is not stale"

    # a next step booked: the action goes on the next refresh; the other deal keeps its own
    with unit_of_work(tenant.admin) as session:
        tasks.create(
            session, tenant.admin, TaskCreate(title="Demo", deal_id=first, due_at=datetime.now(UTC) + timedelta(days=3))
        )
    refresh(world)
    assert "schedule_next_step" not in of_deal(world, first)
    assert "schedule_next_step" in of_deal(world, second)

    # taken: the task it implies exists (linked, assigned to the owner, due tomorrow), the choice is recorded
    # and audited, the action is gone, and a second click is a conflict
    action = of_deal(world, second)["schedule_next_step"]
    with unit_of_work(tenant.admin) as session:
        decision, task = actions.apply(session, tenant.admin, action.id)
        task_id, decision_id = task.id, decision.id
    with unit_of_work(system) as session:
        task = tasks.get(session, system, task_id)
        assert (task.title, task.deal_id, task.assignee_id) == (
            "Book the next step for Second",
            second,
            tenant.admin_id,
        )
        assert task.due_at is not None
        assert timedelta(hours=23) < task.due_at - datetime.now(UTC) <= timedelta(days=1)
        assert "Why: no future task or meeting booked" in (task.description or "")
        row = session.get(NextActionDecision, decision_id)
        assert row is not None and (row.decision, row.decided_by, row.record_id) == ("taken", tenant.admin_id, task_id)
        audited = session.execute(
            text("SELECT count(*) FROM audit_logs WHERE entity_type = 'next_action_decisions' AND entity_id = :id"),
            {"id": decision_id},
        ).scalar()
        assert audited == 1
    with pytest.raises(Conflict, match="already taken"), unit_of_work(tenant.admin) as session:
        actions.apply(session, tenant.admin, action.id)

    # the task done and nothing booked again: the same condition, so the action does not come back
    with unit_of_work(tenant.admin) as session:
        tasks.delete(session, tenant.admin, task_id)
    # ignored: gone for good as well, while the same kind on another deal stays
    with unit_of_work(tenant.admin) as session:
        actions.ignore(session, tenant.admin, of_deal(world, first)["multi_thread"].id)
    refresh(world)
    assert "schedule_next_step" not in of_deal(world, second)
    assert "multi_thread" not in of_deal(world, first)
    assert "multi_thread" in of_deal(world, second)

    with unit_of_work(tenant.admin) as session:
        stats = {k.kind: k for k in actions.stats(session, tenant.admin).kinds}
    assert (stats["schedule_next_step"].taken, stats["schedule_next_step"].taken_rate) == (1, 1.0)
    assert (stats["multi_thread"].ignored, stats["multi_thread"].ignored_rate) == (1, 1.0)
    assert stats["multi_thread"].open >= 1
    history = stats["multi_thread"]
    assert (history.with_action_rate, history.without_action_rate, history.history_size) == (0.75, 0.25, 80)


def test_stale_deals_quiet_champions_and_hot_leads(world: dict[str, Any]) -> None:
    tenant = world["tenant"]
    deal_id, _, contact_id = open_deal(tenant, "Stalling", 8_000)
    with unit_of_work(tenant.admin) as session:
        lead = contacts.create(
            session, tenant.admin, ContactCreate(first_name="Hot", last_name="Lead", lead_score=85, phone="+1 555 0100")
        )
        cold = contacts.create(session, tenant.admin, ContactCreate(first_name="Cold", last_name="Lead", lead_score=20))
        lead_id, cold_id = lead.id, cold.id
    later = datetime.now(UTC) + timedelta(days=25)  # seen 25 days from now: 25 days in Prospecting (stale after 14)
    refresh(world, now=later)
    found = of_deal(world, deal_id)
    assert "25 days in Prospecting (stale after 14)" in found["follow_up_rotting"].reason
    email = found["reengage_champion"]
    assert email.contact_id == contact_id and email.change["type"] == "email"
    assert email.change["subject"] == "Next steps on Stalling" and email.change["body"].startswith("Hi P0,")

    with unit_of_work(world["system"]) as session:
        hot = actions.list_actions(session, world["system"], entity_type="contacts", entity_id=lead_id)
        none = actions.list_actions(session, world["system"], entity_type="contacts", entity_id=cold_id)
        session.expunge_all()
    assert [a.kind for a in hot] == ["call_hot_lead"] and none == []
    assert "Lead score 85, never contacted" in hot[0].reason and "Phone: +1 555 0100" in hot[0].change["description"]

    # the email drafted by one click is a task holding the draft (not an email activity: nothing was sent yet)
    with unit_of_work(tenant.admin) as session:
        _, task = actions.apply(session, tenant.admin, email.id)
        assert task.title.startswith("Email P0 Stalling Inc") and task.title.endswith(": Next steps on Stalling")
        assert "Subject: Next steps on Stalling" in (task.description or "") and "Hi P0," in (task.description or "")
        logged = session.execute(text("SELECT count(*) FROM activities WHERE contact_id = :c"), {"c": contact_id})
        assert logged.scalar() == 0

    # a call logged with the deal's contact and on the deal: the champion and the stale deal are no longer quiet
    with unit_of_work(tenant.admin) as session:
        for about in ({"contact_id": contact_id, "deal_id": deal_id}, {"contact_id": lead_id}):
            activities.create(
                session, tenant.admin, ActivityCreate(type="call", subject="Catch-up", occurred_at=later, **about)
            )
    refresh(world, now=later + timedelta(hours=1))
    assert not {"follow_up_rotting", "reengage_champion"} & set(of_deal(world, deal_id))
    with unit_of_work(world["system"]) as session:
        assert actions.list_actions(session, world["system"], entity_type="contacts", entity_id=lead_id) == []


def test_estimate_shrinks_thin_evidence_towards_the_prior() -> None:
    thin = nba.estimate("multi_thread", actions.Outcomes(3, 3, 3, 1))
    assert thin.source == "default" and thin.lift == pytest.approx((3 * 2.0 + 50 * 0.10) / 53, abs=1e-4)
    assert "too little history" in thin.phrase()
    worse = nba.estimate("schedule_next_step", actions.Outcomes(500, 100, 500, 200))
    assert worse.lift == 0.0 and worse.source == "measured", "history showing harm gives no value, not a negative one"
    assert nba.value(0.95, nba.estimate("multi_thread", actions.Outcomes(400, 399, 400, 40)), 1000, None).dp == (
        pytest.approx(0.05)
    ), "no action lifts a deal above certainty"


@pytest.fixture(scope="module")
def demo_world() -> Iterator[dict[str, Any]]:
    seeded = demo.seed(slug=f"nba-{secrets.token_hex(4)}", scale="small", password=PASSWORD)
    system = Actor.system(seeded.tenant_id)
    with unit_of_work(system) as session:
        result = nba.refresh(session, system)
    with unit_of_work(system) as session:
        found = actions.list_actions(session, system, limit=actions.MAX_LIMIT)
        session.expunge_all()
    yield {"seeded": seeded, "system": system, "result": result, "actions": found}
    quiesce(seeded.tenant_id)


def test_a_demo_workspace_gets_every_deal_kind_ranked_by_expected_value(demo_world: dict[str, Any]) -> None:
    found, system = demo_world["actions"], demo_world["system"]
    with unit_of_work(system) as session:
        kinds = dict(session.execute(text("SELECT kind, count(*) FROM next_best_actions GROUP BY kind")).all())
        open_deals = set(session.scalars(select(Deal.id).where(Deal.is_closed.is_(False), Deal.deleted_at.is_(None))))
        booked = set(
            session.scalars(
                select(Task.deal_id).where(
                    Task.deal_id.is_not(None),
                    Task.deleted_at.is_(None),
                    Task.status.in_(("open", "in_progress")),
                    Task.due_at >= datetime.now(UTC),
                )
            )
        )
    assert {"follow_up_rotting", "schedule_next_step"} <= set(kinds), kinds
    assert len(found) == sum(kinds.values()), "the list holds every open action (fewer than the limit here)"
    # every open deal with nothing booked has the action, and no other deal (the demo books no future meetings)
    assert {a.deal_id for a in found if a.kind == "schedule_next_step"} == open_deals - booked
    values = [a.expected_value for a in found]
    assert values == sorted(values, reverse=True) and values[0] > 0
    for action in found:
        assert "%" in action.reason and "expected" in action.reason
        # the stored change in probability is rounded to 4 places: the value agrees to that precision
        assert action.amount is None or abs(action.expected_value - action.amount * action.uplift) <= (
            action.amount * Decimal("0.00005") + Decimal("0.01")
        )
    rotting = [a.deal_id for a in found if a.kind == "follow_up_rotting"]
    with unit_of_work(system) as session:
        reads = deals.to_reads(session, system, [deals.get(session, system, d) for d in rotting[:20]])
    assert reads and all(r.is_rotting for r in reads), "only deals the pipeline shows as rotting get a follow-up"
    with unit_of_work(system) as session:
        uplifts = session.execute(
            text("SELECT metrics->'uplifts' FROM ml_models WHERE model_type = 'next_best_action' AND is_active")
        ).scalar_one()
    assert all(uplifts[k]["treated"] + uplifts[k]["untreated"] > 0 for k in nba.KINDS if k != "call_hot_lead")


def test_the_worker_refreshes_a_workspace_on_its_job(world: dict[str, Any]) -> None:
    from ai.insights import action_tasks  # subscribes the refresh to every change (debounced) on import
    from core.events.service import debounce_window, subscribers, unsubscribe
    from core.jobs import queue
    from core.jobs import service as jobs

    subscribed = action_tasks.REFRESH in subscribers("deal.updated")
    window = debounce_window(action_tasks.REFRESH)
    unsubscribe("*", action_tasks.REFRESH)  # other tests' drains must not wait for debounced refreshes
    assert subscribed and window == action_tasks.DEBOUNCE_SECONDS
    deal_id, _, _ = open_deal(world["tenant"], "Queued", 2_000)
    assert of_deal(world, deal_id) == {}
    with unit_of_work(world["system"]) as session:
        jobs.enqueue_system(
            session, tenant_id=world["tenant"].tenant_id, kind=action_tasks.REFRESH, params={"trigger": "event"}
        )
    assert queue.drain(60) == 0
    assert "schedule_next_step" in of_deal(world, deal_id)
