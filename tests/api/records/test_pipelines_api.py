"""`/api/v1/pipelines` and `/api/v1/pipelines/{id}/stages` over HTTP.

For every endpoint: anonymous 401, a role without the permission 403, another tenant's pipeline or stage 404
(and nothing of theirs changed); then the rules that keep deals on live, consistent stages.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from core.db import owner_engine
from core.ids import new_id
from tests.api.conftest import API, assert_error, assert_success, unique

ENDPOINTS = [
    ("GET", "/pipelines", None, "pipelines:read", "guest"),
    ("POST", "/pipelines", {"name": "New"}, "pipelines:create", "rep"),
    ("GET", "/pipelines/{pipeline}", None, "pipelines:read", "guest"),
    ("PATCH", "/pipelines/{pipeline}", {"name": "Renamed"}, "pipelines:update", "manager"),
    ("POST", "/pipelines/{pipeline}/default", None, "pipelines:update", "rep"),
    ("DELETE", "/pipelines/{pipeline}", None, "pipelines:delete", "manager"),
    ("GET", "/pipelines/{pipeline}/stages", None, "pipelines:read", "guest"),
    ("POST", "/pipelines/{pipeline}/stages", {"name": "Extra"}, "pipelines:update", "rep"),
    ("PUT", "/pipelines/{pipeline}/stages/order", {"stageIds": [str(new_id())]}, "pipelines:update", "read_only"),
    ("GET", "/pipelines/{pipeline}/stages/{stage}", None, "pipelines:read", "guest"),
    ("PATCH", "/pipelines/{pipeline}/stages/{stage}", {"probability": 30}, "pipelines:update", "rep"),
    ("DELETE", "/pipelines/{pipeline}/stages/{stage}", None, "pipelines:update", "read_only"),
]
WITH_ID = [e for e in ENDPOINTS if "{" in e[1]]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


def _default(client, headers) -> dict[str, Any]:
    return next(p for p in assert_success(client.get(f"{API}/pipelines", headers=headers)) if p["isDefault"])


def _snapshot(tenant_id) -> list[Any]:
    with owner_engine().connect() as conn:
        return conn.execute(
            text(
                "SELECT to_jsonb(p) FROM pipelines p WHERE tenant_id = :t UNION ALL"
                " SELECT to_jsonb(s) FROM deal_stages s WHERE tenant_id = :t ORDER BY 1"
            ),
            {"t": tenant_id},
        ).all()


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    url = API + path.format(pipeline=new_id(), stage=new_id())
    assert_error(client.request(method, url, json=body), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    default = _default(client, rworlds.headers["admin"])
    before = _snapshot(rworlds.home.tenant_id)
    url = API + path.format(pipeline=default["id"], stage=default["stages"][0]["id"])
    error = assert_error(client.request(method, url, json=body, headers=rworlds.headers[role]), 403, "FORBIDDEN")
    assert error["details"]["required"] == permission
    assert _snapshot(rworlds.home.tenant_id) == before


@pytest.mark.parametrize("method, path, body, permission, role", WITH_ID, ids=_ids(WITH_ID))
def test_other_tenants_pipelines_and_stages_are_404(client, rworlds, method, path, body, permission, role):
    away = _default(client, rworlds.away_headers)
    before = _snapshot(rworlds.away.tenant_id)
    url = API + path.format(pipeline=away["id"], stage=away["stages"][0]["id"])
    resp = client.request(method, url, json=body, headers=rworlds.headers["admin"])
    assert_error(resp, 404, "NOT_FOUND")
    assert away["stages"][0]["id"] not in resp.text
    assert _snapshot(rworlds.away.tenant_id) == before
    if "{stage}" in path:  # a foreign stage under one of our own pipelines is just as unknown
        mine = _default(client, rworlds.headers["admin"])
        url = API + path.format(pipeline=mine["id"], stage=away["stages"][0]["id"])
        assert_error(client.request(method, url, json=body, headers=rworlds.headers["admin"]), 404, "NOT_FOUND")


def test_everyone_with_read_sees_the_default_sales_pipeline(client, rworlds):
    for role in ("admin", "manager", "rep", "read_only"):
        default = _default(client, rworlds.headers[role])
        assert default["name"] == "Sales" and default["currency"] == "USD"
        assert [(s["name"], s["position"], s["probability"]) for s in default["stages"]] == [
            ("Prospecting", 1, 10),
            ("Qualification", 2, 20),
            ("Proposal", 3, 50),
            ("Negotiation", 4, 75),
            ("Closed Won", 5, 100),
            ("Closed Lost", 6, 0),
        ]
        assert [(s["isClosed"], s["isWon"]) for s in default["stages"][-2:]] == [(True, True), (True, False)]


def test_pipeline_and_stage_lifecycle(client, rworlds):
    admin = rworlds.headers["admin"]
    name = f"Partners 🤝 {unique('p')}"
    resp = client.post(
        f"{API}/pipelines",
        json={
            "name": name,
            "currency": "EUR",
            "stages": [
                {"name": "Intro", "probability": 5, "rottingDays": 7},
                {"name": "Проверка", "probability": 30},
                {"name": "Signed", "isWon": True},
                {"name": "Dropped", "isClosed": True},
            ],
        },
        headers=admin,
    )
    pipeline = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/pipelines/{pipeline['id']}"
    assert (pipeline["name"], pipeline["currency"], pipeline["isDefault"]) == (name, "EUR", False)
    stages = {s["name"]: s for s in pipeline["stages"]}
    assert (stages["Signed"]["isClosed"], stages["Signed"]["probability"], stages["Dropped"]["isWon"]) == (
        True,
        100,
        False,
    )
    url = f"{API}/pipelines/{pipeline['id']}"
    assert assert_success(client.get(url, headers=admin)) == pipeline
    assert assert_error(client.post(f"{API}/pipelines", json={"name": name}, headers=admin), 409)

    renamed = assert_success(client.patch(url, json={"name": f"{name} ✓", "version": 1}, headers=admin))
    assert renamed["name"] == f"{name} ✓" and renamed["version"] == 2
    error = assert_error(client.patch(url, json={"name": "Stale", "version": 1}, headers=admin), 409)
    assert error["code"] == "VERSION_CONFLICT" and error["details"]["currentVersion"] == 2

    added = client.post(f"{url}/stages", json={"name": "Demo", "probability": 20, "position": 2}, headers=admin)
    demo = assert_success(added, 201)
    assert added.headers["location"] == f"/api/v1/pipelines/{pipeline['id']}/stages/{demo['id']}"
    listed = assert_success(client.get(f"{url}/stages", headers=admin))
    assert [s["name"] for s in listed] == ["Intro", "Demo", "Проверка", "Signed", "Dropped"]
    assert [s["position"] for s in listed] == [1, 2, 3, 4, 5]
    changed = client.patch(f"{url}/stages/{demo['id']}", json={"probability": 25, "rottingDays": 3}, headers=admin)
    assert (assert_success(changed)["probability"], assert_success(changed)["rottingDays"]) == (25, 3)
    assert assert_success(client.get(f"{url}/stages/{demo['id']}", headers=admin))["probability"] == 25

    order = [listed[i]["id"] for i in (2, 0, 1, 4, 3)]
    reordered = assert_success(client.put(f"{url}/stages/order", json={"stageIds": order}, headers=admin))
    assert [s["id"] for s in reordered] == order and [s["position"] for s in reordered] == [1, 2, 3, 4, 5]
    resp = client.put(f"{url}/stages/order", json={"stageIds": order[:-1]}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == "stageIds"

    deal = assert_success(
        client.post(f"{API}/deals", json={"name": "On partners", "pipelineId": pipeline["id"]}, headers=admin), 201
    )
    assert (deal["stageName"], deal["currency"], deal["pipelineName"]) == ("Проверка", "EUR", f"{name} ✓")
    assert_error(client.delete(f"{url}/stages/{deal['stageId']}", headers=admin), 409)
    resp = client.patch(f"{url}/stages/{deal['stageId']}", json={"isClosed": True}, headers=admin)
    assert_error(resp, 409)
    assert_error(client.delete(url, headers=admin), 409)  # an open deal is on it

    assert client.delete(f"{url}/stages/{demo['id']}", headers=admin).status_code == 204
    assert_error(client.get(f"{url}/stages/{demo['id']}", headers=admin), 404)
    assert [s["name"] for s in assert_success(client.get(f"{url}/stages", headers=admin))] == [
        "Проверка",
        "Intro",
        "Dropped",
        "Signed",
    ]

    try:
        made_default = assert_success(client.post(f"{url}/default", headers=admin))
        assert made_default["isDefault"] is True
        defaults = [p for p in assert_success(client.get(f"{API}/pipelines", headers=admin)) if p["isDefault"]]
        assert [p["id"] for p in defaults] == [pipeline["id"]]
        assert_error(client.delete(url, headers=admin), 409)  # the default one
    finally:
        sales = next(p for p in assert_success(client.get(f"{API}/pipelines", headers=admin)) if p["name"] == "Sales")
        assert_success(client.post(f"{API}/pipelines/{sales['id']}/default", headers=admin))

    assert_success(client.post(f"{API}/deals/{deal['id']}/won", headers=admin))
    assert client.delete(url, headers=admin).status_code == 204
    assert_error(client.get(url, headers=admin), 404)
    assert pipeline["id"] not in {p["id"] for p in assert_success(client.get(f"{API}/pipelines", headers=admin))}
    assert assert_success(client.get(f"{API}/deals/{deal['id']}", headers=admin))["pipelineName"] == f"{name} ✓"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"name": ""}, "name"),
        ({"name": "p" * 101}, "name"),
        ({"name": "P", "currency": "euro"}, "currency"),
        ({"name": "P", "stages": []}, "stages"),
        ({"name": "P", "stages": [{"name": "A", "probability": 101}]}, "stages.0.probability"),
        ({"name": "P", "stages": [{"name": "A", "rottingDays": 0}]}, "stages.0.rottingDays"),
        ({"name": "P", "stages": [{"name": "A"}, {"name": "A"}]}, "stages"),
        ({"name": "P", "stages": [{"name": "Won", "isWon": True}]}, "stages"),
        ({"name": "P", "colour": "red"}, "colour"),
        ({"name": "P\x00"}, "name"),
        ({"name": "P", "stages": [{"name": "A\x00"}]}, "stages.0.name"),
    ],
)
def test_bad_pipelines_are_400_naming_the_field(client, rworlds, body, named):
    resp = client.post(f"{API}/pipelines", json=body, headers=rworlds.headers["admin"])
    assert named in {d["field"] for d in assert_error(resp, 400, "VALIDATION_ERROR")["details"]}


def test_bad_stage_changes_are_400(client, rworlds):
    admin = rworlds.headers["admin"]
    default = _default(client, admin)
    stage_url = f"{API}/pipelines/{default['id']}/stages/{default['stages'][0]['id']}"
    for body, named in [
        ({"probability": -1}, "probability"),
        ({"probability": "high"}, "probability"),
        ({"rottingDays": 0}, "rottingDays"),
        ({"name": None}, "name"),
        ({"position": 2}, "position"),
    ]:
        error = assert_error(client.patch(stage_url, json=body, headers=admin), 400, "VALIDATION_ERROR")
        assert named in {d["field"] for d in error["details"]}, error
    resp = client.post(f"{API}/pipelines/{default['id']}/stages", json={"name": "Prospecting"}, headers=admin)
    assert assert_error(resp, 409)["details"][0]["field"] == "name"
