"""Sentiment is available to reports: the worker's labels (and people's corrections) reach `fact_activities`
with the next warehouse load, and a report groups activities by sentiment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ai.nlp.sentiment_tasks  # noqa: F401  (the retraining a correction queues)
from ai.nlp import sentiment_crm
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.db import unit_of_work
from core.sentiment import service as sentiment
from etl import pipeline
from etl.reports import service as reports
from tests.factories import TenantWorld, create_tenant, quiesce

CALLS = {
    "angry": "The buyer was furious: the invoice was wrong again and they threatened to cancel.",
    "happy": "Great call, they love the product and want to expand to two more teams.",
    "plain": "Sent the agenda for Tuesday's meeting.",
}


@pytest.fixture
def world() -> Iterator[TenantWorld]:
    tenant = create_tenant()
    yield tenant
    quiesce(tenant.tenant_id)


def test_activities_carry_their_sentiment_into_reports(world: TenantWorld) -> None:
    admin = world.admin
    with unit_of_work(admin) as session:
        account = accounts.create(session, admin, AccountCreate(name="Feelings Inc")).id
        made = {
            key: activities.create(
                session, admin, ActivityCreate(type="call", subject=key.title(), body=body, account_id=account)
            ).id
            for key, body in CALLS.items()
        }
    system = Actor.system(world.tenant_id)
    with unit_of_work(system) as session:
        sentiment_crm.read_changed(session, system)
    with unit_of_work(admin) as session:  # a person says the plain one was positive after all
        sentiment.correct(session, admin, "activities", made["plain"], "positive")
    pipeline.run(world.tenant_id, full=True)

    spec = {
        "entity": "activities",
        "groupBy": [{"field": "sentiment"}],
        "aggregations": [{"fn": "count", "name": "calls"}, {"fn": "avg", "field": "sentiment_score", "name": "score"}],
    }
    with unit_of_work(admin) as session:
        frame = reports.run_ad_hoc(session, admin, spec).result.frame
    by_label = {row["sentiment"]: row for row in frame.to_dicts()}
    assert by_label["negative"]["calls"] == 1 and by_label["negative"]["score"] < 0
    assert by_label["positive"]["calls"] == 2  # the happy call and the corrected one
    assert set(by_label) == {"negative", "positive"}
