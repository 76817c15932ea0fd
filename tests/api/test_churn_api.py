"""/api/v1/insights/churn on a hand-built workspace (two loyal customers, two going quiet): 401 / 403 / other
tenant's 404 on each route, bad input refused, a refresh queued by a manager and run by the worker's job runner,
then the accounts by risk with their reasons and method, one account's risk, and what a rep may see."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

import ai.insights.churn_tasks  # noqa: F401  (the churn.refresh job the API queues)
from api.deps import limit_by_ip
from api.main import API_PREFIX, _include_flat
from api.routers import churn as churn_router
from core.accounts.models import Account
from core.db import unit_of_work
from core.ids import new_id
from core.jobs import queue
from tests.ai.test_churn import Planted, build
from tests.api.conftest import API, assert_error, assert_success, login_headers, make_client, user_email
from tests.factories import create_tenant, quiesce

CHURN = f"{API}/insights/churn"


@pytest.fixture(scope="module")
def app(api_app: FastAPI) -> FastAPI:
    """The app with the churn routes (until api/main.py registers them)."""
    if not any(getattr(r, "path", None) == f"{API_PREFIX}/insights/churn" for r in api_app.routes):
        _include_flat(api_app, churn_router.router, prefix=API_PREFIX, dependencies=[Depends(limit_by_ip)])
    return api_app


@dataclass
class World:
    planted: Planted
    client: TestClient
    headers: dict[str, dict[str, str]]  # admin, manager, rep, read_only, away (another tenant's admin)
    rep_id: UUID
    prospect: UUID  # an account with no won deal (not a customer)
    away_account: UUID


@pytest.fixture(scope="module")
def world(app: FastAPI) -> Iterator[World]:
    home = create_tenant()
    away = create_tenant()
    planted = build(home, loyal=2, churned=0, quiet=2, seed=3)
    client = make_client(app)
    headers = {"admin": login_headers(client, home.admin_email, home.slug)}
    for role in ("manager", "read_only"):
        headers[role] = login_headers(client, user_email(home, role), home.slug)
    rep_email = f"rep-{home.slug}@{home.slug}.example.com"
    rep_id = home.add_user("rep", email=rep_email)
    headers["rep"] = login_headers(client, rep_email, home.slug)
    headers["away"] = login_headers(client, away.admin_email, away.slug)
    with unit_of_work(home.admin) as session:
        prospect = Account(id=new_id(), tenant_id=home.tenant_id, owner_id=home.admin_id, name="Prospect Ltd")
        session.add(prospect)
    with unit_of_work(away.admin) as session:
        other = Account(id=new_id(), tenant_id=away.tenant_id, owner_id=away.admin_id, name="Away customer")
        session.add(other)
    yield World(planted, client, headers, rep_id, prospect.id, other.id)
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


def test_every_route_needs_a_signed_in_user_with_the_permission(world: World) -> None:
    client, h = world.client, world.headers
    assert_error(client.get(CHURN), 401)
    assert_error(client.post(f"{CHURN}/refresh"), 401)
    assert_error(client.get(CHURN, headers=h["read_only"]), 403)
    assert_error(client.post(f"{CHURN}/refresh", headers=h["rep"]), 403)
    assert_error(client.get(CHURN, params={"limit": 0}, headers=h["admin"]), 400)
    assert_error(client.get(CHURN, params={"accountId": "nope"}, headers=h["admin"]), 400)


def test_a_refresh_gives_every_customer_account_its_risk_with_reasons(world: World) -> None:
    client, h = world.client, world.headers
    assert assert_success(client.get(CHURN, headers=h["admin"])) == []  # nothing computed yet
    resp = client.post(f"{CHURN}/refresh", headers=h["manager"])
    job = assert_success(resp, 202)
    assert job["kind"] == "churn.refresh" and resp.headers["location"] == f"/api/v1/jobs/{job['id']}"
    again = assert_success(client.post(f"{CHURN}/refresh", headers=h["admin"]), 202)
    assert again["id"] == job["id"], "a refresh waiting to run is not queued twice"
    queue.run_job(job["id"], str(world.planted.world.tenant_id))
    done = assert_success(client.get(f"{API}/jobs/{job['id']}", headers=h["manager"]))
    assert done["status"] == "succeeded", done
    assert done["result"]["method"] == "rules" and done["result"]["scored"] == 4
    assert "rules" in done["message"]

    risks = assert_success(client.get(CHURN, headers=h["admin"]))
    assert len(risks) == 4, "customer accounts only: the prospect has no won deal"
    assert {UUID(r["accountId"]) for r in risks[:2]} == set(world.planted.of("quiet"))
    assert [r["score"] for r in risks] == sorted((r["score"] for r in risks), reverse=True)
    top = risks[0]
    assert top["method"] == "rules" and top["modelVersion"].startswith("rules-")
    assert 0 <= float(top["probability"]) <= 1 and top["score"] == round(float(top["probability"]) * 100)
    assert top["level"] in ("low", "medium", "high")
    assert top["reasons"] and {"factor", "text", "points"} <= set(top["reasons"][0])
    assert top["measured"]["outcomeDays"] == 180
    assert "activities90d" in top["features"] or "activities_90d" in top["features"]

    limited = assert_success(client.get(CHURN, params={"limit": 1, "minScore": 0}, headers=h["admin"]))
    assert [r["accountId"] for r in limited] == [top["accountId"]]
    one = assert_success(client.get(CHURN, params={"accountId": top["accountId"]}, headers=h["admin"]))
    assert one == [top]
    assert assert_success(client.get(CHURN, params={"accountId": str(world.prospect)}, headers=h["admin"])) == []
    assert_error(client.get(CHURN, params={"accountId": str(world.away_account)}, headers=h["admin"]), 404)
    assert_error(client.get(CHURN, params={"accountId": top["accountId"]}, headers=h["away"]), 404)
    assert assert_success(client.get(CHURN, headers=h["away"])) == []


def test_a_rep_sees_the_risks_of_their_own_accounts(world: World) -> None:
    client, h = world.client, world.headers
    mine = world.planted.of("loyal")[0]
    with unit_of_work(world.planted.world.admin) as session:
        session.execute(text("UPDATE accounts SET owner_id = :rep WHERE id = :a"), {"rep": world.rep_id, "a": mine})
    listed = assert_success(client.get(CHURN, headers=h["rep"]))
    assert [UUID(r["accountId"]) for r in listed] == [mine]
    other = world.planted.of("quiet")[0]
    assert_error(client.get(CHURN, params={"accountId": str(other)}, headers=h["rep"]), 404)
