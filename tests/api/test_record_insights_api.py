"""`GET /api/v1/insights?entity=…&id=…`: one record's insights in one answer, each part as its own endpoint
gives it, with the same permissions and record scope."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from ai.insights import actions, anomalies, churn
from core.actor import Actor
from core.db import unit_of_work
from core.demo import service as demo
from tests.api.conftest import API, assert_error, assert_success, login_headers
from tests.factories import PASSWORD, quiesce


@pytest.fixture(scope="module")
def world(api_app: Any) -> Iterator[dict[str, Any]]:
    from tests.api.conftest import make_client

    seeded = demo.seed(slug=f"ri-{secrets.token_hex(4)}", scale="small", seed=3, password=PASSWORD)
    system = Actor.system(seeded.tenant_id)
    with unit_of_work(system) as session:
        anomalies.refresh(session, system)
        churn.refresh(session, system)
        actions.refresh(session, system)
        at_risk = session.execute(text("SELECT account_id FROM churn_risks ORDER BY score DESC LIMIT 1")).scalar()
        acted = session.execute(
            text(
                "SELECT deal_id FROM next_best_actions WHERE entity_type = 'deals' ORDER BY expected_value DESC LIMIT 1"
            )
        ).scalar()
    client = make_client(api_app)
    emails = {u["role"]: u["email"] for u in reversed(seeded.users)}
    yield {
        "client": client,
        "admin": login_headers(client, emails["admin"], seeded.slug),
        "account": at_risk,
        "deal": acted,
    }
    quiesce(seeded.tenant_id)


def test_an_accounts_insights_come_together(world: dict[str, Any]) -> None:
    assert world["account"] is not None, "the small demo has customer accounts with a churn risk"
    found = assert_success(
        world["client"].get(
            f"{API}/insights", params={"entity": "accounts", "id": str(world["account"])}, headers=world["admin"]
        )
    )
    assert found["entity"] == "accounts" and found["id"] == str(world["account"])
    assert found["churnRisk"]["accountId"] == str(world["account"])
    assert 0 <= found["churnRisk"]["score"] <= 100 and found["churnRisk"]["reasons"]
    assert "months" in found["sentiment"] and isinstance(found["anomalies"], list)
    assert isinstance(found["suggestions"], list)


def test_a_deals_next_actions_and_the_workspace_view(world: dict[str, Any]) -> None:
    client, headers = world["client"], world["admin"]
    found = assert_success(
        client.get(f"{API}/insights", params={"entity": "deals", "id": str(world["deal"])}, headers=headers)
    )
    assert found["nextActions"] and all(a["expectedValue"] is not None for a in found["nextActions"])
    assert "churnRisk" not in found
    deals_overview = assert_success(
        client.get(f"{API}/insights", params={"entity": "deals", "limit": 5}, headers=headers)
    )
    values = [a["expectedValue"] for a in deals_overview["nextActions"]]
    assert values and len(values) <= 5 and values == sorted(values, key=float, reverse=True)
    assert {a["entityType"] for a in deals_overview["nextActions"]} == {"deals"}
    overview = assert_success(client.get(f"{API}/insights", params={"entity": "accounts", "limit": 5}, headers=headers))
    scores = [r["score"] for r in overview["churnRisks"]]
    assert scores == sorted(scores, reverse=True) and len(scores) <= 5


def test_bad_input_and_unreadable_records(world: dict[str, Any]) -> None:
    client, headers = world["client"], world["admin"]
    assert_error(client.get(f"{API}/insights", params={"entity": "people"}, headers=headers), 400)
    assert_error(client.get(f"{API}/insights", params={"entity": "deals", "id": "nope"}, headers=headers), 400)
    missing = client.get(
        f"{API}/insights", params={"entity": "accounts", "id": "01a21ada-0000-7000-8000-000000000000"}, headers=headers
    )
    assert_error(missing, 404)
    assert_error(client.get(f"{API}/insights", params={"entity": "deals"}), 401)
