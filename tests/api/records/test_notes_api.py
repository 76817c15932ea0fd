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
    ("PUT", "/notes/{note}", NOTE, "notes:update", "read_only"),
    ("POST", "/notes/bulk", {"notes": [NOTE]}, "notes:create", "read_only"),
    ("PATCH", "/notes/bulk", {"ids": [], "updates": {"isPinned": True}}, "notes:update", "read_only"),
    ("DELETE", "/notes/bulk", {"ids": []}, "notes:delete", "guest"),
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


# PUT and bulk ---------------------------------------------------------------------------------------------


def test_put_replaces_the_note_and_resets_the_pin(client, rworlds):
    rep = rworlds.headers["rep"]
    contact = rworlds.contact()
    note = _add(client, rep, "contacts", contact, body="Original", isPinned=True)
    url = f"{API}/notes/{note['id']}"
    replaced = assert_success(client.put(url, json={"body": "  Replaced 📝 Ελληνικά  ", "version": 1}, headers=rep))
    assert (replaced["body"], replaced["isPinned"], replaced["version"]) == ("  Replaced 📝 Ελληνικά  ", False, 2)
    assert (replaced["entityType"], replaced["entityId"], replaced["authorId"]) == (
        "contacts",
        str(contact),
        note["authorId"],
    )
    assert assert_success(client.get(url, headers=rep)) == replaced
    error = assert_error(client.put(url, json={"body": "Stale", "version": 1}, headers=rep), 409, "VERSION_CONFLICT")
    assert error["details"]["currentVersion"] == 2
    assert_error(client.put(url, json={"isPinned": True}, headers=rep), 400, "VALIDATION_ERROR")  # body is required
    assert_error(client.put(url, json={"body": "x", "entityId": str(contact)}, headers=rep), 400)
    assert_error(client.put(url, json={"body": "Theirs now"}, headers=rworlds.headers["other_rep"]), 404)
    assert assert_success(client.get(url, headers=rep)) == replaced


def test_bulk_create_update_delete_mix_good_and_bad_items(client, rworlds):
    rep = rworlds.headers["rep"]
    contact = rworlds.contact()
    hidden = rworlds.contact("other_rep")
    items = [
        {"entityType": "contacts", "entityId": str(contact), "body": "On the contact"},
        {"entityType": "accounts", "entityId": str(rworlds.ids["account"]), "body": "On the account", "isPinned": True},
        {"entityType": "contacts", "entityId": str(hidden), "body": "Not mine to see"},
        {"entityType": "contacts", "entityId": str(rworlds.away_ids["contact"]), "body": "Another tenant"},
        {"entityType": "users", "entityId": str(contact), "body": "No such parent type"},
        {"entityType": "deals", "entityId": str(rworlds.ids["deal"]), "body": ""},
        {"entityType": "deals", "entityId": str(rworlds.ids["deal"]), "body": "On the deal"},
    ]
    result = assert_success(client.post(f"{API}/notes/bulk", json={"notes": items}, headers=rep))
    assert (result["created"], result["failed"]) == (3, 4)
    assert [r["success"] for r in result["results"]] == [True, True, False, False, False, False, True]
    assert [r["error"]["code"] for r in result["results"] if not r["success"]] == [
        "NOT_FOUND",
        "NOT_FOUND",
        "VALIDATION_ERROR",
        "VALIDATION_ERROR",
    ]
    created = [r["id"] for r in result["results"] if r["success"]]
    listed = assert_paginated(client.get(f"{API}/contacts/{contact}/notes", headers=rep))[0]
    assert [n["id"] for n in listed] == [created[0]]

    theirs = _add(client, rworlds.headers["other_rep"], "contacts", hidden)["id"]
    ids = [*created, theirs, str(rworlds.away_ids["note"])]
    result = assert_success(
        client.patch(f"{API}/notes/bulk", json={"ids": ids, "updates": {"isPinned": True}}, headers=rep)
    )
    assert (result["updated"], result["failed"]) == (3, 2)
    assert [r["id"] for r in result["results"]] == ids
    assert all(assert_success(client.get(f"{API}/notes/{n}", headers=rep))["isPinned"] for n in created)
    resp = client.patch(f"{API}/notes/bulk", json={"ids": created, "updates": {"body": None}}, headers=rep)
    assert assert_success(resp)["failed"] == 3
    resp = client.patch(f"{API}/notes/bulk", json={"ids": created, "updates": {"version": 2}}, headers=rep)
    assert_error(resp, 400, "VALIDATION_ERROR")

    result = assert_success(client.request("DELETE", f"{API}/notes/bulk", json={"ids": ids}, headers=rep))
    assert (result["deleted"], result["failed"]) == (3, 2)
    assert_error(client.get(f"{API}/notes/{created[0]}", headers=rep), 404)
    assert_success(client.get(f"{API}/notes/{theirs}", headers=rworlds.headers["other_rep"]))
    assert_error(client.post(f"{API}/notes/bulk", json={"notes": [items[0]] * 101}, headers=rep), 400)
