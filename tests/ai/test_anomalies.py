"""Anomalies in deals and activity (ai/insights/anomalies.py, core/insights): each detector on records made through
the CRM's services (the audit trail and stage history they leave are what the detectors read), the reasons a rep
reads, the tenant's thresholds, storing (new, kept, dismissed stays dismissed, resolved), record scope, the worker's
jobs, and the planted anomalies of the small demo found without false alarms."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text

from ai.insights import anomalies
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.demo import service as demo
from core.errors import NotFound, PermissionDenied
from core.insights import service as insights
from core.insights.schemas import InsightSettingsUpdate
from tests.factories import PASSWORD, TenantWorld, create_tenant, quiesce


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, Any]]:
    tenant = create_tenant()
    admin = tenant.admin
    with unit_of_work(admin) as session:
        stages = session.execute(
            text(
                "SELECT s.id, s.name FROM deal_stages s JOIN pipelines p ON p.id = s.pipeline_id"
                " WHERE p.is_default AND NOT s.is_closed_stage ORDER BY s.display_order"
            )
        ).all()
        account = accounts.create(session, admin, AccountCreate(name="Globex", industry="Technology"))
    yield {"tenant": tenant, "admin": admin, "stages": stages, "account_id": account.id}
    quiesce(tenant.tenant_id)


def new_deal(
    world: dict[str, Any],
    name: str,
    amount: int,
    stage: int = 0,
    owner: Actor | None = None,
    account_id: UUID | None = None,
) -> UUID:
    actor = owner or world["admin"]
    with unit_of_work(actor) as session:
        deal = deals.create(
            session,
            actor,
            DealCreate(
                name=name,
                amount=Decimal(amount),
                account_id=account_id or (world["account_id"] if owner is None else None),
                stage_id=world["stages"][stage].id,
                expected_close_date=date.today() + timedelta(days=20),
            ),
        )
        return deal.id


def patch(world: dict[str, Any], deal_id: UUID, **changes: Any) -> None:
    with unit_of_work(world["admin"]) as session:
        deals.update(session, world["admin"], deal_id, DealPatch(**changes))


def found(world: dict[str, Any], code: str, actor: Actor | None = None) -> dict[UUID, insights.Found]:
    actor = actor or world["admin"]
    with unit_of_work(actor) as session:
        return {
            f.entity_id: f
            for f in anomalies.detect(session, actor, as_of=datetime.now(UTC) + timedelta(seconds=1))
            if f.code == code
        }


def set_settings(world: dict[str, Any], **values: Any) -> None:
    with unit_of_work(world["admin"]) as session:
        version = insights.get_settings(session, world["admin"]).version
        insights.update_settings(session, world["admin"], InsightSettingsUpdate(**values, version=version))


def test_a_close_date_pushed_repeatedly_is_found_with_its_figures(world: dict[str, Any]) -> None:
    pushed = new_deal(world, "Pushed", 10_000)
    once = new_deal(world, "Pushed once", 10_000)
    start = date.today() + timedelta(days=20)
    for weeks in (2, 5, 9):
        patch(world, pushed, expected_close_date=start + timedelta(weeks=weeks))
    patch(world, once, expected_close_date=start + timedelta(weeks=3))
    patch(world, once, expected_close_date=start + timedelta(weeks=1))  # pulled in: not a push
    hits = found(world, "close_date_pushed")
    assert pushed in hits and once not in hits
    assert hits[pushed].reason.startswith("Close date pushed 3 times, 63 days in all")
    assert hits[pushed].details["pushes"] == 3
    set_settings(world, close_push_min=4)  # the tenant's threshold
    try:
        assert pushed not in found(world, "close_date_pushed")
    finally:
        set_settings(world, close_push_min=2)


def test_backward_moves_big_skips_and_late_cuts_are_found(world: dict[str, Any]) -> None:
    stages = world["stages"]
    back = new_deal(world, "Back", 20_000, stage=2)
    skip = new_deal(world, "Skip", 20_000, stage=0)
    one_skip = new_deal(world, "Skip one", 20_000, stage=0)
    cut = new_deal(world, "Cut", 50_000, stage=3)
    small_cut = new_deal(world, "Small cut", 50_000, stage=3)
    early_cut = new_deal(world, "Early cut", 50_000, stage=0)
    patch(world, back, stage_id=stages[0].id)
    patch(world, skip, stage_id=stages[3].id)  # over Qualification and Proposal
    patch(world, one_skip, stage_id=stages[2].id)  # over one stage: common, not an anomaly
    patch(world, cut, amount=Decimal(30_000))
    patch(world, small_cut, amount=Decimal(45_000))
    patch(world, early_cut, amount=Decimal(20_000))  # a cut at the first stage is a requalification
    backwards, skipped, cuts = (found(world, c) for c in ("stage_backwards", "stage_skipped", "late_discount"))
    assert set(backwards) == {back}
    assert backwards[back].reason.startswith(f"Moved back from {stages[2].name} to {stages[0].name} on ")
    assert set(skipped) == {skip} and "skipping 2 stages" in skipped[skip].reason
    assert set(cuts) == {cut}
    assert cuts[cut].reason.startswith("Amount cut 40% late in the cycle (USD 50,000 to USD 30,000")


def test_an_amount_far_from_its_segment_is_found(world: dict[str, Any]) -> None:
    with unit_of_work(world["admin"]) as session:
        energy = accounts.create(session, world["admin"], AccountCreate(name="Energon", industry="Energy")).id
    amounts = (8_000, 9_000, 10_000, 11_000, 12_000) * 2
    normal = [new_deal(world, f"Normal {i}", a, account_id=energy) for i, a in enumerate(amounts)]
    huge = new_deal(world, "Huge", 400_000, account_id=energy)
    hits = found(world, "amount_outlier")
    assert huge in hits and not set(normal) & set(hits)
    assert hits[huge].reason == "Amount USD 400,000 is 40x the usual USD 10,000 for Energy deals"
    assert hits[huge].severity == "high" and hits[huge].details["segmentDeals"] == 11


def test_activity_that_stops_is_found_for_the_rep_and_the_account(world: dict[str, Any]) -> None:
    tenant: TenantWorld = world["tenant"]
    rep = tenant.actor(tenant.add_user("rep"))
    with unit_of_work(rep) as session:
        account = accounts.create(session, rep, AccountCreate(name=f"Initech {secrets.token_hex(2)}"))
        deal = deals.create(session, rep, DealCreate(name="Initech renewal", amount=5_000, account_id=account.id))
        now = datetime.now(UTC)
        for i in range(50):  # about 8 a month for half a year, then nothing for the last 34 days
            at = now - timedelta(days=34 + i * 3.5)
            activities.create(
                session, rep, ActivityCreate(type="call", subject=f"Call {i}", occurred_at=at, account_id=account.id)
            )
    assert deal.id not in found(world, "account_engagement_drop")  # deals are not accounts
    drops = found(world, "account_engagement_drop")
    assert account.id in drops
    assert drops[account.id].reason.startswith("0 activities in the last 30 days against a usual 8 (-100%)")
    assert rep.user_id not in found(world, "rep_activity_drop")  # 8 a month is below the default minimum (20)
    set_settings(world, rep_min_baseline=5)
    try:
        reps = found(world, "rep_activity_drop")
        assert rep.user_id in reps and reps[rep.user_id].reason.startswith("Logged 0 activities in the last 30 days")
    finally:
        set_settings(world, rep_min_baseline=20)


def test_stored_anomalies_open_stay_dismissed_resolve_and_respect_record_scope(world: dict[str, Any]) -> None:
    tenant: TenantWorld = world["tenant"]
    admin = world["admin"]
    rep = tenant.actor(tenant.add_user("rep"))
    theirs = new_deal(world, "Rep's pushed deal", 10_000, owner=rep)
    mine = new_deal(world, "Admin's pushed deal", 10_000)
    start = date.today() + timedelta(days=20)
    for deal_id in (theirs, mine):
        for weeks in (2, 4):
            patch(world, deal_id, expected_close_date=start + timedelta(weeks=weeks))
    with unit_of_work(admin) as session:
        first = anomalies.refresh(session, admin)
    assert first["new"] >= 2
    with unit_of_work(rep) as session:  # a rep sees the anomalies of the deals they may see, not others'
        seen = insights.list_anomalies(session, rep, entity_type="deals", code="close_date_pushed")
        assert [a.entity_id for a in seen] == [theirs] and seen[0].entity_name == "Rep's pushed deal"
        mine_row = insights.list_anomalies(session, admin, entity_id=mine, code="close_date_pushed")[0]
        with pytest.raises(NotFound):
            insights.dismiss(session, rep, mine_row.id)
        dismissed = insights.dismiss(session, rep, seen[0].id)
    assert dismissed.status == "dismissed" and dismissed.dismissed_by == rep.user_id
    with unit_of_work(admin) as session:
        mark = deals.get(session, admin, mine)
        deals.mark_won(session, admin, mine, version=mark.version)  # closed: no longer a pushed open deal
    with unit_of_work(admin) as session:
        again = anomalies.refresh(session, admin)
        rows = {
            a.entity_id: a
            for a in insights.list_anomalies(session, admin, status=None, code="close_date_pushed", limit=200)
        }
    assert again["resolved"] >= 1
    assert rows[theirs].status == "dismissed" and rows[mine].status == "resolved"
    assert rows[theirs].model == anomalies.MODEL and rows[theirs].model_version == anomalies.VERSION
    with unit_of_work(admin) as session:  # the dismissed one ends when it is no longer found, like any other
        mark = deals.get(session, admin, theirs)
        deals.mark_won(session, admin, theirs, version=mark.version)
    with unit_of_work(admin) as session:
        anomalies.refresh(session, admin)
        ended = insights.list_anomalies(session, admin, entity_id=theirs, status=None, code="close_date_pushed")
    assert ended[0].status == "resolved"


def test_an_anomaly_about_a_rep_is_for_a_manager_to_dismiss(world: dict[str, Any]) -> None:
    tenant: TenantWorld = world["tenant"]
    admin = world["admin"]
    rep = tenant.actor(tenant.add_user("rep"))
    slump = insights.Found("rep_win_rate_drop", "users", rep.user_id, "high", 3.0, "Win rate down from 31% to 0%")
    with unit_of_work(admin) as session:
        insights.record_anomalies(
            session,
            admin,
            [slump],
            computed_at=datetime.now(UTC),
            codes=["rep_win_rate_drop"],
            model="t",
            model_version="1",
        )
        row = insights.list_anomalies(session, admin, entity_id=rep.user_id)[0]
    with unit_of_work(rep) as session:  # the rep sees it, but may not hide it from their manager
        assert [a.id for a in insights.list_anomalies(session, rep, entity_id=rep.user_id)] == [row.id]
        with pytest.raises(PermissionDenied):
            insights.dismiss(session, rep, row.id)
    with unit_of_work(admin) as session:
        assert insights.dismiss(session, admin, row.id).status == "dismissed"


def test_the_worker_runs_a_pass_on_its_job_and_queues_one_a_day(world: dict[str, Any]) -> None:
    from ai.insights import anomaly_tasks  # subscribes the debounced pass to every change on import
    from core.events.service import debounce_window, subscribers, unsubscribe
    from core.jobs import queue
    from core.jobs import service as jobs

    anomaly_tasks.subscribe_changes()  # as at import (another test module may have imported it already)
    subscribed = anomaly_tasks.CHANGES in subscribers("deal.updated")
    window = debounce_window(anomaly_tasks.CHANGES)
    unsubscribe("*", anomaly_tasks.CHANGES)  # other tests' drains must not wait for debounced passes
    assert subscribed and window == anomaly_tasks.DEBOUNCE_SECONDS
    tenant_id = world["tenant"].tenant_id
    deal_id = new_deal(world, "Worker pushed", 10_000)
    for weeks in (3, 6):
        patch(world, deal_id, expected_close_date=date.today() + timedelta(weeks=weeks + 3))
    with unit_of_work(world["admin"]) as session:
        jobs.enqueue_system(session, tenant_id=tenant_id, kind=anomaly_tasks.REFRESH, params={"trigger": "test"})
    assert queue.drain(60) == 0
    with unit_of_work(world["admin"]) as session:
        stored = insights.list_anomalies(session, world["admin"], entity_id=deal_id)
    assert [a.code for a in stored] == ["close_date_pushed"]
    stamp = int(datetime.now(UTC).timestamp())
    anomaly_tasks.nightly(stamp)
    anomaly_tasks.nightly(stamp + 60)  # the hourly check again: still one job for the day
    with unit_of_work(world["admin"]) as session:
        queued = session.execute(
            text("SELECT count(*) FROM jobs WHERE kind = :k AND params->>'trigger' = 'nightly'"),
            {"k": anomaly_tasks.REFRESH},
        ).scalar_one()
    assert queued == 1


@pytest.fixture(scope="module")
def small_demo() -> Iterator[demo.SeedResult]:
    seeded = demo.seed(slug=f"an-{secrets.token_hex(4)}", scale="small", seed=42, password=PASSWORD)
    yield seeded
    quiesce(seeded.tenant_id)


def test_the_small_demo_planted_anomalies_are_found_without_false_alarms(small_demo: demo.SeedResult) -> None:
    truth = demo.read_truth(small_demo.slug)
    planted = truth["realized"]["anomalies"]
    system = Actor.system(small_demo.tenant_id)
    as_of = datetime.combine(date.fromisoformat(truth["as_of"]), datetime.min.time(), UTC)
    with unit_of_work(system) as session:
        hits = anomalies.detect(session, system, as_of=as_of, lookback=False)
    by_code: dict[str, set[str]] = {}
    for f in hits:
        by_code.setdefault(f.code, set()).add(str(f.entity_id))
    for code in ("stage_backwards", "late_discount"):
        assert by_code.get(code, set()) == {p["deal_id"] for p in planted[code]}, code
    assert not by_code.get("stage_skipped") and not by_code.get("close_date_pushed")
    outliers = {p["deal_id"] for p in planted["amount_outlier"]}
    assert len(by_code.get("amount_outlier", set()) - outliers) <= 1  # natural deals rarely trigger
    # every reason is one line with a figure in it
    assert all("\n" not in f.reason and any(ch.isdigit() for ch in f.reason) for f in hits)
