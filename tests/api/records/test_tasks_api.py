"""`/api/v1/tasks` and the `/contacts|accounts|deals/{id}/tasks` sub-resources over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.api.conftest import API, assert_error, assert_paginated, assert_success
from tests.api.records.conftest import (
    assert_anonymous_is_401,
    assert_forbidden_is_403,
    assert_other_tenant_is_404,
    owner_engine,
)

ENDPOINTS = [
    ("GET", "/tasks", None, "tasks:read", "guest"),
    ("GET", "/contacts/{contact}/tasks", None, "tasks:read", "guest"),
    ("GET", "/accounts/{account}/tasks", None, "tasks:read", "guest"),
    ("GET", "/deals/{deal}/tasks", None, "tasks:read", "guest"),
    ("POST", "/tasks", {"title": "Call back"}, "tasks:create", "read_only"),
    ("GET", "/tasks/{task}", None, "tasks:read", "guest"),
    ("PATCH", "/tasks/{task}", {"status": "done"}, "tasks:update", "read_only"),
    ("DELETE", "/tasks/{task}", None, "tasks:delete", "read_only"),
    ("PUT", "/tasks/{task}", {"title": "Replaced"}, "tasks:update", "read_only"),
    ("POST", "/tasks/bulk", {"tasks": [{"title": "Call back"}]}, "tasks:create", "read_only"),
    ("PATCH", "/tasks/bulk", {"ids": [], "updates": {"status": "done"}}, "tasks:update", "read_only"),
    ("DELETE", "/tasks/bulk", {"ids": []}, "tasks:delete", "guest"),
]
WITH_ID = [e for e in ENDPOINTS if "{" in e[1]]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    assert_anonymous_is_401(client, method, path, body)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    assert_forbidden_is_403(client, rworlds, method, path, body, permission, role)


@pytest.mark.parametrize("method, path, body, permission, role", WITH_ID, ids=_ids(WITH_ID))
def test_other_tenants_records_are_404(client, rworlds, method, path, body, permission, role):
    assert_other_tenant_is_404(client, rworlds, method, path, body)


def _when(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _task(client, headers, **fields):
    return assert_success(client.post(f"{API}/tasks", json={"title": "Task", **fields}, headers=headers), 201)


def _completed_events(task_id: str) -> int:
    with owner_engine().connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM events WHERE type = 'task.completed' AND entity_id = :id"), {"id": task_id}
        ).scalar_one()


def test_task_lifecycle_complete_reopen_reschedule(client, rworlds):
    rep = rworlds.headers["rep"]
    resp = client.post(
        f"{API}/tasks",
        json={
            "title": "Send 见积 📄",
            "dueAt": _when(-1),
            "priority": "high",
            "contactId": str(rworlds.ids["contact"]),
        },
        headers=rep,
    )
    task = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/tasks/{task['id']}"
    assert task["assigneeId"] == str(rworlds.users["rep"]) and task["createdBy"] == str(rworlds.users["rep"])
    assert task["status"] == "open" and task["isOverdue"] is True and task["completedAt"] is None

    url = f"{API}/tasks/{task['id']}"
    done = assert_success(client.patch(url, json={"status": "done", "version": 1}, headers=rep))
    assert done["completedAt"] and done["isOverdue"] is False and done["version"] == 2
    again = assert_success(client.patch(url, json={"status": "done", "priority": "low"}, headers=rep))
    assert again["completedAt"] == done["completedAt"]
    assert _completed_events(task["id"]) == 1

    reopened = assert_success(client.patch(url, json={"status": "open", "dueAt": _when(2)}, headers=rep))
    assert reopened["completedAt"] is None and reopened["isOverdue"] is False
    assert assert_success(client.get(url, headers=rep)) == reopened
    error = assert_error(client.patch(url, json={"title": "Late", "version": 1}, headers=rep), 409)
    assert error["details"]["currentVersion"] == reopened["version"]
    assert _completed_events(task["id"]) == 1

    assert client.delete(url, headers=rep).status_code == 204
    assert_error(client.get(url, headers=rep), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"title": ""}, "title"),
        ({"title": "t" * 256}, "title"),
        ({"priority": "asap"}, "priority"),
        ({"status": "maybe"}, "status"),
        ({"dueAt": "tomorrow"}, "dueAt"),
        ({"assigneeId": "00000000-0000-0000-0000-000000000000"}, "assigneeId"),
        ({"dealId": "00000000-0000-0000-0000-000000000000"}, "dealId"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, rworlds, fields, named):
    resp = client.post(f"{API}/tasks", json={"title": "Task", **fields}, headers=rworlds.headers["rep"])
    assert named in {d["field"] for d in assert_error(resp, 400, "VALIDATION_ERROR")["details"]}


def test_assignee_of_another_tenant_is_refused(client, rworlds):
    resp = client.post(
        f"{API}/tasks", json={"title": "x", "assigneeId": str(rworlds.away.admin_id)}, headers=rworlds.headers["admin"]
    )
    assert assert_error(resp, 400)["details"][0]["field"] == "assigneeId"


def test_scope_overdue_filters_and_cursor(client, rworlds):
    deal = str(rworlds.ids["deal"])
    rep, manager, admin = (rworlds.headers[r] for r in ("rep", "manager", "admin"))
    late = _task(client, rep, dueAt=_when(-2), dealId=deal)["id"]
    later = _task(client, rep, dueAt=_when(3), dealId=deal, status="in_progress")["id"]
    finished = _task(client, rep, dueAt=_when(-3), dealId=deal, status="done")["id"]
    managers = _task(client, manager, dueAt=_when(-1), dealId=deal, priority="urgent")["id"]
    others = _task(client, admin, dueAt=_when(1), dealId=deal, assigneeId=str(rworlds.users["other_rep"]))["id"]

    def seen(headers, path="/tasks", **params):
        resp = client.get(f"{API}{path}", params={"dealId": deal, **params}, headers=headers)
        return [t["id"] for t in assert_paginated(resp)[0]]

    assert set(seen(rep)) == {late, later, finished}
    assert set(seen(manager)) == {late, later, finished, managers}
    assert set(seen(admin)) == {late, later, finished, managers, others}
    assert seen(admin, overdue="true", sort="dueAt") == [late, managers]
    assert seen(rep, f"/deals/{deal}/tasks", overdue="true") == [late]
    assert seen(admin, priority="urgent") == [managers]
    assert seen(admin, status="open,in_progress", sort="-dueAt") == [later, others, managers, late]
    assert seen(admin, **{"dueAt[gte]": _when(0)}) == [others, later]
    resp = client.get(f"{API}/tasks", params={"dealId": deal, "isOverdue": "true"}, headers=admin)
    assert all(t["isOverdue"] for t in assert_success(resp))
    assert_error(client.get(f"{API}/tasks/{others}", headers=rep), 404)

    pages, cursor = [], ""
    while cursor is not None:
        resp = client.get(f"{API}/tasks", params={"dealId": deal, "cursor": cursor, "limit": 2}, headers=admin)
        pages.append([t["id"] for t in assert_success(resp)])
        cursor = resp.json()["pagination"]["nextCursor"]
    assert pages == [[finished, late], [managers, others], [later]]

    resp = client.get(f"{API}/tasks", params={"overdue": "perhaps"}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == "overdue"
    resp = client.get(f"{API}/tasks", params={"sort": "overdue"}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == "overdue"


# PUT and bulk ---------------------------------------------------------------------------------------------


def test_put_replaces_the_whole_task_and_resets_what_is_left_out(client, rworlds):
    rep = rworlds.headers["rep"]
    deal = str(rworlds.ids["deal"])
    task = _task(client, rep, description="Bring the contract", dueAt=_when(-1), priority="urgent", dealId=deal)
    url = f"{API}/tasks/{task['id']}"
    done = assert_success(client.patch(url, json={"status": "done"}, headers=rep))
    assert done["completedAt"] and _completed_events(task["id"]) == 1

    replaced = assert_success(client.put(url, json={"title": "Send 见积 📄", "version": 2}, headers=rep))
    assert {k: replaced[k] for k in ("title", "description", "dueAt", "priority", "status", "completedAt")} == {
        "title": "Send 见积 📄",
        "description": None,
        "dueAt": None,
        "priority": "normal",
        "status": "open",
        "completedAt": None,
    }
    assert (replaced["dealId"], replaced["assigneeId"], replaced["version"]) == (None, task["assigneeId"], 3)
    assert assert_success(client.get(url, headers=rep)) == replaced

    body = {"title": "Done again", "status": "done", "assigneeId": str(rworlds.users["manager"]), "version": 3}
    again = assert_success(client.put(url, json=body, headers=rworlds.headers["admin"]))
    assert again["completedAt"] and again["assigneeId"] == str(rworlds.users["manager"])
    assert _completed_events(task["id"]) == 2
    admin = rworlds.headers["admin"]
    error = assert_error(client.put(url, json={"title": "Stale", "version": 3}, headers=admin), 409, "VERSION_CONFLICT")
    assert error["details"]["currentVersion"] == 4
    assert_error(client.put(url, json={"priority": "low"}, headers=admin), 400, "VALIDATION_ERROR")
    assert_error(client.put(url, json={"title": "Mine now"}, headers=rep), 404)  # assigned away: out of scope


def test_bulk_create_update_delete_mix_good_and_bad_items(client, rworlds):
    rep = rworlds.headers["rep"]
    deal = str(rworlds.ids["deal"])
    items = [
        {"title": "One", "dealId": deal, "dueAt": _when(1)},
        {"title": ""},
        {"title": "Elsewhere", "dealId": str(rworlds.away_ids["deal"])},
        {"title": "Two", "dealId": deal, "priority": "high"},
        {"title": "Three", "colour": "red"},
    ]
    result = assert_success(client.post(f"{API}/tasks/bulk", json={"tasks": items}, headers=rep))
    assert (result["created"], result["failed"]) == (2, 3)
    assert [r["success"] for r in result["results"]] == [True, False, False, True, False]
    assert [r["error"]["details"][0]["field"] for r in result["results"] if not r["success"]] == [
        "title",
        "dealId",
        "colour",
    ]
    created = [r["id"] for r in result["results"] if r["success"]]

    hidden = _task(client, rworlds.headers["admin"], assigneeId=str(rworlds.users["other_rep"]))["id"]
    ids = [*created, hidden, str(rworlds.away_ids["task"])]
    result = assert_success(
        client.patch(f"{API}/tasks/bulk", json={"ids": ids, "updates": {"status": "done"}}, headers=rep)
    )
    assert (result["updated"], result["failed"]) == (2, 2)
    assert [r["success"] for r in result["results"]] == [True, True, False, False]
    assert {r["error"]["code"] for r in result["results"] if not r["success"]} == {"NOT_FOUND"}
    assert [_completed_events(t) for t in created] == [1, 1]
    resp = client.patch(f"{API}/tasks/bulk", json={"ids": created, "updates": {"version": 2}}, headers=rep)
    assert_error(resp, 400, "VALIDATION_ERROR")

    result = assert_success(client.request("DELETE", f"{API}/tasks/bulk", json={"ids": ids}, headers=rep))
    assert (result["deleted"], result["failed"]) == (2, 2)
    assert_error(client.get(f"{API}/tasks/{created[1]}", headers=rep), 404)
    assert_success(client.get(f"{API}/tasks/{hidden}", headers=rworlds.headers["admin"]))
    resp = client.post(f"{API}/tasks/bulk", json={"tasks": [items[0]] * 101}, headers=rep)
    assert_error(resp, 400, "VALIDATION_ERROR")
