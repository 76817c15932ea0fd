"""Notes over HTTP: `/contacts|accounts|deals/{id}/notes` and `/notes/{id}`; access follows the parent."""

from __future__ import annotations

import pytest

from tests.api.conftest import API, assert_error, assert_paginated, assert_success
from tests.api.records.conftest import assert_anonymous_is_401, assert_forbidden_is_403, assert_other_tenant_is_404

NOTE = {"body": "Met at the conference"}
ENDPOINTS = [
    ("GET", "/contacts/{contact}/notes", None, "notes:read", "guest"),
    ("GET", "/accounts/{account}/notes", None, "notes:read", "guest"),
    ("GET", "/deals/{deal}/notes", None, "notes:read", "guest"),
    ("POST", "/contacts/{contact}/notes", NOTE, "notes:create", "read_only"),
    ("POST", "/accounts/{account}/notes", NOTE, "notes:create", "read_only"),
    ("POST", "/deals/{deal}/notes", NOTE, "notes:create", "read_only"),
    ("GET", "/notes/{note}", None, "notes:read", "guest"),
    ("PATCH", "/notes/{note}", {"isPinned": True}, "notes:update", "read_only"),
    ("DELETE", "/notes/{note}", None, "notes:delete", "read_only"),
]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    assert_anonymous_is_401(client, method, path, body)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    assert_forbidden_is_403(client, rworlds, method, path, body, permission, role)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_other_tenants_records_are_404(client, rworlds, method, path, body, permission, role):
    assert_other_tenant_is_404(client, rworlds, method, path, body)


def _add(client, headers, parent: str, parent_id, **fields):
    resp = client.post(f"{API}/{parent}/{parent_id}/notes", json={"body": "Note", **fields}, headers=headers)
    note = assert_success(resp, 201)
    assert resp.headers["location"] == f"/api/v1/notes/{note['id']}"
    return note


@pytest.mark.parametrize(
    "body",
    [
        "  leading and trailing spaces, kept  ",
        "Emoji 🎉👩‍💻 and non-Latin: Ελληνικά, العربية, 中文, हिन्दी",
        "Robert'); DROP TABLE notes;-- and 1' OR '1'='1",
        "line one\nline two\r\n\ttabbed",
        "x" * 50_000,
    ],
)
def test_bodies_are_stored_and_returned_exactly(client, rworlds, body):
    admin = rworlds.headers["admin"]
    note = _add(client, admin, "accounts", rworlds.ids["account"], body=body)
    assert note["body"] == body
    assert assert_success(client.get(f"{API}/notes/{note['id']}", headers=admin))["body"] == body


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"body": ""}, "body"),
        ({"body": "x" * 50_001}, "body"),
        ({"body": 42}, "body"),
        ({"body": "nul\x00"}, "body"),
        ({"body": "ok", "isPinned": "sometimes"}, "isPinned"),
        ({"body": "ok", "entityId": "someone else"}, "entityId"),
        ({}, "body"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, rworlds, body, named):
    resp = client.post(f"{API}/deals/{rworlds.ids['deal']}/notes", json=body, headers=rworlds.headers["rep"])
    assert named in {d["field"] for d in assert_error(resp, 400, "VALIDATION_ERROR")["details"]}


def test_notes_follow_the_parents_scope_and_list_pinned_first(client, rworlds):
    contact = rworlds.contact()
    rep, manager, other = (rworlds.headers[r] for r in ("rep", "manager", "other_rep"))
    first = _add(client, rep, "contacts", contact, body="First")
    pinned = _add(client, manager, "contacts", contact, body="Pinned", isPinned=True)
    last = _add(client, rep, "contacts", contact, body="Last")
    assert pinned["authorId"] == str(rworlds.users["manager"]) and pinned["entityType"] == "contacts"

    resp = client.get(f"{API}/contacts/{contact}/notes", headers=manager)
    assert [n["id"] for n in assert_paginated(resp)[0]] == [pinned["id"], last["id"], first["id"]]
    resp = client.get(f"{API}/contacts/{contact}/notes", params={"sort": "createdAt"}, headers=rep)
    assert [n["id"] for n in assert_paginated(resp)[0]] == [pinned["id"], first["id"], last["id"]]
    resp = client.get(f"{API}/contacts/{contact}/notes", params={"cursor": "", "limit": 2}, headers=rep)
    assert [n["id"] for n in assert_success(resp)] == [pinned["id"], last["id"]]
    resp = client.get(
        f"{API}/contacts/{contact}/notes", params={"cursor": resp.json()["pagination"]["nextCursor"]}, headers=rep
    )
    assert [n["id"] for n in assert_success(resp)] == [first["id"]]

    # Another team's rep cannot read the contact, so none of its notes either.
    assert_error(client.get(f"{API}/contacts/{contact}/notes", headers=other), 404)
    assert_error(client.post(f"{API}/contacts/{contact}/notes", json={"body": "hi"}, headers=other), 404)
    for method in ("GET", "PATCH", "DELETE"):
        body = {"body": "mine"} if method == "PATCH" else None
        assert_error(client.request(method, f"{API}/notes/{first['id']}", json=body, headers=other), 404)

    url = f"{API}/notes/{first['id']}"
    updated = assert_success(client.patch(url, json={"body": "Edited", "version": 1}, headers=manager))
    assert updated["body"] == "Edited" and updated["version"] == 2
    error = assert_error(client.patch(url, json={"isPinned": True, "version": 1}, headers=rep), 409)
    assert error["code"] == "VERSION_CONFLICT"
    assert_error(client.patch(url, json={"body": None}, headers=rep), 400)
    assert client.delete(url, headers=rep).status_code == 204
    assert_error(client.get(url, headers=rep), 404)
    resp = client.get(f"{API}/contacts/{contact}/notes", params={"unknown": "x"}, headers=rep)
    assert assert_error(resp, 400)["details"][0]["field"] == "unknown"
