"""Pipelines, stages and deals through the services, on the real database: what a sales team relies on.

Stage history always ends at the deal's current stage; won and lost deals carry close dates (and lost ones a
reason); reopening clears the outcome; rotting is derived from time in stage; stale writes are refused; the
pipeline and stage rules keep every deal on a live, consistent stage.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from core.accounts.models import Account
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate
from core.db import new_session, unit_of_work
from core.deals import service as deals
from core.deals.models import Deal, DealStageHistory
from core.deals.schemas import DealCreate, DealPatch, DealReplace
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.ids import new_id
from core.pipelines import service as pipelines
from core.pipelines.schemas import PipelineCreate, PipelineUpdate, StageCreate, StageUpdate
from tests.core.conftest import owner_execute, owner_rows


def _stages(world, pipeline_id=None):
    """{name: stage id} of a pipeline (the default one unless given)."""
    with unit_of_work(world.admin) as session:
        pipeline = (
            pipelines.get(session, world.admin, pipeline_id)
            if pipeline_id
            else pipelines.default_pipeline(session, world.admin)
        )
        read = pipelines.to_read(session, world.admin, pipeline)
    return {s.name: s.id for s in read.stages}


def _create(world, actor=None, **fields):
    actor = actor or world.admin
    with unit_of_work(actor) as session:
        deal = deals.create(session, actor, DealCreate(**{"name": "Deal", **fields}))
        return deal.id


def _read(world, deal_id, actor=None):
    actor = actor or world.admin
    with unit_of_work(actor) as session:
        return deals.to_read(session, actor, deals.get(session, actor, deal_id))


def _events(deal_id) -> list[str]:
    return [
        r.type for r in owner_rows("SELECT type FROM events WHERE entity_id = :e ORDER BY created_at, id", e=deal_id)
    ]


def test_a_new_deal_takes_the_defaults_and_starts_its_history(tenant):
    deal_id = _create(tenant, amount=Decimal("1000.00"))
    read = _read(tenant, deal_id)
    assert (read.pipeline_name, read.stage_name, read.probability, read.currency) == ("Sales", "Prospecting", 10, "USD")
    assert read.owner_id == tenant.admin_id and read.weighted_amount == Decimal("100.00")
    assert (read.is_closed, read.is_won, read.days_in_stage, read.is_rotting) == (False, None, 0, False)
    with unit_of_work(tenant.admin) as session:
        history = deals.stage_history(session, tenant.admin, deal_id)
    assert [(h.from_stage_id, h.to_stage_name, h.changed_by) for h in history] == [
        (None, "Prospecting", tenant.admin_id)
    ]
    assert history[0].amount == Decimal("1000.00") and history[0].probability == 10 and history[0].is_current
    assert _events(deal_id) == ["deal.created"]


def test_stage_history_is_consistent_with_the_current_stage(tenant):
    stages = _stages(tenant)
    deal_id = _create(tenant, amount=Decimal("500"))
    admin = tenant.admin
    with unit_of_work(admin) as session:
        for name in ("Qualification", "Proposal", "Qualification", "Negotiation"):
            deals.move_stage(session, admin, deal_id, stages[name])
        deals.update(session, admin, deal_id, DealPatch(amount=Decimal("750")))
        deals.move_stage(session, admin, deal_id, stages["Proposal"])
        deals.move_stage(session, admin, deal_id, stages["Proposal"])  # already there: nothing happens
    with unit_of_work(admin) as session:
        history = deals.stage_history(session, admin, deal_id)
        deal = deals.get(session, admin, deal_id)
        assert [h.to_stage_name for h in history] == [
            "Prospecting",
            "Qualification",
            "Proposal",
            "Qualification",
            "Negotiation",
            "Proposal",
        ]
        assert all(h.from_stage_id == prev.to_stage_id for prev, h in zip(history, history[1:], strict=False))
        assert history[-1].to_stage_id == deal.stage_id and history[-1].changed_at == deal.stage_entered_at
        assert [h.is_current for h in history].count(True) == 1 and history[-1].is_current
        assert (history[-1].amount, history[-1].probability) == (Decimal("750.00"), 50)
        assert deal.probability == 50  # the stage's
    assert _events(deal_id).count("deal.stage_changed") == 5
    assert _events(deal_id).count("deal.updated") == 1


def test_won_deals_close_today_in_the_tenants_time_zone(tenant):
    owner_execute("UPDATE tenants SET timezone = 'Pacific/Kiritimati' WHERE id = :t", t=tenant.tenant_id)
    deal_id = _create(tenant, amount=Decimal("10"))
    with unit_of_work(tenant.admin) as session:
        deals.mark_won(session, tenant.admin, deal_id)
    read = _read(tenant, deal_id)
    assert (read.stage_name, read.is_closed, read.is_won, read.probability) == ("Closed Won", True, True, 100)
    assert read.actual_close_date == datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    assert read.lost_reason is None
    assert _events(deal_id) == ["deal.created", "deal.stage_changed", "deal.won"]


def test_lost_needs_a_reason_and_reopening_clears_the_outcome(tenant):
    stages = _stages(tenant)
    deal_id = _create(tenant)
    admin = tenant.admin
    with pytest.raises(ValidationFailed) as refused, unit_of_work(admin) as session:
        deals.move_stage(session, admin, deal_id, stages["Closed Lost"])
    assert refused.value.details[0]["field"] == "lostReason"
    with unit_of_work(admin) as session:
        deals.mark_lost(session, admin, deal_id, "Went with a competitor", close_date=date(2026, 3, 1))
    lost = _read(tenant, deal_id)
    assert (lost.is_closed, lost.is_won, lost.lost_reason) == (True, False, "Went with a competitor")
    assert lost.actual_close_date == date(2026, 3, 1)
    with unit_of_work(admin) as session:
        deals.move_stage(session, admin, deal_id, stages["Proposal"])
    reopened = _read(tenant, deal_id)
    assert (reopened.is_closed, reopened.is_won, reopened.lost_reason, reopened.actual_close_date) == (
        False,
        None,
        None,
        None,
    )
    assert reopened.probability == 50
    assert _events(deal_id).count("deal.lost") == 1
    with pytest.raises(ValidationFailed), unit_of_work(admin) as session:  # a reason belongs to a lost stage only
        deals.move_stage(session, admin, deal_id, stages["Closed Won"], lost_reason="why not")


def test_rotting_is_derived_from_time_in_stage_and_filterable(tenant):
    stages = _stages(tenant)
    fresh = _create(tenant, name="Fresh")
    stale = _create(tenant, name="Stale")
    closed = _create(tenant, name="Closed", stage_id=stages["Closed Won"])
    for deal_id in (stale, closed):
        owner_execute(
            "UPDATE deals SET stage_entered_at = now() - interval '20 days' WHERE id = :d", d=deal_id
        )  # Prospecting rots after 14 days
    assert (_read(tenant, stale).is_rotting, _read(tenant, stale).days_in_stage) == (True, 20)
    assert not _read(tenant, fresh).is_rotting and not _read(tenant, closed).is_rotting
    with unit_of_work(tenant.admin) as session:
        rotting = deals.list_deals(session, tenant.admin, {"isRotting": ["true"]})
        healthy = deals.list_deals(session, tenant.admin, {"isRotting": ["false"], "sort": ["name"]})
        old = deals.list_deals(session, tenant.admin, {"daysInStage[gte]": ["15"], "sort": ["name"]})
    assert [d["name"] for d in rotting.items] == ["Stale"]
    assert [d["name"] for d in healthy.items] == ["Closed", "Fresh"]
    assert [d["name"] for d in old.items] == ["Closed", "Stale"]


def test_a_stale_version_is_a_conflict_naming_the_current_version(tenant):
    deal_id = _create(tenant)
    admin = tenant.admin
    with unit_of_work(admin) as session:
        deals.update(session, admin, deal_id, DealPatch(name="Renamed", version=1))
    with pytest.raises(Conflict) as refused, unit_of_work(admin) as session:
        deals.update(session, admin, deal_id, DealPatch(name="Lost update", version=1))
    assert refused.value.code == "VERSION_CONFLICT" and refused.value.details == {"currentVersion": 2}
    with pytest.raises(Conflict), unit_of_work(admin) as session:
        deals.move_stage(session, admin, deal_id, _stages(tenant)["Proposal"], version=1)
    # Two writers that both loaded version 2: the second flush finds the row changed.
    first, second = new_session(admin), new_session(admin)
    try:
        deals.update(first, admin, deal_id, DealPatch(name="First"))
        loaded = deals.get(second, admin, deal_id)
        first.commit()
        loaded.name = "Second"
        with pytest.raises(StaleDataError):
            second.flush()
    finally:
        first.close()
        second.rollback()
        second.close()
    assert _read(tenant, deal_id).name == "First"


def test_put_replaces_and_patch_changes_only_what_is_given(tenant):
    admin = tenant.admin
    deal_id = _create(tenant, amount=Decimal("100"), currency="EUR", lead_source="Web", tags=["a"], probability=33)
    with unit_of_work(admin) as session:
        deals.update(session, admin, deal_id, DealPatch(next_step="Call back"))
    patched = _read(tenant, deal_id)
    assert (patched.lead_source, patched.tags, patched.probability, patched.next_step) == (
        "Web",
        ["a"],
        33,
        "Call back",
    )
    with unit_of_work(admin) as session:
        deals.replace(session, admin, deal_id, DealReplace(name="Replaced"))
    replaced = _read(tenant, deal_id)
    assert (replaced.name, replaced.amount, replaced.currency, replaced.lead_source, replaced.tags) == (
        "Replaced",
        None,
        "USD",
        None,
        [],
    )
    assert (replaced.probability, replaced.next_step, replaced.owner_id) == (10, None, tenant.admin_id)
    with unit_of_work(admin) as session:  # fields and a stage move in one PATCH: one version step, two events
        deals.update(
            session,
            admin,
            deal_id,
            DealPatch(name="Moved", stage_id=_stages(tenant)["Closed Lost"], lost_reason="Price"),
        )
    moved = _read(tenant, deal_id)
    assert (moved.version, moved.stage_name, moved.lost_reason, moved.is_won) == (
        replaced.version + 1,
        "Closed Lost",
        "Price",
        False,
    )
    assert _events(deal_id)[-3:] == ["deal.stage_changed", "deal.lost", "deal.updated"]


def test_pipeline_rules(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        partners = pipelines.create(
            session,
            admin,
            PipelineCreate(
                name="Partners 🤝",
                currency="EUR",
                stages=[
                    StageCreate(name="Intro", probability=5, rotting_days=7),
                    StageCreate(name="Signed", is_won=True),
                    StageCreate(name="Dropped", is_closed=True),
                ],
            ),
        )
        partners_id = partners.id
    partner_stages = _stages(tenant, partners_id)
    deal_id = _create(tenant, pipeline_id=partners_id)
    read = _read(tenant, deal_id)
    assert (read.pipeline_name, read.stage_name, read.currency, read.probability) == ("Partners 🤝", "Intro", "EUR", 5)
    with pytest.raises(ValidationFailed) as wrong_pair:  # a stage of another pipeline
        _create(tenant, pipeline_id=partners_id, stage_id=_stages(tenant)["Proposal"])
    assert wrong_pair.value.details[0]["field"] == "stageId"

    with unit_of_work(admin) as session:
        default = pipelines.default_pipeline(session, admin)
        pipelines.set_default(session, admin, partners_id)
    with unit_of_work(admin) as session:
        listed = pipelines.list_pipelines(session, admin)
        assert [(p.name, p.is_default) for p in listed] == [("Partners 🤝", True), ("Sales", False)]
        with pytest.raises(Conflict):  # the default one
            pipelines.delete(session, admin, partners_id)
        pipelines.set_default(session, admin, default.id)
    with pytest.raises(Conflict), unit_of_work(admin) as session:  # an open deal is on it
        pipelines.delete(session, admin, partners_id)
    with unit_of_work(admin) as session:
        deals.mark_won(session, admin, deal_id)
        assert deals.get(session, admin, deal_id).stage_id == partner_stages["Signed"]
        pipelines.delete(session, admin, partners_id)
    with unit_of_work(admin) as session:
        assert [p.name for p in pipelines.list_pipelines(session, admin)] == ["Sales"]
        with pytest.raises(NotFound):
            pipelines.get(session, admin, partners_id)
    assert _read(tenant, deal_id).pipeline_name == "Partners 🤝"  # closed deals keep their pipeline
    with pytest.raises(ValidationFailed):  # no new deals on a deleted pipeline
        _create(tenant, pipeline_id=partners_id)
    with pytest.raises(Conflict), unit_of_work(admin) as session:
        pipelines.create(session, admin, PipelineCreate(name="Sales"))
    with pytest.raises(Conflict), unit_of_work(admin) as session:
        pipelines.update(session, admin, default.id, PipelineUpdate(name="Sales", version=99))


def test_stage_rules(tenant):
    admin = tenant.admin
    stages = _stages(tenant)
    deal_id = _create(tenant, stage_id=stages["Qualification"])
    with unit_of_work(admin) as session:
        pipeline = pipelines.default_pipeline(session, admin)
        with pytest.raises(Conflict):  # a deal sits in it
            pipelines.delete_stage(session, admin, pipeline.id, stages["Qualification"])
        with pytest.raises(Conflict):  # flags cannot change under a deal
            pipelines.update_stage(session, admin, pipeline.id, stages["Qualification"], StageUpdate(is_closed=True))
        won_too = pipelines.update_stage(session, admin, pipeline.id, stages["Proposal"], StageUpdate(is_won=True))
        assert (won_too.is_closed_stage, won_too.is_won_stage, won_too.rotting_days) == (True, True, None)
        pipelines.update_stage(session, admin, pipeline.id, stages["Proposal"], StageUpdate(is_closed=False))
        added = pipelines.add_stage(
            session, admin, pipeline.id, StageCreate(name="Demo ✨", probability=40, position=3)
        )
        order = [s.name for s in pipelines.to_read(session, admin, pipeline).stages]
        assert order[:4] == ["Prospecting", "Qualification", "Demo ✨", "Proposal"]
        with pytest.raises(ValidationFailed):  # not every stage
            pipelines.reorder_stages(session, admin, pipeline.id, [added.id, stages["Prospecting"]])
    with unit_of_work(admin) as session:
        deals.move_stage(session, admin, deal_id, stages["Negotiation"])
        pipelines.delete_stage(session, admin, pipeline.id, stages["Qualification"])
        read = pipelines.to_read(session, admin, pipeline)
        assert [(s.name, s.position) for s in read.stages][:3] == [
            ("Prospecting", 1),
            ("Demo ✨", 2),
            ("Proposal", 3),
        ]
        reversed_ids = [s.id for s in reversed(read.stages)]
        pipelines.reorder_stages(session, admin, pipeline.id, reversed_ids)
        assert [s.id for s in pipelines.to_read(session, admin, pipeline).stages] == reversed_ids
        # The deleted stage's name is free again, and the history still names the old stage.
        pipelines.add_stage(session, admin, pipeline.id, StageCreate(name="Qualification"))
        history = deals.stage_history(session, admin, deal_id)
        assert [h.to_stage_name for h in history] == ["Qualification", "Negotiation"]
    with pytest.raises(ValidationFailed), unit_of_work(admin) as session:  # a deal cannot enter a deleted stage
        deals.move_stage(session, admin, deal_id, stages["Qualification"])
    with unit_of_work(admin) as session:
        only_open = pipelines.create(
            session,
            admin,
            PipelineCreate(name="Tiny", stages=[StageCreate(name="Open"), StageCreate(name="Won", is_won=True)]),
        )
        open_id = pipelines.first_open_stage(session, admin, only_open.id).id
        with pytest.raises(Conflict):  # the last open stage
            pipelines.delete_stage(session, admin, only_open.id, open_id)
        with pytest.raises(ValidationFailed):
            pipelines.update_stage(session, admin, only_open.id, open_id, StageUpdate(is_closed=True))
    with pytest.raises(ValidationFailed), unit_of_work(admin) as session:
        pipelines.create(
            session, admin, PipelineCreate(name="Closed only", stages=[StageCreate(name="W", is_won=True)])
        )


def test_links_and_owners_must_be_visible_to_the_actor(tenant, other_tenant):
    with unit_of_work(other_tenant.admin) as session:
        theirs = Account(id=new_id(), tenant_id=other_tenant.tenant_id, owner_id=other_tenant.admin_id, name="Theirs")
        session.add(theirs)
    with pytest.raises(ValidationFailed) as refused:
        _create(tenant, account_id=theirs.id, contact_id=new_id(), owner_id=other_tenant.admin_id)
    assert {d["field"] for d in refused.value.details} == {"accountId", "contactId", "ownerId"}

    rep_id = tenant.add_user("rep")
    rep = tenant.actor(rep_id)
    admins_deal = _create(tenant)
    reps_deal = _create(tenant, rep, name="Mine")
    assert _read(tenant, reps_deal, rep).owner_id == rep_id
    with pytest.raises(NotFound), unit_of_work(rep) as session:
        deals.move_stage(session, rep, admins_deal, _stages(tenant)["Proposal"])
    with pytest.raises(ValidationFailed):  # a rep assigns deals only to themself
        _create(tenant, rep, owner_id=tenant.admin_id)
    with pytest.raises(PermissionDenied), unit_of_work(rep) as session:
        deals.delete(session, rep, reps_deal)
    with unit_of_work(rep) as session:
        assert [d["id"] for d in deals.list_deals(session, rep, {}).items] == [str(reps_deal)]


def test_custom_fields_are_written_returned_and_filterable(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        custom_fields.create(
            session,
            admin,
            CustomFieldCreate(
                entity_type="deals",
                field_name="tier",
                field_label="Tier",
                field_type="select",
                field_options=["gold", "silver"],
            ),
        )
    gold = _create(tenant, name="Gold", custom_fields={"tier": "gold"})
    _create(tenant, name="Plain")
    assert _read(tenant, gold).custom_fields == {"tier": "gold"}
    with pytest.raises(ValidationFailed):
        _create(tenant, custom_fields={"tier": "bronze"})
    with unit_of_work(admin) as session:
        page = deals.list_deals(session, admin, {"cf.tier": ["gold"], "fields": ["name,cf.tier"]})
        assert page.items == [{"id": str(gold), "name": "Gold", "customFields": {"tier": "gold"}}]
        deals.update(session, admin, gold, DealPatch(custom_fields={"tier": "silver"}))
    read = _read(tenant, gold)
    assert read.custom_fields == {"tier": "silver"} and read.version == 2
    assert _events(gold) == ["deal.created", "deal.updated"]


def test_bulk_create_keeps_the_good_items(tenant):
    admin = tenant.admin
    with unit_of_work(admin) as session:
        result = deals.bulk_create(
            session,
            admin,
            [{"name": "One"}, {"name": "Two", "amount": -1}, {"name": "Three", "bogus": 1}, {"name": "Four"}],
        )
    assert (result["created"], result["failed"]) == (2, 2)
    assert [r["success"] for r in result["results"]] == [True, False, False, True]
    assert result["results"][1]["error"]["details"][0]["field"] == "amount"
    with unit_of_work(admin) as session:
        names = session.scalars(select(Deal.name).where(Deal.tenant_id == tenant.tenant_id).order_by(Deal.name)).all()
        assert names == ["Four", "One"]
        assert session.scalar(select(DealStageHistory.id).where(DealStageHistory.tenant_id == tenant.tenant_id))
    created = owner_rows(
        "SELECT count(*) AS n FROM events WHERE tenant_id = :t AND type = 'deal.created'", t=tenant.tenant_id
    )
    assert created[0].n == 2


def test_deleted_deals_disappear(tenant):
    deal_id = _create(tenant)
    with unit_of_work(tenant.admin) as session:
        deals.delete(session, tenant.admin, deal_id)
    with pytest.raises(NotFound):
        _read(tenant, deal_id)
    assert _events(deal_id)[-1] == "deal.deleted"
    assert owner_rows("SELECT deleted_at FROM deals WHERE id = :d", d=deal_id)[0].deleted_at <= datetime.now(UTC)
