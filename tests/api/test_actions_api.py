"""/api/v1/next-actions: every route's 401 / 403 / other tenant's 404; the actions of a deal ranked with their
reasons and record change; a rep sees the actions of their own records only; apply creates the task and records
the decision (a second click is a 409), ignore records it, and the stats report the taken/ignored rates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from fastapi import Depends, FastAPI

from ai.insights import actions as nba
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.actor import Actor
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from tests.api.conftest import API, assert_error, assert_success, login_headers, make_client, user_email
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld, create_tenant, quiesce


@pytest.fixture(scope="module")
def app(api_app: FastAPI) -> FastAPI:
    """The run's application, with the next-actions routes added the way api/main.py adds every router (until
    they are registered there)."""
    from api.deps import limit_by_ip
    from api.main import API_PREFIX, _include_flat
    from api.routers import actions as router

    if not any(getattr(r, "path", "").startswith(f"{API_PREFIX}/next-actions") for r in api_app.routes):
        _include_flat(api_app, router.router, prefix=API_PREFIX, dependencies=[Depends(limit_by_ip)])
    return api_app


@pytest.fixture
def client(app: FastAPI) -> Any:
    return make_client(app)


@dataclass
class World:
    home: TenantWorld
    headers: dict[str, dict[str, str]]  # admin, rep, read_only
    rep_deal: UUID
    admin_deal: UUID
    away_deal: UUID
    away_action: UUID


def deal_for(actor: Actor, name: str, amount: int) -> UUID:
    """An open deal owned by `actor` at a single-contact account, with nothing booked."""
    with unit_of_work(actor) as session:
        account = accounts.create(session, actor, AccountCreate(name=f"{name} Ltd"))
        contact = contacts.create(
            session, actor, ContactCreate(first_name="Pat", last_name=name, account_id=account.id)
        )
        deal = deals.create(
            session,
            actor,
            DealCreate(name=name, amount=Decimal(amount), account_id=account.id, contact_id=contact.id),
        )
        return deal.id


def refreshed(tenant_id: UUID) -> None:
    system = Actor.system(tenant_id)
    with unit_of_work(system) as session:
        nba.refresh(session, system)


@pytest.fixture(scope="module")
def world(app: FastAPI) -> Iterator[World]:
    client = make_client(app)
    home = create_tenant()
    emails = {"admin": home.admin_email, "rep": user_email(home, "rep"), "read_only": user_email(home, "read_only")}
    rep_id = owner_rows("SELECT id FROM users WHERE tenant_id = :t AND email = :e", t=home.tenant_id, e=emails["rep"])
    rep_deal = deal_for(home.actor(rep_id[0][0]), "Rep deal", 20_000)
    admin_deal = deal_for(home.admin, "Admin deal", 5_000)
    refreshed(home.tenant_id)
    away = create_tenant()
    away_deal = deal_for(away.admin, "Theirs", 1_000)
    refreshed(away.tenant_id)
    away_action = owner_rows("SELECT id FROM next_best_actions WHERE tenant_id = :t LIMIT 1", t=away.tenant_id)[0][0]
    headers = {role: login_headers(client, email, home.slug) for role, email in emails.items()}
    yield World(home, headers, rep_deal, admin_deal, away_deal, away_action)
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


ROUTES = [
    ("GET", "/next-actions?entityType=deals&entityId={deal}"),
    ("GET", "/next-actions/stats"),
    ("POST", "/next-actions/{action}/apply"),
    ("POST", "/next-actions/{action}/ignore"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_authentication_insights_read_and_the_workspace(
    client: Any, world: World, method: str, path: str
) -> None:
    url = API + path.format(deal=world.away_deal, action=world.away_action)
    assert_error(client.request(method, url), 401, "UNAUTHENTICATED")
    denied = client.request(method, url, headers=world.headers["read_only"])
    assert assert_error(denied, 403, "FORBIDDEN")["details"]["required"] == "insights:read"
    if "{" in path:  # the other workspace's deal or action: not found, and its action untouched
        assert_error(client.request(method, url, headers=world.headers["admin"]), 404, "NOT_FOUND")
        assert owner_rows("SELECT count(*) FROM next_best_actions WHERE id = :a", a=world.away_action) == [(1,)]


def _of(client: Any, world: World, role: str, deal: UUID) -> list[dict[str, Any]]:
    url = f"{API}/next-actions?entityType=deals&entityId={deal}"
    return assert_success(client.get(url, headers=world.headers[role]))


def test_a_deals_actions_are_ranked_with_reasons_and_a_rep_sees_only_their_own(client: Any, world: World) -> None:
    found = _of(client, world, "admin", world.rep_deal)
    assert {a["kind"] for a in found} == {"schedule_next_step", "multi_thread"}
    assert [a["expectedValue"] for a in found] == sorted((a["expectedValue"] for a in found), key=float, reverse=True)
    first = found[0]
    assert first["entityType"] == "deals" and first["entityId"] == str(world.rep_deal)
    assert "expected" in first["reason"] and "USD 20,000" in first["reason"]
    assert first["change"]["type"] == "task" and first["change"]["dueInDays"] >= 0
    assert first["modelVersion"].startswith("uplift-") and first["kindLabel"]

    # the rep: their own deal's actions, another owner's deal is not found, and mine=true lists only theirs
    assert [a["id"] for a in _of(client, world, "rep", world.rep_deal)] == [a["id"] for a in found]
    url = f"{API}/next-actions?entityType=deals&entityId={world.admin_deal}"
    assert_error(client.get(url, headers=world.headers["rep"]), 404, "NOT_FOUND")
    mine = assert_success(client.get(f"{API}/next-actions?mine=true", headers=world.headers["rep"]))
    assert mine and {a["dealId"] for a in mine} == {str(world.rep_deal)}
    everyone = assert_success(client.get(f"{API}/next-actions", headers=world.headers["admin"]))
    assert {a["dealId"] for a in everyone} == {str(world.rep_deal), str(world.admin_deal)}
    of_deals = assert_success(client.get(f"{API}/next-actions?entityType=deals", headers=world.headers["admin"]))
    assert of_deals and {a["entityType"] for a in of_deals} == {"deals"}
    bad = client.get(f"{API}/next-actions?entityId={world.rep_deal}", headers=world.headers["admin"])
    assert assert_error(bad, 400, "VALIDATION_ERROR")["details"][0]["field"] == "entityType"


def test_apply_creates_the_task_ignore_records_the_choice_and_the_stats_show_both(client: Any, world: World) -> None:
    found = {a["kind"]: a for a in _of(client, world, "rep", world.rep_deal)}
    step = found["schedule_next_step"]
    resp = client.post(f"{API}/next-actions/{step['id']}/apply", headers=world.headers["rep"])
    applied = assert_success(resp, 201)
    task = applied["task"]
    assert resp.headers["Location"] == f"/api/v1/tasks/{task['id']}"
    assert (task["title"], task["dealId"], task["status"]) == (
        "Book the next step for Rep deal",
        str(world.rep_deal),
        "open",
    )
    assert applied["decision"]["decision"] == "taken" and applied["decision"]["recordId"] == task["id"]
    fetched = assert_success(client.get(f"{API}/tasks/{task['id']}", headers=world.headers["rep"]))
    assert fetched["description"].endswith(f"Why: {step['reason']}")
    again = client.post(f"{API}/next-actions/{step['id']}/apply", headers=world.headers["rep"])
    assert "already taken" in assert_error(again, 409, "CONFLICT")["message"]
    assert owner_rows("SELECT count(*) FROM tasks WHERE deal_id = :d", d=world.rep_deal) == [(1,)]

    thread = found["multi_thread"]
    ignored = assert_success(client.post(f"{API}/next-actions/{thread['id']}/ignore", headers=world.headers["rep"]))
    assert ignored["decision"] == "ignored" and ignored["recordId"] is None
    assert _of(client, world, "rep", world.rep_deal) == []
    refreshed(world.home.tenant_id)  # the task booked and the choice made: neither comes back
    assert _of(client, world, "rep", world.rep_deal) == []

    stats = assert_success(client.get(f"{API}/next-actions/stats", headers=world.headers["admin"]))
    kinds = {k["kind"]: k for k in stats["kinds"]}
    assert (kinds["schedule_next_step"]["taken"], kinds["schedule_next_step"]["takenRate"]) == (1, 1.0)
    assert (kinds["multi_thread"]["ignored"], kinds["multi_thread"]["ignoredRate"]) == (1, 1.0)
    assert (stats["taken"], stats["ignored"], stats["takenRate"]) == (1, 1, 0.5)
    assert stats["open"] == 2  # the admin's deal: its next step and its multi-threading
