"""/api/v1/reports, /dashboards and /warehouse/runs: every route's 401 / 403 / other tenant's 404, saving and running
reports on a real warehouse, files read back, dashboards with widgets, schedules, and the load log."""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import openpyxl
import pypdf
import pytest

from core.analytics import service as analytics
from core.analytics.schemas import ReportCreate
from core.db import unit_of_work
from core.deals import service as deals
from core.deals.schemas import DealCreate
from etl import pipeline
from tests.api.conftest import (
    API,
    add_role,
    assert_error,
    assert_paginated,
    assert_success,
    login_headers,
    make_client,
    owner_count,
)
from tests.factories import PASSWORD, TenantWorld, create_tenant, quiesce

SPEC = {"entity": "deals", "columns": ["name", "owner", "amount"], "sort": [{"field": "name"}]}
BY_STAGE = {
    "entity": "deals",
    "groupBy": [{"field": "stage"}],
    "aggregations": [{"fn": "count", "name": "deals"}, {"fn": "sum", "field": "amount", "name": "amount"}],
    "chart": {"type": "bar"},
}
SCHEDULE = {"frequency": "daily", "timeOfDay": "07:00", "recipients": ["boss@example.com"], "format": "xlsx"}


@dataclass
class Shop:
    home: TenantWorld
    away: TenantWorld
    headers: dict[str, dict[str, str]]
    report: UUID  # public, home
    away_report: UUID
    away_dashboard: UUID
    away_schedule: UUID
    rep_id: UUID


@pytest.fixture(scope="module")
def shop(api_app: Any) -> Any:
    import etl.tasks  # noqa: F401 - the warehouse load job, which POST /warehouse/runs queues

    client = make_client(api_app)
    home, away = create_tenant(), create_tenant()
    add_role(home, "outsider", ["contacts:read"])
    add_role(home, "loader", ["warehouse:read"])
    headers = {"admin": login_headers(client, home.admin_email, home.slug)}
    ids = {}
    for name in ("analyst", "rep", "outsider", "loader", "manager"):
        email = f"{name}-{secrets.token_hex(3)}@{home.slug}.example.com"
        ids[name] = home.add_user(name, email=email)
        headers[name] = login_headers(client, email, home.slug, PASSWORD)
    admin = home.admin
    with unit_of_work(admin) as session:
        for name, owner, amount in (("Alpha", ids["rep"], "100"), ("Bravo", admin.user_id, "250.50")):
            deals.create(session, admin, DealCreate(name=name, amount=Decimal(amount), owner_id=owner))
        report = analytics.create_report(session, admin, ReportCreate(name="All deals", spec=SPEC, is_public=True))
    pipeline.run(home.tenant_id, full=True)
    away_admin = away.admin
    with unit_of_work(away_admin) as session:
        away_report = analytics.create_report(
            session, away_admin, ReportCreate(name="Theirs", spec=SPEC, is_public=True)
        )
        from core.analytics.schemas import DashboardCreate, ScheduleCreate

        dashboard, _ = analytics.create_dashboard(session, away_admin, DashboardCreate(name="Theirs", is_public=True))
        schedule = analytics.create_schedule(
            session, away_admin, away_report.id, ScheduleCreate.model_validate(SCHEDULE)
        )
    yield Shop(home, away, headers, report.id, away_report.id, dashboard.id, schedule.id, ids["rep"])
    quiesce(home.tenant_id)
    quiesce(away.tenant_id)


@pytest.fixture
def client(api_app: Any) -> Any:
    return make_client(api_app)


# Every route: anonymous 401, missing permission 403, another tenant's record 404 --------------------------------

ROUTES = [
    ("GET", "/reports", None, "reports:read"),
    ("POST", "/reports", {"name": "x", "spec": SPEC}, "reports:create"),
    ("POST", "/reports/run", {"spec": SPEC}, "reports:create"),
    ("GET", "/reports/standard/pipeline_by_stage/run", None, "reports:read"),
    ("GET", "/reports/standard/pipeline_by_stage/export", None, "reports:export"),
    ("GET", "/reports/{report}", None, "reports:read"),
    ("PATCH", "/reports/{report}", {"name": "y"}, "reports:update"),
    ("DELETE", "/reports/{report}", None, "reports:delete"),
    ("POST", "/reports/{report}/run", None, "reports:read"),
    ("GET", "/reports/{report}/export?format=csv", None, "reports:export"),
    ("GET", "/reports/{report}/schedules", None, "reports:schedule"),
    ("POST", "/reports/{report}/schedules", SCHEDULE, "reports:schedule"),
    ("GET", "/reports/{report}/schedules/{schedule}", None, "reports:schedule"),
    ("PATCH", "/reports/{report}/schedules/{schedule}", {"timeOfDay": "08:00"}, "reports:schedule"),
    ("DELETE", "/reports/{report}/schedules/{schedule}", None, "reports:schedule"),
    ("GET", "/dashboards", None, "dashboards:read"),
    ("POST", "/dashboards", {"name": "d"}, "dashboards:create"),
    ("GET", "/dashboards/{dashboard}", None, "dashboards:read"),
    ("PATCH", "/dashboards/{dashboard}", {"name": "e"}, "dashboards:update"),
    ("DELETE", "/dashboards/{dashboard}", None, "dashboards:delete"),
    ("GET", "/dashboards/{dashboard}/widgets", None, "dashboards:read"),
    (
        "POST",
        "/dashboards/{dashboard}/widgets",
        {"widgetType": "table", "config": {"standardKey": "lost_reasons"}},
        "dashboards:update",
    ),
    ("POST", "/dashboards/{dashboard}/widgets/reorder", {"widgets": []}, "dashboards:update"),
    ("GET", "/warehouse/runs", None, "warehouse:read"),
    ("POST", "/warehouse/runs", None, "warehouse:read"),
]


def _path(path: str, shop: Shop) -> str:
    return path.format(report=shop.away_report, dashboard=shop.away_dashboard, schedule=shop.away_schedule)


@pytest.mark.parametrize(("method", "path", "body", "permission"), ROUTES)
def test_every_route_needs_authentication_and_its_permission(
    client: Any, shop: Shop, method: str, path: str, body: Any, permission: str
) -> None:
    url = API + _path(path, shop)
    assert_error(client.request(method, url, json=body), 401, "UNAUTHENTICATED")
    denied = client.request(method, url, json=body, headers=shop.headers["outsider"])
    assert denied.status_code in (403, 400), denied.text  # 400 only where the body itself is invalid
    if denied.status_code == 403:
        assert permission in denied.text or "Permission denied" in denied.text


@pytest.mark.parametrize(("method", "path", "body", "permission"), [r for r in ROUTES if "{" in r[1]])
def test_another_tenants_reports_dashboards_and_schedules_are_not_found(
    client: Any, shop: Shop, method: str, path: str, body: Any, permission: str
) -> None:
    if path.endswith("/reorder"):
        body = {"widgets": [{"id": str(shop.away_dashboard), "positionX": 0, "positionY": 0}]}
    resp = client.request(method, API + _path(path, shop), json=body, headers=shop.headers["admin"])
    assert_error(resp, 404, "NOT_FOUND")
    assert owner_count("custom_reports", shop.away.tenant_id) == 1
    assert owner_count("report_schedules", shop.away.tenant_id) == 1


# Reports ------------------------------------------------------------------------------------------------------


def test_the_list_has_the_standard_reports_then_the_saved_ones(client: Any, shop: Shop) -> None:
    items, pagination = assert_paginated(client.get(f"{API}/reports?limit=100", headers=shop.headers["rep"]), limit=100)
    kinds = [i["kind"] for i in items]
    assert kinds == sorted(kinds, key=lambda k: k != "standard") and "saved" in kinds
    standard = {i["key"]: i for i in items if i["kind"] == "standard"}
    assert {"pipeline_by_stage", "win_rate_by_rep", "revenue_by_month", "stale_deals"} <= set(standard)
    assert standard["pipeline_by_stage"]["chartType"] == "bar" and standard["pipeline_by_stage"]["id"] is None
    saved, _ = assert_paginated(client.get(f"{API}/reports?kind=saved&search=all%20deals", headers=shop.headers["rep"]))
    assert [(s["id"], s["name"]) for s in saved] == [(str(shop.report), "All deals")]
    page2, pagination = assert_paginated(
        client.get(f"{API}/reports?limit=5&page=3", headers=shop.headers["rep"]), page=3, limit=5
    )
    assert pagination["total"] == len(items) and [i["name"] for i in page2] == [i["name"] for i in items[10:15]]


def test_saving_changing_and_deleting_a_report(client: Any, shop: Shop) -> None:
    h = shop.headers["analyst"]
    resp = client.post(f"{API}/reports", json={"name": "By stage", "spec": BY_STAGE}, headers=h)
    report = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/reports/{report['id']}"
    assert (report["chartType"], report["isPublic"], report["spec"]["chart"]["x"]) == ("bar", False, "stage")
    assert_error(client.get(f"{API}/reports/{report['id']}", headers=shop.headers["manager"]), 404)  # private
    changed = assert_success(
        client.patch(f"{API}/reports/{report['id']}", json={"isPublic": True, "version": 1}, headers=h)
    )
    assert changed["version"] == 2
    assert_success(client.get(f"{API}/reports/{report['id']}", headers=shop.headers["manager"]))
    assert_error(
        client.patch(f"{API}/reports/{report['id']}", json={"name": "Mine"}, headers=shop.headers["manager"]), 403
    )
    assert_error(client.patch(f"{API}/reports/{report['id']}", json={"name": "x", "version": 1}, headers=h), 409)
    assert client.delete(f"{API}/reports/{report['id']}", headers=h).status_code == 204
    assert_error(client.get(f"{API}/reports/{report['id']}", headers=h), 404)


def test_a_bad_spec_is_a_400_that_names_what_to_fix(client: Any, shop: Shop) -> None:
    before = owner_count("custom_reports", shop.home.tenant_id)
    bad = {"entity": "deals", "groupBy": [{"field": "colour"}], "aggregations": [{"fn": "sum", "field": "name"}]}
    error = assert_error(
        client.post(f"{API}/reports", json={"name": "Bad", "spec": bad}, headers=shop.headers["admin"]), 400
    )
    assert error["message"] == "Invalid request data: check spec"
    assert error["details"][0]["field"] == "spec"
    assert "groupBy[0].field: 'colour' is not a field of deals" in error["details"][0]["message"]
    run = assert_error(
        client.post(f"{API}/reports/run", json={"spec": {"entity": "ships"}}, headers=shop.headers["admin"]), 400
    )
    assert run["details"][0]["field"] == "spec.entity" and "'ships'" not in run["message"]
    assert owner_count("custom_reports", shop.home.tenant_id) == before


def test_running_saved_standard_and_ad_hoc_reports(client: Any, shop: Shop) -> None:
    saved = assert_success(client.post(f"{API}/reports/{shop.report}/run", headers=shop.headers["admin"]))
    assert [c["name"] for c in saved["columns"]] == ["name", "owner", "amount"]
    assert [(r["name"], r["amount"]) for r in saved["rows"]] == [("Alpha", 100.0), ("Bravo", 250.5)]
    assert saved["rowCount"] == 2 and saved["truncated"] is False and saved["warehouseVersion"] >= 1
    # A rep sees their own deals only, whichever report they run.
    mine = assert_success(client.post(f"{API}/reports/{shop.report}/run", headers=shop.headers["rep"]))
    assert [r["name"] for r in mine["rows"]] == ["Alpha"] and "Your records only" in mine["filters"]
    narrowed = assert_success(
        client.post(
            f"{API}/reports/{shop.report}/run",
            json={"overrides": {"ownerIds": [str(shop.rep_id)]}},
            headers=shop.headers["admin"],
        )
    )
    assert [r["name"] for r in narrowed["rows"]] == ["Alpha"]
    standard = assert_success(
        client.get(f"{API}/reports/standard/pipeline_by_stage/run?period=this_year", headers=shop.headers["admin"])
    )
    assert sum(r["deals"] for r in standard["rows"]) == 2 and standard["chart"]["type"] == "bar"
    ad_hoc = assert_success(client.post(f"{API}/reports/run", json={"spec": BY_STAGE}, headers=shop.headers["analyst"]))
    assert sum(r["deals"] for r in ad_hoc["rows"]) == 2
    assert_error(client.post(f"{API}/reports/run", json={"spec": BY_STAGE}, headers=shop.headers["rep"]), 403)
    unknown = assert_error(client.get(f"{API}/reports/standard/nope/run", headers=shop.headers["admin"]), 404)
    assert "pipeline_by_stage" in unknown["message"]
    both = assert_error(
        client.get(
            f"{API}/reports/standard/pipeline_by_stage/run?period=ytd&dateFrom=2026-01-01",
            headers=shop.headers["admin"],
        ),
        400,
    )
    assert "either a period or dateFrom/dateTo" in both["message"]


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "pdf"])
def test_exports_are_files_that_read_back(client: Any, shop: Shop, file_format: str) -> None:
    resp = client.get(f"{API}/reports/{shop.report}/export?format={file_format}", headers=shop.headers["analyst"])
    assert resp.status_code == 200, resp.text
    assert 'filename="all-deals-' in resp.headers["content-disposition"]
    content = resp.content
    if file_format == "csv":
        assert resp.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        assert [r[0] for r in rows] == ["Deal", "Alpha", "Bravo"]
    elif file_format == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
        assert {"Alpha", "Bravo"} <= {c for row in sheet.iter_rows(values_only=True) for c in row}
    else:
        assert resp.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)
        assert "All deals" in text and "Bravo" in text
    standard = client.get(
        f"{API}/reports/standard/lost_reasons/export?format={file_format}", headers=shop.headers["analyst"]
    )
    assert standard.status_code == 200 and standard.content
    assert_error(
        client.get(f"{API}/reports/{shop.report}/export?format={file_format}", headers=shop.headers["rep"]), 403
    )


def test_a_tenant_without_a_warehouse_gets_a_409_saying_to_wait(client: Any, tenant: TenantWorld) -> None:
    h = login_headers(client, tenant.admin_email, tenant.slug)
    error = assert_error(
        client.get(f"{API}/reports/standard/pipeline_by_stage/run", headers=h), 409, "WAREHOUSE_NOT_BUILT"
    )
    assert "not built yet" in error["message"]


# Dashboards ---------------------------------------------------------------------------------------------------


def test_a_dashboard_with_widgets_runs_each_under_its_filters(client: Any, shop: Shop) -> None:
    h = shop.headers["manager"]
    body = {
        "name": "Pipeline",
        "isPublic": True,
        "filters": {"period": "this_year"},
        "widgets": [
            {"widgetType": "chart", "config": {"standardKey": "pipeline_by_stage"}},
            {"widgetType": "table", "reportId": str(shop.report), "title": "Deals"},
        ],
    }
    resp = client.post(f"{API}/dashboards", json=body, headers=h)
    dashboard = assert_success(resp, 201)
    assert [w["positionY"] for w in dashboard["widgets"]] == [0, 4]
    chart, table = dashboard["widgets"]
    run = assert_success(client.get(f"{API}/dashboards/{dashboard['id']}/widgets/{table['id']}/run", headers=h))
    assert {r["name"] for r in run["rows"]} <= {"Alpha", "Bravo"} and any("this year" in f for f in run["filters"])
    narrowed = assert_success(
        client.get(
            f"{API}/dashboards/{dashboard['id']}/widgets/{table['id']}/run?dateFrom=2999-01-01",
            headers=shop.headers["admin"],
        )
    )
    assert narrowed["rows"] == []
    placed = assert_success(
        client.post(
            f"{API}/dashboards/{dashboard['id']}/widgets/reorder",
            json={
                "widgets": [
                    {"id": table["id"], "positionX": 0, "positionY": 0},
                    {"id": chart["id"], "positionX": 0, "positionY": 4, "width": 12},
                ]
            },
            headers=h,
        )
    )
    assert [w["id"] for w in placed] == [table["id"], chart["id"]] and placed[1]["width"] == 12
    bad = assert_error(
        client.post(
            f"{API}/dashboards/{dashboard['id']}/widgets",
            json={"widgetType": "chart", "config": {"standardKey": "nope"}},
            headers=h,
        ),
        400,
    )
    assert "unknown standard report 'nope'" in bad["message"]
    foreign = client.post(
        f"{API}/dashboards/{dashboard['id']}/widgets",
        json={"widgetType": "chart", "reportId": str(shop.away_report)},
        headers=h,
    )
    assert_error(foreign, 404)
    patched = client.patch(
        f"{API}/dashboards/{dashboard['id']}/widgets/{chart['id']}", json={"title": "Stages"}, headers=h
    )
    assert assert_success(patched)["title"] == "Stages"
    assert client.delete(f"{API}/dashboards/{dashboard['id']}/widgets/{chart['id']}", headers=h).status_code == 204
    got = assert_success(client.get(f"{API}/dashboards/{dashboard['id']}", headers=shop.headers["rep"]))
    assert [w["id"] for w in got["widgets"]] == [table["id"]]
    assert_error(
        client.patch(f"{API}/dashboards/{dashboard['id']}", json={"name": "x"}, headers=shop.headers["rep"]), 403
    )
    listed, _ = assert_paginated(client.get(f"{API}/dashboards", headers=shop.headers["rep"]))
    assert dashboard["id"] in {d["id"] for d in listed}
    assert client.delete(f"{API}/dashboards/{dashboard['id']}", headers=h).status_code == 204
    assert_error(client.get(f"{API}/dashboards/{dashboard['id']}", headers=h), 404)


# Schedules ----------------------------------------------------------------------------------------------------


def test_schedules_are_created_changed_and_deleted_under_their_report(client: Any, shop: Shop) -> None:
    h = shop.headers["analyst"]
    base = f"{API}/reports/{shop.report}/schedules"
    body = {**SCHEDULE, "frequency": "weekly", "dayOfWeek": 5, "timezone": "America/New_York"}
    resp = client.post(base, json=body, headers=h)
    schedule = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/reports/{shop.report}/schedules/{schedule['id']}"
    assert (schedule["dayOfWeek"], schedule["timezone"], schedule["isActive"]) == (5, "America/New_York", True)
    listed, _ = assert_paginated(client.get(base, headers=h))
    assert [s["id"] for s in listed] == [schedule["id"]]
    changed = assert_success(
        client.patch(f"{base}/{schedule['id']}", json={"frequency": "monthly", "dayOfMonth": 31}, headers=h)
    )
    assert (changed["dayOfWeek"], changed["dayOfMonth"]) == (None, 31) and changed["nextRunAt"] != schedule["nextRunAt"]
    assert_error(client.get(f"{base}/{schedule['id']}", headers=shop.headers["manager"]), 404)  # not theirs
    assert client.delete(f"{base}/{schedule['id']}", headers=h).status_code == 204
    assert_error(client.get(f"{base}/{schedule['id']}", headers=h), 404)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"frequency": "weekly"}, "dayOfWeek", "needs dayOfWeek"),
        ({"timeOfDay": "7am"}, "timeOfDay", "HH:MM"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "unknown timezone"),
        ({"recipients": ["a@example.com", "nobody"]}, "recipients.1", "email"),
        ({"recipients": []}, "recipients", "at least 1"),
        ({"format": "doc"}, "format", "csv"),
    ],
)
def test_a_bad_schedule_is_a_400_naming_the_field(
    client: Any, shop: Shop, change: dict, field: str, words: str
) -> None:
    before = owner_count("report_schedules", shop.home.tenant_id)
    error = assert_error(
        client.post(
            f"{API}/reports/{shop.report}/schedules", json={**SCHEDULE, **change}, headers=shop.headers["admin"]
        ),
        400,
    )
    assert error["details"][0]["field"] == field and words in str(error["details"][0]["message"])
    assert owner_count("report_schedules", shop.home.tenant_id) == before


# The warehouse load log -----------------------------------------------------------------------------------------


def test_the_load_log_lists_runs_and_a_load_can_be_queued(client: Any, shop: Shop) -> None:
    runs, _ = assert_paginated(client.get(f"{API}/warehouse/runs", headers=shop.headers["loader"]))
    assert runs and runs[0]["status"] == "succeeded" and runs[0]["full"] is True and runs[0]["rowsOut"] > 0
    resp = client.post(f"{API}/warehouse/runs", json={"full": False}, headers=shop.headers["loader"])
    job = assert_success(resp, 202)
    assert job["kind"] == "etl.load" and job["status"] == "queued"
    again = assert_success(client.post(f"{API}/warehouse/runs", headers=shop.headers["loader"]), 202)
    assert again["id"] == job["id"] or again["createdAt"] > job["createdAt"]  # one per minute
    assert_error(client.get(f"{API}/warehouse/runs", headers=shop.headers["rep"]), 403)
