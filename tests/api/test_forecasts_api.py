"""/api/v1/forecasts and /api/v1/quotas on a small demo tenant: every route's 401 / 403 / other tenant's 404, a run
queued with 202 and followed as a job, what each role sees, quota CRUD with attainment beside the forecast, deals'
forecast categories, and bad input answered with a 400 naming the field."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

import ai.forecasting.tasks  # noqa: F401  (the forecasts.revenue job that POST /forecasts/run queues)
from core.db import unit_of_work
from core.demo import service as demo
from core.forecasts import service as forecasts
from core.forecasts.models import SalesForecast
from core.forecasts.periods import period_of
from core.forecasts.schemas import QuotaCreate
from core.ids import new_id
from core.jobs import queue
from core.tenants import calendar
from etl import pipeline
from tests.api.conftest import (
    API,
    add_role,
    assert_error,
    assert_paginated,
    assert_success,
    login_headers,
    make_client,
)
from tests.core.conftest import owner_rows
from tests.factories import PASSWORD, TenantWorld, create_tenant, quiesce


@dataclass
class Shop:
    home: TenantWorld
    headers: dict[str, dict[str, str]]
    ids: dict[str, UUID]  # users (admin, manager, rep, other_rep, analyst) and the manager's team
    away_forecast: UUID
    away_quota: UUID
    away_deal: UUID
    today: date


def _user(seeded: demo.SeedResult, role: str, nth: int = 0) -> dict[str, Any]:
    return _with_id(seeded, [u for u in seeded.users if u["role"] == role][nth])


def _with_id(seeded: demo.SeedResult, user: dict[str, Any]) -> dict[str, Any]:
    found = owner_rows("SELECT id FROM users WHERE tenant_id = :t AND email = :e", t=seeded.tenant_id, e=user["email"])
    return {**user, "id": str(found[0][0])}


@pytest.fixture(scope="module")
def shop(api_app: Any) -> Iterator[Shop]:
    seeded = demo.seed(slug=f"fa-{secrets.token_hex(4)}", scale="small", seed=5, password=PASSWORD)
    pipeline.run(seeded.tenant_id, full=True)
    admin_user = _user(seeded, "admin")
    home = TenantWorld(seeded.tenant_id, seeded.slug, admin_user["email"], UUID(admin_user["id"]))
    client = make_client(api_app)
    manager = _user(seeded, "manager")
    team = owner_rows("SELECT team_id FROM users WHERE id = :u", u=manager["id"])[0][0]
    reps = [u for u in seeded.users if u["role"] == "rep"]
    rep = _with_id(seeded, next(u for u in reps if u["team"] == manager["team"]))
    other_rep = _with_id(seeded, next(u for u in reps if u["team"] != manager["team"]))
    people = {"admin": admin_user, "manager": manager, "rep": rep, "other_rep": other_rep}
    headers = {name: login_headers(client, u["email"], home.slug) for name, u in people.items()}
    ids = {name: UUID(u["id"]) for name, u in people.items()}
    add_role(home, "outsider", ["contacts:read"])
    for name in ("analyst", "outsider"):
        email = f"{name}-{secrets.token_hex(3)}@{home.slug}.example.com"
        ids[name] = home.add_user(name, email=email)
        headers[name] = login_headers(client, email, home.slug)
    ids["team"] = team
    with unit_of_work(home.admin) as session:
        today = calendar.today(session, home.admin)

    away = create_tenant()
    away_admin = away.admin
    with unit_of_work(away_admin) as session:
        quota = forecasts.create_quota(
            session,
            away_admin,
            QuotaCreate(user_id=away.admin_id, period="month", period_start=today.replace(day=1), amount=Decimal(5)),
        )
        row = SalesForecast(
            id=new_id(),
            tenant_id=away.tenant_id,
            kind="live",
            level="company",
            forecast_period="month",
            period_start_date=today.replace(day=1),
            period_end_date=period_of("month", today).end,
            forecast_date=today,
            currency="USD",
            forecasted_revenue=Decimal(1),
        )
        session.add(row)
        from core.deals import service as deals
        from core.deals.schemas import DealCreate

        deal = deals.create(session, away_admin, DealCreate(name="Theirs", amount=Decimal(10)))
        away_ids = (row.id, quota.id, deal.id)
    yield Shop(home, headers, ids, *away_ids, today)
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


@pytest.fixture(scope="module")
def runs(api_app: Any, shop: Shop) -> list[dict[str, Any]]:
    """Two runs queued through the API (company and teams; then reps), run by the worker."""
    client = make_client(api_app)
    jobs = []
    for levels in (["company", "team"], ["rep"]):
        body = {"levels": levels, "periods": ["month", "quarter"], "backtestPeriods": 0}
        resp = client.post(f"{API}/forecasts/run", json=body, headers=shop.headers["admin"])
        job = assert_success(resp, 202)
        assert resp.headers["Location"] == f"/api/v1/jobs/{job['id']}"
        assert (job["kind"], job["status"]) == ("forecasts.revenue", "queued")
        jobs.append(job)
    assert queue.drain(120) == 0
    done = []
    for job in jobs:
        status = assert_success(client.get(f"{API}/jobs/{job['id']}", headers=shop.headers["admin"]))
        assert (status["status"], status["progress"]) == ("succeeded", 100), status
        done.append(status)
    return done


@pytest.fixture
def client(api_app: Any) -> Any:
    return make_client(api_app)


# Every route: anonymous 401, missing permission 403, another tenant's record 404 ----------------------------------

ROUTES = [
    ("GET", "/forecasts", None, "forecasts:read"),
    ("GET", "/forecasts/{forecast}", None, "forecasts:read"),
    ("POST", "/forecasts/run", {}, "forecasts:manage"),
    ("PUT", "/forecasts/deals/{deal}/category", {"category": "commit"}, "deals:update"),
    ("GET", "/quotas", None, "forecasts:read"),
    ("POST", "/quotas", {"teamId": str(new_id()), "period": "month", "periodStart": "2026-01-01", "amount": 1}, ""),
    ("GET", "/quotas/{quota}", None, "forecasts:read"),
    ("PATCH", "/quotas/{quota}", {"amount": 2}, "forecasts:manage"),
    ("DELETE", "/quotas/{quota}", None, "forecasts:manage"),
]


def _path(path: str, shop: Shop) -> str:
    return path.format(forecast=shop.away_forecast, quota=shop.away_quota, deal=shop.away_deal)


@pytest.mark.parametrize(("method", "path", "body", "permission"), ROUTES)
def test_every_route_needs_authentication_and_its_permission(
    client: Any, shop: Shop, method: str, path: str, body: Any, permission: str
) -> None:
    url = API + _path(path, shop)
    assert_error(client.request(method, url, json=body), 401, "UNAUTHENTICATED")
    denied = client.request(method, url, json=body, headers=shop.headers["outsider"])
    assert_error(denied, 403, "FORBIDDEN")
    assert (permission or "forecasts:manage") in denied.text


@pytest.mark.parametrize(("method", "path", "body", "permission"), [r for r in ROUTES if "{" in r[1]])
def test_another_tenants_forecasts_quotas_and_deals_are_not_found(
    client: Any, shop: Shop, method: str, path: str, body: Any, permission: str
) -> None:
    resp = client.request(method, API + _path(path, shop), json=body, headers=shop.headers["admin"])
    assert_error(resp, 404, "NOT_FOUND")
    assert owner_rows("SELECT amount FROM quotas WHERE id = :q", q=shop.away_quota)[0][0] == Decimal("5.00")


# Runs and reads -------------------------------------------------------------------------------------------------


def test_a_run_stores_forecasts_that_read_back_with_breakdown(
    client: Any, shop: Shop, runs: list[dict[str, Any]]
) -> None:
    assert runs[0]["result"]["forecasts"] == 2 * (1 + 3) and runs[1]["result"]["forecasts"] == 2 * 6
    items, pagination = assert_paginated(
        client.get(f"{API}/forecasts?level=company&period=quarter", headers=shop.headers["admin"])
    )
    assert pagination["total"] == 1
    item = items[0]
    quarter = period_of("quarter", shop.today)
    assert (item["periodStart"], item["periodEnd"], item["forecastDate"]) == (
        quarter.start.isoformat(),
        quarter.end.isoformat(),
        shop.today.isoformat(),
    )
    assert Decimal(item["forecastedRevenue"]) == sum(
        Decimal(item[k]) for k in ("bookedRevenue", "pipelineRevenue", "runRateRevenue")
    )
    assert Decimal(item["low95"]) <= Decimal(item["low80"]) <= Decimal(item["forecastedRevenue"])
    assert Decimal(item["forecastedRevenue"]) <= Decimal(item["high80"]) <= Decimal(item["high95"])
    assert item["attainment"]["quota"] is None and item["currency"] == "USD"
    detail = assert_success(client.get(f"{API}/forecasts/{item['id']}", headers=shop.headers["admin"]))
    breakdown = detail["breakdown"]
    assert breakdown and all(b["dealName"] for b in breakdown)
    parts = sum(Decimal(b["forecastedAmount"]) for b in breakdown)
    expected = Decimal(item["bookedRevenue"]) + Decimal(item["pipelineRevenue"])
    assert abs(parts - expected) <= Decimal("0.01") * len(breakdown)
    amounts = [Decimal(b["forecastedAmount"]) for b in breakdown]
    assert amounts == sorted(amounts, reverse=True)  # the deals driving the forecast first
    assert {b["category"] for b in breakdown} <= {"won", "commit", "best_case", "pipeline", "omitted"}
    assert detail["backtestHistory"] == []  # no back-test was asked for
    assert "Not enough history" in detail["backtest"]["sentence"]


def test_each_role_sees_what_its_scope_allows(client: Any, shop: Shop, runs: list[dict[str, Any]]) -> None:
    def seen(role: str, query: str = "") -> list[dict[str, Any]]:
        items, _ = assert_paginated(
            client.get(f"{API}/forecasts?limit=100{query}", headers=shop.headers[role]), limit=100
        )
        return items

    everything = seen("admin")
    assert {i["level"] for i in everything} == {"company", "team", "rep"}
    assert len(everything) == 2 * (1 + 3 + 6)
    assert len(seen("analyst")) == len(everything)  # managers and analysts read forecasts
    rep = seen("rep")
    assert rep and {(i["level"], i["userId"]) for i in rep} == {("rep", str(shop.ids["rep"]))}
    manager = seen("manager")
    team = str(shop.ids["team"])
    assert {i["level"] for i in manager} == {"team", "rep"}
    assert all(i["teamId"] == team for i in manager)
    assert len(manager) == 2 * (1 + 2)  # the team and its two reps
    company = next(i for i in everything if i["level"] == "company")
    for role in ("rep", "manager"):
        assert_error(client.get(f"{API}/forecasts/{company['id']}", headers=shop.headers[role]), 404, "NOT_FOUND")
    # Filters: a team's forecast and its reps'; one rep's.
    assert {i["teamId"] for i in seen("admin", f"&teamId={team}")} == {team}
    assert {i["userId"] for i in seen("admin", f"&userId={shop.ids['other_rep']}")} == {str(shop.ids["other_rep"])}
    assert seen("rep", f"&userId={shop.ids['other_rep']}") == []
    # Reps and analysts neither run forecasts nor set quotas.
    for role in ("rep", "analyst"):
        assert_error(client.post(f"{API}/forecasts/run", json={}, headers=shop.headers[role]), 403, "FORBIDDEN")


def test_quotas_crud_and_attainment_beside_the_forecast(client: Any, shop: Shop, runs: list[dict[str, Any]]) -> None:
    team, month = str(shop.ids["team"]), period_of("month", shop.today)
    body = {"teamId": team, "period": "month", "periodStart": month.start.isoformat(), "amount": "250000"}
    resp = client.post(f"{API}/quotas", json=body, headers=shop.headers["manager"])
    quota = assert_success(resp, 201)
    assert resp.headers["Location"] == f"/api/v1/quotas/{quota['id']}"
    assert (quota["periodEnd"], quota["currency"], quota["version"]) == (month.end.isoformat(), "USD", 1)
    assert_error(client.post(f"{API}/quotas", json=body, headers=shop.headers["admin"]), 409, "CONFLICT")
    rep_body = {**body, "teamId": None, "userId": str(shop.ids["rep"]), "amount": "100000"}
    rep_quota = assert_success(client.post(f"{API}/quotas", json=rep_body, headers=shop.headers["admin"]), 201)

    items, _ = assert_paginated(
        client.get(f"{API}/forecasts?level=team&period=month&teamId={team}", headers=shop.headers["manager"])
    )
    attainment = items[0]["attainment"]
    forecast = Decimal(items[0]["forecastedRevenue"])
    assert Decimal(attainment["quota"]) == Decimal("250000")
    assert Decimal(attainment["gap"]) == Decimal("250000") - forecast
    assert attainment["forecastAttainment"] == pytest.approx(float(forecast / Decimal("250000")), abs=1e-4)
    assert attainment["attainment"] == pytest.approx(float(Decimal(items[0]["bookedRevenue"]) / 250000), abs=1e-4)

    # The rep sees their own quota only; the manager theirs and their team's.
    mine, _ = assert_paginated(client.get(f"{API}/quotas", headers=shop.headers["rep"]))
    assert [q["id"] for q in mine] == [rep_quota["id"]]
    theirs, _ = assert_paginated(client.get(f"{API}/quotas?period=month", headers=shop.headers["manager"]))
    assert {q["id"] for q in theirs} == {quota["id"], rep_quota["id"]}
    assert_error(client.get(f"{API}/quotas/{quota['id']}", headers=shop.headers["other_rep"]), 404, "NOT_FOUND")

    url = f"{API}/quotas/{quota['id']}"
    changed = assert_success(client.patch(url, json={"amount": "300000", "version": 1}, headers=shop.headers["admin"]))
    assert (Decimal(changed["amount"]), changed["version"]) == (Decimal("300000"), 2)
    assert_error(client.patch(url, json={"amount": "1", "version": 1}, headers=shop.headers["admin"]), 409)
    assert client.delete(url, headers=shop.headers["admin"]).status_code == 204
    assert_error(client.get(url, headers=shop.headers["admin"]), 404, "NOT_FOUND")


def test_bad_input_is_a_400_naming_the_field(client: Any, shop: Shop) -> None:
    admin = shop.headers["admin"]

    def field_of(resp: Any) -> set[str]:
        error = assert_error(resp, 400)
        return {d["field"] for d in error["details"]}

    assert field_of(client.get(f"{API}/forecasts?level=galaxy", headers=admin)) == {"level"}
    assert field_of(client.get(f"{API}/forecasts?period=week", headers=admin)) == {"period"}
    assert field_of(client.get(f"{API}/forecasts?teamId=nobody", headers=admin)) == {"teamId"}
    tomorrow = (shop.today + timedelta(days=1)).isoformat()
    assert field_of(client.post(f"{API}/forecasts/run", json={"asOf": tomorrow}, headers=admin)) == {"asOf"}
    assert field_of(client.post(f"{API}/forecasts/run", json={"backtestPeriods": 99}, headers=admin)) == {
        "backtestPeriods"
    }
    assert field_of(client.post(f"{API}/forecasts/run", json={"levels": ["planet"]}, headers=admin)) == {"levels.0"}
    quota = {"userId": str(shop.ids["rep"]), "period": "quarter", "periodStart": "2026-02-01", "amount": 10}
    bad = client.post(f"{API}/quotas", json=quota, headers=admin)
    assert field_of(bad) == {"periodStart"} and "2026-01-01" in bad.json()["error"]["message"]
    quota["periodStart"] = "2026-01-01"
    assert field_of(client.post(f"{API}/quotas", json={**quota, "amount": -1}, headers=admin)) == {"amount"}
    assert field_of(client.post(f"{API}/quotas", json={**quota, "currency": "EUR"}, headers=admin)) == {"currency"}
    assert field_of(client.post(f"{API}/quotas", json={**quota, "userId": str(new_id())}, headers=admin)) == {"userId"}
    deal = owner_rows("SELECT id FROM deals WHERE tenant_id = :t AND NOT is_closed LIMIT 1", t=shop.home.tenant_id)[0][
        0
    ]
    url = f"{API}/forecasts/deals/{deal}/category"
    assert field_of(client.put(url, json={"category": "maybe"}, headers=admin)) == {"category"}


def test_a_reps_deal_category_is_theirs_to_set(client: Any, shop: Shop) -> None:
    # an open deal of the rep's own (the demo's history, drawn as of today, may leave the rep none open)
    deal = assert_success(
        client.post(f"{API}/deals", json={"name": "Rep's own", "amount": 100}, headers=shop.headers["rep"]), 201
    )["id"]
    url = f"{API}/forecasts/deals/{deal}/category"
    data = assert_success(client.put(url, json={"category": "best_case"}, headers=shop.headers["rep"]))
    assert (data["dealId"], data["category"]) == (deal, "best_case")
    assert owner_rows("SELECT forecast_category FROM deals WHERE id = :d", d=deal)[0][0] == "best_case"
    assert_error(client.put(url, json={"category": "commit"}, headers=shop.headers["other_rep"]), 404, "NOT_FOUND")
    cleared = assert_success(client.put(url, json={"category": None}, headers=shop.headers["rep"]))
    assert cleared["category"] is None
