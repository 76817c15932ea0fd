"""The CRM record schema's own guarantees, before any service: the default pipeline every tenant gets, the
constraints that keep records consistent whatever path writes them, and audit without derived noise."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.audit.models import AuditLog
from core.db import unit_of_work
from core.ids import new_id
from core.models import Activity, Contact, Deal, Pipeline, Stage, Task


def _default_pipeline(session, tenant_id):
    pipeline = session.scalars(select(Pipeline).where(Pipeline.tenant_id == tenant_id, Pipeline.is_default)).one()
    stages = session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.display_order)).all()
    return pipeline, stages


def test_every_tenant_starts_with_a_default_sales_pipeline(tenant):
    with unit_of_work(tenant.admin) as session:
        pipeline, stages = _default_pipeline(session, tenant.tenant_id)
    assert pipeline.name == "Sales"
    assert [s.name for s in stages] == [
        "Prospecting",
        "Qualification",
        "Proposal",
        "Negotiation",
        "Closed Won",
        "Closed Lost",
    ]
    assert [s.probability for s in stages] == [10, 20, 50, 75, 100, 0]
    assert [(s.is_closed_stage, s.is_won_stage) for s in stages][-2:] == [(True, True), (True, False)]
    assert all(s.rotting_days for s in stages if not s.is_closed_stage)


@pytest.mark.parametrize(
    "bad",
    [
        lambda t, o, p, s: Deal(
            id=new_id(), tenant_id=t, owner_id=o, name="x", pipeline_id=p, stage_id=s, is_closed=True, is_won=True
        ),  # closed without a close date
        lambda t, o, p, s: Deal(
            id=new_id(), tenant_id=t, owner_id=o, name="x", pipeline_id=p, stage_id=s, is_won=True
        ),  # won but not closed
        lambda t, o, p, s: Deal(id=new_id(), tenant_id=t, owner_id=o, name="x", pipeline_id=p, stage_id=s, amount=-5),
        lambda t, o, p, s: Deal(
            id=new_id(), tenant_id=t, owner_id=o, name="x", pipeline_id=p, stage_id=s, currency="usd"
        ),
        lambda t, o, p, s: Contact(id=new_id(), tenant_id=t, owner_id=o, first_name="a", last_name="b", lead_score=101),
        lambda t, o, p, s: Contact(
            id=new_id(), tenant_id=t, owner_id=o, first_name="a", last_name="b", email="Mixed@Case.example"
        ),
        lambda t, o, p, s: Activity(id=new_id(), tenant_id=t, owner_id=o, type="call", subject="orphan"),
        lambda t, o, p, s: Task(id=new_id(), tenant_id=t, assignee_id=o, title="t", status="done"),  # no completed_at
    ],
)
def test_the_database_refuses_inconsistent_records(tenant, bad):
    with pytest.raises(IntegrityError):
        with unit_of_work(tenant.admin) as session:
            pipeline, stages = _default_pipeline(session, tenant.tenant_id)
            session.add(bad(tenant.tenant_id, tenant.admin_id, pipeline.id, stages[0].id))
            session.flush()


def test_a_won_deal_with_its_close_date_is_accepted_and_audited_without_derived_columns(tenant):
    with unit_of_work(tenant.admin) as session:
        pipeline, stages = _default_pipeline(session, tenant.tenant_id)
        deal = Deal(
            id=new_id(),
            tenant_id=tenant.tenant_id,
            owner_id=tenant.admin_id,
            name="Big one",
            pipeline_id=pipeline.id,
            stage_id=stages[4].id,
            amount=12500,
            is_closed=True,
            is_won=True,
            actual_close_date=date(2026, 11, 2),
        )
        session.add(deal)
    with unit_of_work(tenant.admin) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.entity_id == deal.id)).one()
    assert entry.action == "create" and entry.entity_type == "deals" and entry.user_id == tenant.admin_id
    assert entry.new_values["name"] == "Big one" and "search" not in entry.new_values
