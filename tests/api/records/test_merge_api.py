"""Duplicates and merges over HTTP: `/contacts|accounts/duplicates`, `/{id}/duplicates`, `/{id}/merge`,
`/{id}/unmerge`: 401, 403 and other-tenant 404 per route, route order, merge then unmerge, bad input 400."""

from __future__ import annotations

import secrets

import pytest

from core.activities import service as activities
from core.activities.schemas import ActivityCreate
from core.db import unit_of_work
from core.ids import new_id
from core.notes import service as notes
from core.notes.schemas import NoteCreate
from tests.api.conftest import API, assert_error, assert_success, owner_count
from tests.api.records.conftest import (
    add_account,
    add_contact,
    assert_anonymous_is_401,
    assert_forbidden_is_403,
    assert_other_tenant_is_404,
)
from tests.core.conftest import owner_rows

ENDPOINTS = [
    ("GET", "/contacts/duplicates", None, "contacts:read", "guest"),
    ("GET", "/accounts/duplicates", None, "accounts:read", "guest"),
    ("GET", "/contacts/{contact}/duplicates", None, "contacts:read", "guest"),
    ("GET", "/accounts/{account}/duplicates", None, "accounts:read", "guest"),
    ("POST", "/contacts/{contact}/merge", {"otherId": "{contact}"}, "contacts:merge", "rep"),
    ("POST", "/accounts/{account}/merge", {"otherId": str(new_id())}, "accounts:merge", "rep"),
    ("POST", "/contacts/{contact}/unmerge", None, "contacts:merge", "rep"),
    ("POST", "/accounts/{account}/unmerge", None, "accounts:merge", "rep"),
]
WITH_IDS = [e for e in ENDPOINTS if "{" in e[1]]


def _ids(endpoints):
    return [f"{m} {p}" for m, p, *_ in endpoints]


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_anonymous_is_401(client, method, path, body, permission, role):
    assert_anonymous_is_401(client, method, path, body)


@pytest.mark.parametrize("method, path, body, permission, role", ENDPOINTS, ids=_ids(ENDPOINTS))
def test_role_without_the_permission_is_403(client, rworlds, method, path, body, permission, role):
    assert_forbidden_is_403(client, rworlds, method, path, body, permission, role)


@pytest.mark.parametrize("method, path, body, permission, role", WITH_IDS, ids=_ids(WITH_IDS))
def test_other_tenants_records_are_404(client, rworlds, method, path, body, permission, role):
    assert_other_tenant_is_404(client, rworlds, method, path, body)


def test_duplicates_list_is_not_taken_for_a_contact_id_and_shows_reasons(client, rworlds):
    tag = secrets.token_hex(3)
    email = f"dup-{tag}@merge.example"
    headers = rworlds.headers["admin"]
    ids = []
    for last in ("Lamarr", "Lamar"):
        resp = client.post(
            f"{API}/contacts", json={"firstName": "Hedy", "lastName": last, "email": email}, headers=headers
        )
        ids.append(assert_success(resp, 201)["id"])
    pairs = assert_success(client.get(f"{API}/contacts/duplicates", params={"limit": 100}, headers=headers))
    [pair] = [p for p in pairs if {r["id"] for r in p["records"]} == set(ids)]
    assert pair["reasons"] == ["same_email"] and pair["score"] == 1.0
    [match] = assert_success(client.get(f"{API}/contacts/{ids[0]}/duplicates", headers=headers))
    assert match["record"]["id"] == ids[1] and match["reasons"] == ["same_email"]
    assert_success(client.get(f"{API}/accounts/duplicates", headers=headers))
    assert_error(client.get(f"{API}/contacts/duplicates", params={"limit": 0}, headers=headers), 400)
    assert_error(client.get(f"{API}/contacts/not-a-uuid/duplicates", headers=headers), 400)


def test_a_rep_sees_no_duplicates_of_another_reps_contacts(client, rworlds):
    email = f"hidden-{secrets.token_hex(3)}@merge.example"
    theirs = [add_contact(rworlds.home, rworlds.users["other_rep"], "Same", "Person") for _ in range(2)]
    with unit_of_work(rworlds.home.admin) as session:
        from core.models import Contact

        for contact_id in theirs:
            session.get(Contact, contact_id).email = email  # type: ignore[union-attr]
    pairs = assert_success(client.get(f"{API}/contacts/duplicates", headers=rworlds.headers["rep"]))
    assert not {str(i) for i in theirs} & {r["id"] for p in pairs for r in p["records"]}
    resp = client.get(f"{API}/contacts/{theirs[0]}/duplicates", headers=rworlds.headers["rep"])
    assert_error(resp, 404, "NOT_FOUND")


def test_merge_then_unmerge_contacts(client, rworlds):
    admin, headers = rworlds.home.admin, rworlds.headers["admin"]
    survivor = add_contact(rworlds.home, rworlds.users["rep"], "Alan", "Turing")
    other = add_contact(rworlds.home, rworlds.users["rep"], "Alan", "Turring")
    with unit_of_work(admin) as session:
        call = activities.create(session, admin, ActivityCreate(type="call", subject="Enigma", contact_id=other)).id
        note = notes.create(session, admin, "contacts", other, NoteCreate(body="Bletchley")).id
    resp = client.post(f"{API}/contacts/{survivor}/merge", json={"otherId": str(other)}, headers=headers)
    result = assert_success(resp)
    assert result["survivor"]["id"] == str(survivor) and result["mergedId"] == str(other)
    assert result["moved"]["activities"] == 1 and result["moved"]["notes"] == 1
    assert owner_rows("SELECT contact_id FROM activities WHERE id = :i", i=call) == [(survivor,)]
    assert_error(client.get(f"{API}/contacts/{other}", headers=headers), 404)
    assert_error(client.post(f"{API}/contacts/{survivor}/merge", json={"otherId": str(other)}, headers=headers), 404)

    undone = assert_success(client.post(f"{API}/contacts/{other}/unmerge", headers=headers))
    assert undone["restored"]["id"] == str(other) and undone["movedBack"]["activities"] == 1
    assert owner_rows("SELECT contact_id FROM activities WHERE id = :i", i=call) == [(other,)]
    assert owner_rows("SELECT entity_id FROM notes WHERE id = :i", i=note) == [(other,)]
    assert_success(client.get(f"{API}/contacts/{other}", headers=headers))
    assert_error(client.post(f"{API}/contacts/{other}/unmerge", headers=headers), 404)


def test_merge_then_unmerge_accounts(client, rworlds):
    headers = rworlds.headers["admin"]
    survivor = add_account(rworlds.home, rworlds.users["rep"], "Globex")
    other = add_account(rworlds.home, rworlds.users["rep"], "Globex Corp")
    person = add_contact(rworlds.home, rworlds.users["rep"], "Hank", "Scorpio")
    resp = client.patch(f"{API}/contacts/{person}", json={"accountId": str(other)}, headers=headers)
    assert_success(resp)
    result = assert_success(
        client.post(f"{API}/accounts/{survivor}/merge", json={"otherId": str(other)}, headers=headers)
    )
    assert result["moved"]["contacts"] == 1
    assert_success(client.post(f"{API}/accounts/{other}/unmerge", headers=headers))
    assert owner_rows("SELECT account_id FROM contacts WHERE id = :i", i=person) == [(other,)]


@pytest.mark.parametrize(
    "body",
    [None, {}, {"otherId": "nope"}, {"otherId": "SELF"}, {"otherId": "{contact}", "extra": 1}],
)
def test_bad_merge_input_is_400_and_changes_nothing(client, rworlds, body):
    contact_id = add_contact(rworlds.home, rworlds.users["rep"], "Bad", "Input")
    if body is not None:
        body = {
            k: (str(contact_id) if v == "SELF" else str(rworlds.ids["contact"]) if v == "{contact}" else v)
            for k, v in body.items()
        }
    before = owner_count("events", rworlds.home.tenant_id)
    resp = client.post(f"{API}/contacts/{contact_id}/merge", json=body, headers=rworlds.headers["admin"])
    assert_error(resp, 400, "VALIDATION_ERROR")
    assert owner_count("events", rworlds.home.tenant_id) == before
