"""/api/v1/sentiment and /api/v1/accounts/{id}/sentiment on a hand-built workspace: every route's 401 / 403 / other
workspace's 404; reading labels (one record, a list, pending before the worker read it); a one-click correction
(201, shown at once, a training job queued) with a bad label or an unknown record refused and nothing stored; the
model status; the account trend; the full re-read for managers only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from fastapi import Depends, FastAPI

import ai.nlp.sentiment_tasks  # noqa: F401  (the sentiment.train / .rescore jobs the API queues)
from ai.nlp import sentiment_crm
from api.deps import limit_by_ip
from api.main import API_PREFIX, _include_flat, create_app
from api.routers import sentiment as routes
from core.accounts import service as accounts
from core.accounts.schemas import AccountCreate
from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.actor import Actor
from core.db import unit_of_work
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from tests.api.conftest import API, assert_error, assert_success, login_headers, make_client, user_email
from tests.core.conftest import owner_rows
from tests.factories import TenantWorld, create_tenant, quiesce


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The real app with the sentiment routes added as api/main.py will add them."""
    built = create_app()
    if not any(getattr(r, "path", "").startswith(f"{API_PREFIX}/sentiment") for r in built.routes):
        for router in (routes.router, routes.accounts_router):
            _include_flat(built, router, prefix=API_PREFIX, dependencies=[Depends(limit_by_ip)])
    return built


@dataclass
class World:
    home: TenantWorld
    headers: dict[str, dict[str, str]]  # admin, rep, read_only, away
    note: UUID
    quiet_note: UUID  # written after the worker's pass: pending
    call: UUID
    account: UUID
    away_note: UUID
    away_account: UUID


@pytest.fixture(scope="module")
def world(app: FastAPI) -> Iterator[World]:
    home, away = create_tenant(), create_tenant()
    rep_email = user_email(home, "rep")
    rep = home.actor(owner_rows("SELECT id FROM users WHERE email = :e", e=rep_email)[0].id)  # own scope: hers
    with unit_of_work(rep) as session:
        account = accounts.create(session, rep, AccountCreate(name="Contoso")).id
        note = notes.create(
            session, rep, "accounts", account, NoteCreate(body="Budget approved. They are thrilled with us!")
        ).id
        call = activities.create(
            session,
            rep,
            ActivityCreate(type="email", subject="Outage", body="We are furious about the outage.", account_id=account),
        ).id
    system = Actor.system(home.tenant_id)
    with unit_of_work(system) as session:
        sentiment_crm.read_changed(session, system)
    with unit_of_work(rep) as session:
        quiet = notes.create(session, rep, "accounts", account, NoteCreate(body="Sent the agenda.")).id
    with unit_of_work(away.admin) as session:
        away_account = accounts.create(session, away.admin, AccountCreate(name="Elsewhere")).id
        away_note = notes.create(session, away.admin, "accounts", away_account, NoteCreate(body="Lovely call.")).id
    client = make_client(app)
    headers = {
        "admin": login_headers(client, home.admin_email, home.slug),
        "rep": login_headers(client, rep_email, home.slug),
        "read_only": login_headers(client, user_email(home, "read_only"), home.slug),
        "away": login_headers(client, away.admin_email, away.slug),
    }
    yield World(home, headers, note, quiet, call, account, away_note, away_account)
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


def routes_of(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"{API}/sentiment?entityType=notes&ids={w.note}", None),
        ("GET", f"{API}/sentiment/notes/{w.note}", None),
        ("GET", f"{API}/sentiment/model", None),
        ("GET", f"{API}/accounts/{w.account}/sentiment", None),
        ("POST", f"{API}/sentiment/notes/{w.note}/corrections", {"label": "neutral"}),
        ("POST", f"{API}/sentiment/rescore", None),
    ]


def test_every_route_needs_a_caller_and_the_permission(app: FastAPI, world: World) -> None:
    client = make_client(app)
    for method, url, body in routes_of(world):
        assert_error(client.request(method, url, json=body), 401, "UNAUTHENTICATED")
        resp = client.request(method, url, json=body, headers=world.headers["read_only"])
        assert_error(resp, 403, "FORBIDDEN")  # read_only has no insights:read, nor notes:update
    assert_error(client.post(f"{API}/sentiment/rescore", headers=world.headers["rep"]), 403, "FORBIDDEN")


def test_labels_are_read_per_record_and_per_list(app: FastAPI, world: World) -> None:
    client = make_client(app)
    rep = world.headers["rep"]
    one = assert_success(client.get(f"{API}/sentiment/notes/{world.note}", headers=rep))
    assert one["label"] == "positive" and one["score"] > 0.3 and not one["pending"]
    assert one["sentence"] == "They are thrilled with us!" and one["model"].startswith("out_of_box-")
    assert one["reason"].startswith("Positive (")
    ids = f"{world.call},{world.away_note}"
    listed = assert_success(client.get(f"{API}/sentiment?entityType=activities&ids={ids}", headers=rep))
    assert [(s["entityId"], s["label"]) for s in listed] == [(str(world.call), "negative")]
    pending = assert_success(client.get(f"{API}/sentiment/notes/{world.quiet_note}", headers=rep))
    assert pending["pending"] and pending["label"] is None
    assert_error(client.get(f"{API}/sentiment/notes/{world.away_note}", headers=rep), 404, "NOT_FOUND")
    bad = assert_error(client.get(f"{API}/sentiment/tasks/{world.note}", headers=rep), 400)
    assert bad["details"][0]["field"] == "entity_type" or "entity" in bad["message"].lower()
    assert_error(client.get(f"{API}/sentiment?entityType=notes&ids=nope", headers=rep), 400)


def test_a_correction_is_shown_at_once_and_queues_training(app: FastAPI, world: World) -> None:
    client = make_client(app)
    rep = world.headers["rep"]
    url = f"{API}/sentiment/activities/{world.call}/corrections"
    before = owner_rows("SELECT count(*) AS n FROM sentiment_examples WHERE tenant_id = :t", t=world.home.tenant_id)
    bad = assert_error(client.post(url, json={"label": "furious"}, headers=rep), 400)
    assert "label" in bad["message"] and bad["details"][0]["field"] == "label"
    assert_error(client.post(url, json={}, headers=rep), 400)
    missing = f"{API}/sentiment/notes/{world.away_note}/corrections"
    assert_error(client.post(missing, json={"label": "neutral"}, headers=rep), 404, "NOT_FOUND")
    after_refusals = owner_rows(
        "SELECT count(*) AS n FROM sentiment_examples WHERE tenant_id = :t", t=world.home.tenant_id
    )
    assert after_refusals[0].n == before[0].n  # refused requests stored nothing

    done = assert_success(client.post(url, json={"label": "neutral"}, headers=rep), 201)
    assert done["sentiment"]["label"] == "neutral" and done["sentiment"]["correctedLabel"] == "neutral"
    assert done["sentiment"]["modelLabel"] == "negative" and done["trainJobId"]
    shown = assert_success(client.get(f"{API}/sentiment/activities/{world.call}", headers=rep))
    assert shown["label"] == "neutral" and shown["reason"] == "Neutral: corrected by your team"
    job = assert_success(client.get(f"{API}/jobs/{done['trainJobId']}", headers=rep))
    assert job["kind"] == "sentiment.train"

    status = assert_success(client.get(f"{API}/sentiment/model", headers=rep))
    assert status["perClass"] == {"negative": 0, "neutral": 1, "positive": 0} and status["examples"] == 1
    assert status["active"].startswith("out_of_box-") and status["benchmark"]["out_of_box"]["accuracy"] > 0.6


def test_the_account_trend_and_the_full_reread(app: FastAPI, world: World) -> None:
    client = make_client(app)
    admin = world.headers["admin"]
    trend = assert_success(client.get(f"{API}/accounts/{world.account}/sentiment?months=2", headers=admin))
    assert len(trend["months"]) == 2 and sum(m["total"] for m in trend["months"]) >= 2
    assert trend["summary"].startswith("Last three months")
    assert_error(client.get(f"{API}/accounts/{world.away_account}/sentiment", headers=admin), 404, "NOT_FOUND")
    assert_error(client.get(f"{API}/accounts/{world.account}/sentiment?months=0", headers=admin), 400)
    job = assert_success(client.post(f"{API}/sentiment/rescore", headers=admin), 202)
    assert job["kind"] == "sentiment.rescore"
