"""`/api/v1/activities` and the `/contacts|accounts|deals/{id}/activities` sub-resources over HTTP."""

from __future__ import annotations

import pytest

from tests.api.conftest import API, assert_error, assert_paginated, assert_success
from tests.api.records.conftest import (
    assert_anonymous_is_401,
    assert_forbidden_is_403,
    assert_other_tenant_is_404,
    owner_engine,
)
from tests.core.records.test_activities_tasks_notes import T0

CALL = {"type": "call", "subject": "Intro call", "contactId": "{contact}"}
ENDPOINTS = [
    ("GET", "/activities", None, "activities:read", "guest"),
    ("GET", "/contacts/{contact}/activities", None, "activities:read", "guest"),
    ("GET", "/accounts/{account}/activities", None, "activities:read", "guest"),
    ("GET", "/deals/{deal}/activities", None, "activities:read", "guest"),
    ("POST", "/activities", CALL, "activities:create", "read_only"),
    ("GET", "/activities/{activity}", None, "activities:read", "guest"),
    ("PATCH", "/activities/{activity}", {"subject": "Hijacked"}, "activities:update", "read_only"),
    ("DELETE", "/activities/{activity}", None, "activities:delete", "read_only"),
    ("PUT", "/activities/{activity}", CALL, "activities:update", "read_only"),
    ("POST", "/activities/bulk", {"activities": [CALL]}, "activities:create", "read_only"),
    ("PATCH", "/activities/bulk", {"ids": [], "updates": {"outcome": "x"}}, "activities:update", "read_only"),
    ("DELETE", "/activities/bulk", {"ids": []}, "activities:delete", "guest"),
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


def _log(client, headers, **fields):
    resp = client.post(f"{API}/activities", json={"type": "call", "subject": "Call", **fields}, headers=headers)
    return assert_success(resp, 201)


def _last_contacted(contact_id):
    from sqlalchemy import text

    with owner_engine().connect() as conn:
        return conn.execute(text("SELECT last_contacted_at FROM contacts WHERE id = :id"), {"id": contact_id}).scalar()


def test_log_get_patch_delete(client, rworlds):
    rep = rworlds.headers["rep"]
    contact = rworlds.contact()
    body = {
        "type": "meeting",
        "subject": "Démo 🚀 für 日本",
        "body": "  '; DROP TABLE activities; --  ",
        "direction": "outbound",
        "outcome": "booked",
        "durationSeconds": 1800,
        "occurredAt": "2026-03-01T09:00:00Z",
        "contactId": str(contact),
        "dealId": str(rworlds.ids["deal"]),
    }
    resp = client.post(f"{API}/activities", json=body, headers=rep)
    activity = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/activities/{activity['id']}"
    assert {k: activity[k] for k in body if k != "occurredAt"} == {k: v for k, v in body.items() if k != "occurredAt"}
    assert activity["ownerId"] == str(rworlds.users["rep"]) and activity["version"] == 1
    assert _last_contacted(contact) == T0
    assert assert_success(client.get(f"{API}/activities/{activity['id']}", headers=rep)) == activity

    url = f"{API}/activities/{activity['id']}"
    patched = assert_success(client.patch(url, json={"outcome": "no-show", "version": 1}, headers=rep))
    assert patched["outcome"] == "no-show" and patched["version"] == 2
    error = assert_error(client.patch(url, json={"outcome": "late", "version": 1}, headers=rep), 409)
    assert error["code"] == "VERSION_CONFLICT" and error["details"]["currentVersion"] == 2

    assert client.delete(url, headers=rep).status_code == 204
    assert_error(client.get(url, headers=rep), 404, "NOT_FOUND")
    assert _last_contacted(contact) is None


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"type": "telegram"}, "type"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 256}, "subject"),
        ({"durationSeconds": -1}, "durationSeconds"),
        ({"durationSeconds": "long"}, "durationSeconds"),
        ({"direction": "sideways"}, "direction"),
        ({"occurredAt": "yesterday"}, "occurredAt"),
        ({"occurredAt": "0001-01-01T00:00:00+14:00"}, "occurredAt"),
        ({"contactId": "not-a-uuid"}, "contactId"),
        ({"mood": "happy"}, "mood"),
        ({"body": "nul \x00 byte"}, "body"),
        ({"contactId": None}, "contactId"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, rworlds, fields, named):
    body = {"type": "call", "subject": "Call", "contactId": str(rworlds.ids["contact"]), **fields}
    resp = client.post(f"{API}/activities", json=body, headers=rworlds.headers["rep"])
    error = assert_error(resp, 400, "VALIDATION_ERROR")
    assert named in {d["field"] for d in error["details"]}


def test_related_records_must_be_readable(client, rworlds):
    rep = rworlds.headers["rep"]
    for field, value in [
        ("contactId", rworlds.away_ids["contact"]),
        ("accountId", rworlds.away_ids["account"]),
        ("contactId", rworlds.contact("other_rep")),
    ]:
        resp = client.post(f"{API}/activities", json={"type": "call", "subject": "x", field: str(value)}, headers=rep)
        assert assert_error(resp, 400, "VALIDATION_ERROR")["details"][0]["field"] == field


def test_scope_rep_sees_own_manager_sees_team(client, rworlds):
    contact = rworlds.contact()
    mine = _log(client, rworlds.headers["rep"], contactId=str(contact))["id"]
    managers = _log(client, rworlds.headers["manager"], contactId=str(contact))["id"]
    admins = _log(client, rworlds.headers["admin"], contactId=str(contact))["id"]

    def seen(role, path="/activities", **params):
        resp = client.get(f"{API}{path}", params={"contactId": str(contact), **params}, headers=rworlds.headers[role])
        return {a["id"] for a in assert_paginated(resp)[0]}

    assert seen("rep") == {mine}
    assert seen("manager") == {mine, managers}
    assert seen("admin") == {mine, managers, admins}
    assert seen("rep", f"/contacts/{contact}/activities") == {mine}
    assert_error(client.get(f"{API}/activities/{admins}", headers=rworlds.headers["rep"]), 404)
    assert_error(client.get(f"{API}/contacts/{contact}/activities", headers=rworlds.headers["other_rep"]), 404)
    resp = client.patch(f"{API}/activities/{mine}", json={"subject": "mine"}, headers=rworlds.headers["other_rep"])
    assert_error(resp, 404)


def test_filters_sort_fields_and_cursor(client, rworlds):
    admin = rworlds.headers["admin"]
    contact = rworlds.contact()
    ids = [
        _log(client, admin, type=kind, contactId=str(contact), occurredAt=f"2026-04-0{i + 1}T10:00:00Z")["id"]
        for i, kind in enumerate(["call", "email", "meeting", "call", "email"])
    ]
    base = {"contactId": str(contact)}

    def listed(**params):
        resp = client.get(f"{API}/activities", params={**base, **params}, headers=admin)
        return assert_success(resp), resp.json()["pagination"]

    items, pagination = listed(type="call,email", sort="occurredAt", limit=2, page=2)
    assert [a["id"] for a in items] == [ids[3], ids[4]]
    assert pagination == {"page": 2, "limit": 2, "total": 4, "totalPages": 2, "hasNext": False, "hasPrev": True}
    items, _ = listed(**{"occurredAt[gte]": "2026-04-02", "occurredAt[lt]": "2026-04-04"})
    assert [a["id"] for a in items] == [ids[2], ids[1]]
    items, _ = listed(fields="type,subject", sort="-occurredAt", limit=1)
    assert items == [{"id": ids[4], "type": "email", "subject": "Call"}]

    seen, cursor = [], ""
    while cursor is not None:
        items, pagination = listed(cursor=cursor, limit=2, sort="occurredAt")
        assert set(pagination) == {"limit", "nextCursor", "hasNext"}
        seen += [a["id"] for a in items]
        cursor = pagination["nextCursor"]
    assert seen == ids

    resp = client.get(f"{API}/activities", params={"mood": "happy", "sort": "-vibe"}, headers=admin)
    assert {d["field"] for d in assert_error(resp, 400, "VALIDATION_ERROR")["details"]} == {"mood", "vibe"}
    resp = client.get(f"{API}/activities", params={"occurredAt[gte]": "soon"}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == "occurredAt"
    resp = client.get(f"{API}/activities", params={"outcome[isnull]": "maybe"}, headers=admin)
    assert assert_error(resp, 400)["details"][0]["field"] == "outcome[isnull]"


# PUT and bulk ---------------------------------------------------------------------------------------------


def test_put_replaces_the_whole_activity_and_resets_what_is_left_out(client, rworlds):
    rep = rworlds.headers["rep"]
    contact = str(rworlds.contact())
    full = {
        "type": "meeting",
        "subject": "Kick-off",
        "body": "Agenda",
        "direction": "outbound",
        "outcome": "booked",
        "durationSeconds": 900,
        "occurredAt": "2026-02-01T09:00:00Z",
        "contactId": contact,
        "dealId": str(rworlds.ids["deal"]),
    }
    activity = _log(client, rep, **full)
    url = f"{API}/activities/{activity['id']}"
    replaced = assert_success(
        client.put(
            url, json={"type": "email", "subject": "Follow-up 📧", "contactId": contact, "version": 1}, headers=rep
        )
    )
    assert {k: replaced[k] for k in ("type", "subject", "body", "direction", "outcome", "durationSeconds")} == {
        "type": "email",
        "subject": "Follow-up 📧",
        "body": None,
        "direction": None,
        "outcome": None,
        "durationSeconds": None,
    }
    assert (replaced["dealId"], replaced["contactId"], replaced["version"]) == (None, contact, 2)
    assert replaced["occurredAt"] == activity["occurredAt"] and replaced["ownerId"] == activity["ownerId"]
    assert assert_success(client.get(url, headers=rep)) == replaced

    error = assert_error(client.put(url, json={**full, "version": 1}, headers=rep), 409, "VERSION_CONFLICT")
    assert error["details"]["currentVersion"] == 2
    resp = client.put(url, json={"type": "call", "subject": "Orphan"}, headers=rep)
    assert {d["field"] for d in assert_error(resp, 400, "VALIDATION_ERROR")["details"]} >= {"contactId"}
    resp = client.put(
        url, json={"type": "call", "subject": "x", "contactId": contact}, headers=rworlds.headers["other_rep"]
    )
    assert_error(resp, 404, "NOT_FOUND")
    assert assert_success(client.get(url, headers=rep)) == replaced


def test_bulk_create_update_delete_mix_good_and_bad_items(client, rworlds):
    rep = rworlds.headers["rep"]
    contact = str(rworlds.contact())
    items = [
        {"type": "call", "subject": "One", "contactId": contact},
        {"type": "telegram", "subject": "Bad type", "contactId": contact},
        {"type": "call", "subject": "Away", "contactId": str(rworlds.away_ids["contact"])},
        {"type": "email", "subject": "Two 🚀", "contactId": contact, "occurredAt": "2026-03-03T10:00:00Z"},
        "not an object",
    ]
    result = assert_success(client.post(f"{API}/activities/bulk", json={"activities": items}, headers=rep))
    assert (result["created"], result["failed"]) == (2, 3)
    assert [r["index"] for r in result["results"]] == [0, 1, 2, 3, 4]
    assert [r["success"] for r in result["results"]] == [True, False, False, True, False]
    assert result["results"][1]["error"]["code"] == "VALIDATION_ERROR"
    assert result["results"][1]["error"]["details"][0]["field"] == "type"
    assert result["results"][2]["error"]["details"][0]["field"] == "contactId"
    created = [r["id"] for r in result["results"] if r["success"]]
    listed = assert_paginated(client.get(f"{API}/activities", params={"contactId": contact}, headers=rep))[0]
    assert {a["id"] for a in listed} == set(created)
    assert _last_contacted(contact) is not None

    someone_elses = _log(client, rworlds.headers["admin"], contactId=contact)["id"]
    ids = [*created, someone_elses, str(rworlds.away_ids["activity"])]
    body = {"ids": ids, "updates": {"outcome": "done"}}
    result = assert_success(client.patch(f"{API}/activities/bulk", json=body, headers=rep))
    assert (result["updated"], result["failed"]) == (2, 2)
    assert [(r["id"], r["success"]) for r in result["results"]] == [
        (created[0], True),
        (created[1], True),
        (someone_elses, False),
        (str(rworlds.away_ids["activity"]), False),
    ]
    assert {r["error"]["code"] for r in result["results"] if not r["success"]} == {"NOT_FOUND"}
    for activity_id in created:
        got = assert_success(client.get(f"{API}/activities/{activity_id}", headers=rep))
        assert (got["outcome"], got["version"]) == ("done", 2)
    resp = client.patch(f"{API}/activities/bulk", json={"ids": created, "updates": {"version": 1}}, headers=rep)
    assert_error(resp, 400, "VALIDATION_ERROR")
    resp = client.patch(f"{API}/activities/bulk", json={"ids": created, "updates": {"subject": None}}, headers=rep)
    result = assert_success(resp)
    assert result["failed"] == 2 and result["results"][0]["error"]["details"][0]["field"] == "subject"

    result = assert_success(client.request("DELETE", f"{API}/activities/bulk", json={"ids": ids}, headers=rep))
    assert (result["deleted"], result["failed"]) == (2, 2)
    assert_error(client.get(f"{API}/activities/{created[0]}", headers=rep), 404)
    assert assert_success(client.get(f"{API}/activities/{someone_elses}", headers=rworlds.headers["admin"]))
    assert _last_contacted(contact) is not None  # the admin's call remains

    too_many = {"activities": [items[0]] * 101}
    assert_error(client.post(f"{API}/activities/bulk", json=too_many, headers=rep), 400, "VALIDATION_ERROR")
    assert_error(client.post(f"{API}/activities/bulk", json={"activities": []}, headers=rep), 400)
