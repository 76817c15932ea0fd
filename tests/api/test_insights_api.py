"""/api/v1/insights/anomalies and /api/v1/insights/settings: a record's anomalies with their reasons, filters, what a
rep may see, dismissing, the refresh job, the thresholds with optimistic locking and bad input refused, and 401 /
403 / the other tenant's 404. The router is added to a local app until the lead registers it in api/main.py."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI

import ai.insights.anomaly_tasks  # noqa: F401  (the anomalies.refresh job the API queues)
from ai.insights import anomalies
from api.routers import insights as insights_router
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate, DealPatch
from core.insights import service as insights
from tests.api.conftest import API, assert_error, assert_success, login_headers, make_client, user_email
from tests.factories import create_tenant, quiesce

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def app() -> FastAPI:
    from fastapi import Depends

    from api.main import API_PREFIX, _include_flat, create_app, limit_by_ip

    application = create_app()
    if not any(getattr(r, "path", "") == f"{API_PREFIX}/insights/anomalies" for r in application.routes):
        _include_flat(application, insights_router.router, prefix=API_PREFIX, dependencies=[Depends(limit_by_ip)])
    return application


@pytest.fixture(scope="module")
def world(app: FastAPI) -> Iterator[dict[str, Any]]:
    home, away = create_tenant(), create_tenant()
    client = make_client(app)
    headers = {role: login_headers(client, user_email(home, role), home.slug) for role in ("manager", "read_only")}
    rep_email = user_email(home, "rep")
    headers["rep"] = login_headers(client, rep_email, home.slug)
    headers["admin"] = login_headers(client, home.admin_email, home.slug)
    headers["away"] = login_headers(client, away.admin_email, away.slug)
    admin = home.admin
    deal_ids = []
    with unit_of_work(admin) as session:
        for name in ("Pushed A", "Pushed B"):
            start = date.today() + timedelta(weeks=1)
            deal = deals.create(session, admin, DealCreate(name=name, amount=Decimal(9_000), expected_close_date=start))
            deal_ids.append(deal.id)
    for deal_id in deal_ids:
        for weeks in (3, 6, 8):
            with unit_of_work(admin) as session:
                deals.update(
                    session, admin, deal_id, DealPatch(expected_close_date=date.today() + timedelta(weeks=weeks))
                )
    with unit_of_work(admin) as session:
        anomalies.refresh(session, admin)
    yield {"home": home, "away": away, "headers": headers, "deals": deal_ids, "client": client}
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


def test_a_deals_anomalies_read_with_their_reasons_and_filters(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    manager = world["headers"]["admin"]
    deal_id = world["deals"][0]
    data = assert_success(
        client.get(
            f"{API}/insights/anomalies", params={"entityType": "deal", "entityId": str(deal_id)}, headers=manager
        )
    )
    assert [a["code"] for a in data] == ["close_date_pushed"]
    first = data[0]
    assert first["entityId"] == str(deal_id) and first["entityName"] == "Pushed A" and first["status"] == "open"
    assert first["reason"].startswith("Close date pushed 3 times") and first["details"]["pushes"] == 3
    assert first["modelVersion"] == anomalies.VERSION and first["severity"] in ("low", "medium", "high")
    everything = assert_success(client.get(f"{API}/insights/anomalies", headers=manager))
    assert {a["entityId"] for a in everything} == {str(d) for d in world["deals"]}
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert assert_success(client.get(f"{API}/insights/anomalies", params={"since": later}, headers=manager)) == []
    assert_error(client.get(f"{API}/insights/anomalies", params={"entityType": "planet"}, headers=manager), 400)


def test_who_may_read_and_dismiss(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    h = world["headers"]
    url = f"{API}/insights/anomalies"
    assert_error(client.get(url), 401)
    assert_error(client.get(url, headers=h["read_only"]), 403, "FORBIDDEN")
    assert assert_success(client.get(url, headers=h["rep"])) == []  # the admin's deals are not the rep's
    assert assert_success(client.get(url, headers=h["away"])) == []  # another tenant sees nothing of this one
    target = assert_success(client.get(url, params={"entityId": str(world["deals"][1])}, headers=h["admin"]))[0]
    assert_error(client.post(f"{url}/{target['id']}/dismiss", headers=h["rep"]), 404)
    assert_error(client.post(f"{url}/{target['id']}/dismiss", headers=h["away"]), 404)
    assert assert_success(client.get(url, headers=h["manager"])) == []  # a manager sees their team's records
    dismissed = assert_success(client.post(f"{url}/{target['id']}/dismiss", headers=h["admin"]))
    assert dismissed["status"] == "dismissed" and dismissed["dismissedAt"]
    open_now = assert_success(client.get(url, headers=h["admin"]))
    assert target["id"] not in {a["id"] for a in open_now}
    kept = assert_success(client.get(url, params={"status": "dismissed"}, headers=h["admin"]))
    assert [a["id"] for a in kept] == [target["id"]]


def test_the_refresh_job_is_for_managers(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    h = world["headers"]
    url = f"{API}/insights/anomalies/refresh"
    assert_error(client.post(url, headers=h["rep"]), 403)
    job = assert_success(client.post(url, headers=h["manager"]), 202)
    assert job["kind"] == insights.REFRESH_JOB
    again = assert_success(client.post(url, headers=h["admin"]), 202)
    assert again["id"] == job["id"]  # one waiting pass is enough


def test_thresholds_read_change_and_lock(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    h = world["headers"]
    url = f"{API}/insights/settings"
    defaults = assert_success(client.get(url, headers=h["rep"]))
    assert defaults["version"] == 0 and defaults["closePushMin"] == 2 and Decimal(defaults["amountZ"]) == Decimal("3.5")
    assert_error(client.patch(url, json={"closePushMin": 3}, headers=h["rep"]), 403)
    bad = assert_error(client.patch(url, json={"latecutPct": 30}, headers=h["manager"]), 400, "VALIDATION_ERROR")
    assert bad["details"]
    assert_error(client.patch(url, json={"lateCutPct": 2}, headers=h["manager"]), 400, "VALIDATION_ERROR")
    assert_error(client.patch(url, json={"disabledCodes": ["nonsense"]}, headers=h["manager"]), 400)
    assert assert_success(client.get(url, headers=h["manager"]))["version"] == 0  # refused input changed nothing
    changed = assert_success(
        client.patch(
            url, json={"closePushMin": 4, "disabledCodes": ["stage_skipped"], "version": 0}, headers=h["manager"]
        )
    )
    assert changed["closePushMin"] == 4 and changed["disabledCodes"] == ["stage_skipped"] and changed["version"] == 1
    assert_error(client.patch(url, json={"closePushMin": 5, "version": 0}, headers=h["admin"]), 409)
    with unit_of_work(world["home"].admin) as session:  # the next pass uses them: 3 pushes are no longer enough
        found = anomalies.detect(session, world["home"].admin)
    assert not [f for f in found if f.code == "close_date_pushed"]
    assert assert_success(client.get(url, headers=h["away"]))["version"] == 0  # per tenant
